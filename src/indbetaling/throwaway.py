"""Throwaway PostgreSQL and RabbitMQ for tests and benchmarks: private instances in temporary
folders on free loopback ports, removed again afterwards.

- `postgres()`: a fresh cluster made with Debian's initdb/pg_ctl (run as the postgres user when
  started by root, since initdb refuses root); yields its admin URL, or None without the programs.
- `rabbitmq()`: a fresh node of Debian's rabbitmq-server with its own Erlang port mapper; yields
  its URL, or None without the programs. `RabbitNode` is that node, which tests also stop and
  start again as a broker restart.

`scripts/with_services.py` runs a command with them; `indbetaling bench` starts them when no
URLs are configured. Both are for development machines and CI, never for production.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN_DIRS = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14")]


def log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_pg_bin() -> Path | None:
    for d in PG_BIN_DIRS:
        if (d / "initdb").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def as_service_user(user: str) -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", user, "--"]


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    bindir = find_pg_bin()
    if bindir is None:
        log("PostgreSQL programs not found; PostgreSQL tests will not run")
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="indbetaling-pg-"))
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        shutil.chown(root, user=user)
    data, port = root / "data", free_port()
    run_as = as_service_user(user)
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C.UTF-8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    opts = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-o",
            opts,
            "-w",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    log(f"PostgreSQL on {url}")
    try:
        yield url
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)


def rabbitmq_env(root: Path, port: int, epmd_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_NODENAME": f"indbetaling-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
        "RABBITMQ_LOG_BASE": str(root / "log"),
        "RABBITMQ_PID_FILE": str(root / "rabbit.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(root / "advanced.config"),
        "HOME": str(root),
    }


RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
RABBITMQ_CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
EPMD = "epmd"


class RabbitNode:
    """A private RabbitMQ node in `root` on loopback `port`; it can be stopped and started again
    as the same node (same name, same mnesia directory), as a broker restart in production.
    Its Erlang port mapper (epmd) is its own too, on a port of its own, so `close` leaves
    nothing running."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.epmd_port = free_port()
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq.conf").write_text("loopback_users = none\n")
        # The node and its CLI share this cookie from the start; left to themselves, the CLI
        # may make one of its own before the starting node has written its, and the node then
        # refuses it ("Invalid challenge reply") until the wait times out.
        cookie = root / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20))
            cookie.chmod(0o400)
        self.env = rabbitmq_env(root, port, self.epmd_port)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [str(RABBITMQ_CTL), *args],
            env=self.env,
            check=check,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=None if check else subprocess.DEVNULL,
        )

    def start(self) -> None:
        """Start the node and return once it accepts connections."""
        subprocess.run([str(RABBITMQ_SERVER), "-detached"], env=self.env, check=True, cwd=self.root)
        self._ctl("wait", "--timeout", "120", self.env["RABBITMQ_PID_FILE"])
        self._ctl("await_startup", "--timeout", "120")

    def stop(self, *, check: bool = True) -> None:
        """Stop the node (the Erlang VM exits); its durable queues stay in the mnesia dir."""
        self._ctl("shutdown", check=check)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the node for good, and its port mapper with it."""
        self.stop(check=False)
        subprocess.run(
            [EPMD, "-port", str(self.epmd_port), "-kill"],
            env=self.env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@contextlib.contextmanager
def rabbitmq() -> Iterator[str | None]:
    if not RABBITMQ_SERVER.exists():
        log("rabbitmq-server not found; RabbitMQ tests will not run")
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="indbetaling-rmq-"))
    node = RabbitNode(root, free_port())
    node.start()
    log(f"RabbitMQ on {node.url} (epmd on port {node.epmd_port})")
    try:
        yield node.url
    finally:
        node.close()
        shutil.rmtree(root, ignore_errors=True)

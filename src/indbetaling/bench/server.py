"""`indbetaling run` as a process of its own, the way a user starts it, for the bench to load:
on the embedded default (SQLite files in its data folder) or with every part on a fresh
PostgreSQL database (INDBETALING_<PART>_DATABASE_URL), optionally with RabbitMQ."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from indbetaling.demo_plan import make_plan
from indbetaling.settings import PARTS, Part
from indbetaling.throwaway import free_port


def fresh_database(admin_url: str, name: str) -> str:
    """A new, empty PostgreSQL database `name` (dropped first if it exists); its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Server:
    """One `indbetaling run` process; `start` launches it, `ready` waits for its demo.json."""

    name: str
    data_dir: Path
    claims: int
    postgres_admin_url: str | None = None
    amqp_url: str | None = None
    port: int = field(default_factory=free_port)
    database_urls: dict[Part, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    demo: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        db = "PostgreSQL" if self.postgres_admin_url else "SQLite"
        return f"{db} + RabbitMQ" if self.amqp_url else db

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INDBETALING_")}
        env["INDBETALING_DEMO_CLAIMS"] = str(self.claims)
        if self.postgres_admin_url:
            for part in PARTS:
                url = fresh_database(self.postgres_admin_url, f"bench_{self.name}_{part}")
                self.database_urls[part] = url
                env[f"INDBETALING_{part.upper()}_DATABASE_URL"] = url
        if self.amqp_url:
            env["INDBETALING_AMQP_URL"] = self.amqp_url
        log = (self.data_dir / "run.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "indbetaling.cli",
                "run",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def ready(self, timeout: float = 1800) -> dict[str, Any]:
        """Wait for demo.json (written once the server serves) and return it."""
        path = self.data_dir / "demo.json"
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.proc is None or self.proc.poll() is not None:
                tail = (self.data_dir / "run.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"indbetaling run ({self.name}) stopped:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"indbetaling run ({self.name}) not ready in {timeout:.0f} s")
            time.sleep(0.2)
        self.demo = json.loads(path.read_text())
        return self.demo

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.postgres_admin_url:
            for part in self.database_urls:
                drop_database(self.postgres_admin_url, f"bench_{self.name}_{part}")
            self.database_urls.clear()

    def quiet(self, timeout: float = 30, busy: float = 0.1, interval: float = 0.3) -> None:
        """Wait until the server has finished what earlier calls left it to do in the
        background (relaying and pushing messages): until it uses less than `busy` of a CPU
        over `interval` seconds, or `timeout` passed. So no case inherits another's backlog."""
        if self.proc is None:
            return
        stat = Path(f"/proc/{self.proc.pid}/stat")
        if not stat.exists():
            time.sleep(1)
            return
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        deadline = time.monotonic() + timeout
        before = cpu()
        while time.monotonic() < deadline:
            time.sleep(interval)
            now = cpu()
            if (now - before) / interval < busy:
                return
            before = now

    def database_url(self, part: Part) -> str:
        if part in self.database_urls:
            return self.database_urls[part]
        return f"sqlite:///{(self.data_dir / f'{part}.sqlite').as_posix()}"

    # --- what a client of this server needs --------------------------------------------------

    @property
    def cvr(self) -> str:
        """The first authority: every demo fagsystem's first one."""
        return str(self.demo["authorities"][0]["cvr"])

    @property
    def fagsystem(self) -> dict[str, Any]:
        """The first demo fagsystem, which has agreements with every authority."""
        first: dict[str, Any] = self.demo["fagsystemer"][0]
        return first

    def org_unit(self) -> str:
        """An ORG unit of the first fagsystem's sortiment at the first authority."""
        plan = make_plan(1590, self.claims)
        fagsystem = next(f for f in plan.fagsystems if str(f.id) == self.fagsystem["id"])
        return str(fagsystem.org_units[self.cvr][0])

    def token(self, entity_id: str, *, client: dict[str, Any] | None = None) -> str:
        """An access token of the first fagsystem (or `client`) for the first authority."""
        who = client or self.fagsystem
        answer = httpx.post(
            f"{self.base_url}/sts/token",
            data={
                "grant_type": "client_credentials",
                "client_id": who["client_id"],
                "client_secret": who["client_secret"],
                "scope": f"entityid:{entity_id},anvenderkontekst:{self.cvr}",
            },
            timeout=60,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

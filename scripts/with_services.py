#!/usr/bin/env python3
"""Run a command with the throwaway services the test suite needs.

Usage: python scripts/with_services.py -- pytest ...

For each service whose URL is not already set in the environment, start a private instance in a
temporary folder on a free loopback port, export its URL, run the command and tear the instance
down afterwards, whatever the command's outcome:

- PostgreSQL (INDBETALING_TEST_POSTGRES_URL): a fresh cluster made with Debian's initdb/pg_ctl,
  run as the postgres user when started by root (initdb refuses root).
- RabbitMQ (INDBETALING_TEST_AMQP_URL): a fresh node of Debian's rabbitmq-server.

A service whose programs are missing is left unset; the tests that need it then skip, or fail
when CI=true. INDBETALING_TEST_SERVICES chooses which to start: "all" (the default), "none" (the
fast tier, `pytest -m "not slow"`, needs neither) or a list such as "postgres,rabbitmq". The
command's exit code is passed on. The services themselves are `indbetaling.throwaway`'s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from indbetaling.throwaway import log, postgres, rabbitmq

SERVICES = ("postgres", "rabbitmq")


def wanted_services() -> set[str]:
    value = os.environ.get("INDBETALING_TEST_SERVICES", "all").strip().lower()
    if value in {"all", ""}:
        return set(SERVICES)
    names = {name.strip() for name in value.split(",")} - {"none", ""}
    unknown = names - set(SERVICES)
    if unknown:
        raise SystemExit(f"INDBETALING_TEST_SERVICES: unknown {sorted(unknown)}; know {SERVICES}")
    return names


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    wanted = wanted_services()
    with contextlib.ExitStack() as stack:
        if "postgres" in wanted and not os.environ.get("INDBETALING_TEST_POSTGRES_URL"):
            url = stack.enter_context(postgres())
            if url:
                os.environ["INDBETALING_TEST_POSTGRES_URL"] = url
        if "rabbitmq" in wanted and not os.environ.get("INDBETALING_TEST_AMQP_URL"):
            url = stack.enter_context(rabbitmq())
            if url:
                os.environ["INDBETALING_TEST_AMQP_URL"] = url
        proc = subprocess.Popen(argv)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()
    return 1


if __name__ == "__main__":
    started = time.monotonic()
    code = main(sys.argv[1:])
    log(f"done in {time.monotonic() - started:.0f}s, exit {code}")
    sys.exit(code)

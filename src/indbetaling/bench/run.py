"""`indbetaling bench`: start what is needed, measure each section in turn, print the table.

PostgreSQL and RabbitMQ come from the given admin URLs, or are started as throwaway instances
(`indbetaling.throwaway`) and removed afterwards; every `indbetaling run` server gets fresh
databases of its own. The order keeps measurements apart: the bulk load first with nothing else
running, then three servers (SQLite; PostgreSQL; PostgreSQL with RabbitMQ) started together and
measured one at a time, then a server per larger search size.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from indbetaling.bench import bulk, messages, payments, search
from indbetaling.bench.limits import PgbenchLimit, SqliteLimit
from indbetaling.bench.report import Report
from indbetaling.bench.server import Server, drop_database, fresh_database
from indbetaling.throwaway import postgres, rabbitmq


@dataclass(frozen=True)
class Plan:
    """How much of everything: `QUICK` (under two minutes on two cores) or `FULL`."""

    clients: tuple[int, ...]
    seconds: float
    """Measured seconds of each payment case (after `warmup`)."""
    warmup: float
    spread_claims: int
    payment_claims: int
    """Demo claims of the PostgreSQL payments server."""
    search_sizes: tuple[int, ...]
    """Claims of the servers searched; the first is also the SQLite payments server."""
    searches: int
    messages: int
    values: int
    """Values in the filter's value list."""
    change_payments: int
    bulk_claims: int


QUICK = Plan(
    clients=(1, 8),
    seconds=1,
    warmup=0.5,
    spread_claims=60,
    payment_claims=2_000,
    search_sizes=(2_000, 10_000),
    searches=20,
    messages=60,
    values=10_000,
    change_payments=10,
    bulk_claims=10_000,
)
FULL = Plan(
    clients=(1, 8, 32),
    seconds=10,
    warmup=2,
    spread_claims=500,
    payment_claims=10_000,
    search_sizes=(10_000, 100_000, 1_000_000),
    searches=100,
    messages=1_000,
    values=1_000_000,
    change_payments=200,
    bulk_claims=100_000,
)
MESSAGES_SERVER_CLAIMS = 600
EARLY_START = 20_000
"""Search servers up to this many claims start together with the others (their load is short);
larger ones start when their turn comes, so that their load disturbs no measurement."""

Step = Callable[[str], None]


def run_bench(
    *,
    quick: bool,
    json_path: Path | None,
    postgres_url: str | None,
    amqp_url: str | None,
    console: Console,
) -> Report:
    plan = QUICK if quick else FULL
    report = Report(quick=quick)
    started = time.monotonic()
    report.info = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()),
            "python": platform.python_version(),
        },
        "plan": asdict(plan),
    }

    def step(text: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f} s[/] {text}")

    with contextlib.ExitStack() as stack:
        admin_url, broker_url = _services(stack, postgres_url, amqp_url, step)
        folder = Path(tempfile.mkdtemp(prefix="indbetaling-bench-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        _measure(
            report,
            plan,
            stack=stack,
            folder=folder,
            admin_url=admin_url,
            amqp_url=broker_url,
            step=step,
        )

    elapsed = time.monotonic() - started
    report.info["duration_s"] = round(elapsed, 1)
    report.notes.append(
        f"{'quick' if quick else 'full'} run in {elapsed:.0f} s on {os.cpu_count()} CPUs; "
        "ratios are measured ÷ limit for rates and limit ÷ measured for latencies."
    )
    report.print(console)
    if json_path is not None:
        report.write_json(json_path)
        console.print(f"  figures as JSON: {json_path}")
    return report


def _services(
    stack: contextlib.ExitStack, postgres_url: str | None, amqp_url: str | None, step: Step
) -> tuple[str, str]:
    """The given PostgreSQL and RabbitMQ, or throwaway ones removed when `stack` closes."""
    if not postgres_url:
        step("starting a throwaway PostgreSQL")
        postgres_url = stack.enter_context(postgres())
    if not amqp_url:
        step("starting a throwaway RabbitMQ")
        amqp_url = stack.enter_context(rabbitmq())
    if not postgres_url or not amqp_url:
        raise RuntimeError(
            "the bench needs PostgreSQL and RabbitMQ: install Debian's postgresql and "
            "rabbitmq-server, or give --postgres-url and --amqp-url"
        )
    return postgres_url, amqp_url


def _measure(
    report: Report,
    plan: Plan,
    *,
    stack: contextlib.ExitStack,
    folder: Path,
    admin_url: str,
    amqp_url: str,
    step: Step,
) -> None:
    step(f"bulk: demo load of {plan.bulk_claims:,} claims on SQLite and PostgreSQL")
    bulk.measure(report, folder / "bulk", admin_url, claims=plan.bulk_claims)

    lite = Server("sqlite", folder / "sqlite", plan.search_sizes[0])
    pg = Server("pg", folder / "pg", plan.payment_claims, postgres_admin_url=admin_url)
    rabbit = Server(
        "rabbit",
        folder / "rabbit",
        MESSAGES_SERVER_CLAIMS,
        postgres_admin_url=admin_url,
        amqp_url=amqp_url,
    )
    searched = {
        size: Server(f"search{size}", folder / f"search-{size}", size)
        for size in plan.search_sizes[1:]
    }
    early = [s for s in searched.values() if s.claims <= EARLY_START]
    step("starting indbetaling run: SQLite, PostgreSQL, PostgreSQL + RabbitMQ")
    for server in (lite, pg, rabbit, *early):
        server.start()
        stack.callback(server.stop)
    for server in (lite, pg, rabbit, *early):
        server.ready()

    step(f"search: {lite.claims:,} claims")
    search.measure_search(report, lite, requests=plan.searches)
    search.measure_walk(report, lite)

    step("payments on PostgreSQL, and pgbench")
    limit_url = fresh_database(admin_url, "bench_limit")
    try:
        payments.measure(
            report,
            pg,
            lambda n: PgbenchLimit(limit_url, n, folder / "pgbench"),
            "pgbench",
            clients=plan.clients,
            seconds=plan.seconds,
            warmup=plan.warmup,
            spread_claims=plan.spread_claims,
        )
    finally:
        drop_database(admin_url, "bench_limit")
    step("payments on SQLite, and the same SQL in sqlite3")
    payments.measure(
        report,
        lite,
        lambda n: SqliteLimit(folder / "limit", n),
        "sqlite3",
        clients=plan.clients,
        seconds=plan.seconds,
        warmup=plan.warmup,
        spread_claims=plan.spread_claims,
    )
    lite.stop()

    for server in (pg, rabbit):
        step(f"messages on {server.label}")
        messages.measure(
            report,
            server,
            admin_url,
            messages=plan.messages,
            values=plan.values,
            payments=plan.change_payments,
        )
        server.stop()

    for size, server in searched.items():
        if server not in early:
            step(f"starting indbetaling run with {size:,} claims")
            server.start()
            stack.callback(server.stop)
            server.ready()
        step(f"search: {size:,} claims")
        search.measure_search(report, server, requests=plan.searches)
        search.measure_walk(report, server)
        server.stop()

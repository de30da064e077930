#!/usr/bin/env python3
"""Measure ForetagIndbetaling through the debitorsystem's service: payments/s on SQLite and, when
INDBETALING_TEST_POSTGRES_URL is set (e.g. under scripts/with_services.py), on PostgreSQL.

Usage: python scripts/bench_payments.py [--payments 2000] [--threads 1,4]
                                       [--sqlite-synchronous FULL,NORMAL]

Each payment is one idempotent transaction: claim the TransactionUUID, lock the claim, load its
ledger, check R1-R3 and R10, insert the coverage and the claim's message, store the answer. The
baseline, measured in the same run on the same engine, is one transaction per payment that
inserts a single row into a one-table database: what any durable per-payment write costs. The
ratio says how many baseline transactions one payment costs. SQLite is measured with each
`synchronous` setting asked for (FULL, the default, syncs every commit; NORMAL does not), the
baseline with the same setting.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, Integer, MetaData, String, create_engine, text
from sqlalchemy import Table as SaTable
from sqlalchemy.engine import make_url

from indbetaling.db import SqliteSync, make_engine, migrate, write
from indbetaling.debitorsystem.service import DebitorService, NewClaim, PaymentRequest
from indbetaling.fordring import LiableParty

CVR = "29189846"
PART = "urn:oio:cpr-nr:3101801234"
ACCOUNT_TYPE = "KONTO.BORGER"
CLAIM_TYPE = "KRAV.DAGTILBUD"


def fresh_postgres(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def run_threads(total: int, threads: int, task: Callable[[int], None]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(task, range(total)))
    return total / (time.perf_counter() - started)


def baseline(url: str, total: int, threads: int, sync: SqliteSync) -> float:
    engine = make_engine(url, sqlite_synchronous=sync)
    meta = MetaData()
    table = SaTable(
        "bench_rows", meta, Column("id", Integer, primary_key=True), Column("v", String(40))
    )
    meta.create_all(engine)

    def insert(i: int) -> None:
        with write(engine) as conn:
            conn.execute(table.insert().values(id=i, v="x"))

    rate = run_threads(total, threads, insert)
    engine.dispose()
    return rate


def payments(url: str, total: int, threads: int, sync: SqliteSync) -> float:
    engine = make_engine(url, sqlite_synchronous=sync)
    migrate(engine, "debitorsystem")
    service = DebitorService(
        engine, system_id=uuid.uuid4(), clock=lambda: datetime(2026, 11, 26, 10, tzinfo=UTC)
    )
    service.create_authority(CVR, "Benchrup Kommune")
    fagsystem, org_unit = uuid.uuid4(), uuid.uuid4()
    service.register_fagsystem(
        fagsystem, "Bench", {CVR: [org_unit]}, types={CVR: [ACCOUNT_TYPE, CLAIM_TYPE]}
    )
    account = service.create_account(CVR, ACCOUNT_TYPE)
    claims = [
        service.create_claim(
            CVR,
            NewClaim(
                account,
                CLAIM_TYPE,
                10_000_000,
                date(2026, 12, 1),
                date(2026, 12, 10),
                (LiableParty(PART, "PRIMAER"),),
            ),
        ).claim.id
        for _ in range(max(1, total // 20))
    ]

    def pay(i: int) -> None:
        request = PaymentRequest(
            uuid.uuid4(), claims[i % len(claims)], "10.00", date(2026, 11, 26), PART, org_unit, None
        )
        service.pay(fagsystem, CVR, str(uuid.uuid4()), request)

    rate = run_threads(total, threads, pay)
    engine.dispose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--threads", default="1,4")
    parser.add_argument("--sqlite-synchronous", default="FULL,NORMAL")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    syncs: list[SqliteSync] = [
        "FULL" if s.strip().upper() == "FULL" else "NORMAL"
        for s in args.sqlite_synchronous.split(",")
    ]
    table = Table(title=f"ForetagIndbetaling, {args.payments} payments per row")
    for column in ("engine", "threads", "payments/s", "baseline tx/s", "baseline ÷ payment"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        engines: list[tuple[str, SqliteSync, Callable[[str], str]]] = [
            (f"sqlite {sync}", sync, lambda name: f"sqlite:///{Path(tmp) / name}.sqlite")
            for sync in syncs
        ]
        pg = os.environ.get("INDBETALING_TEST_POSTGRES_URL")
        if pg:
            engines.append(("postgresql", "FULL", lambda name: fresh_postgres(pg, name)))
        for label, sync, url_for in engines:
            for threads in thread_counts:
                tag = f"{label.replace(' ', '_')}_{threads}"
                base = baseline(url_for(f"base_{tag}"), args.payments, threads, sync)
                rate = payments(url_for(f"pay_{tag}"), args.payments, threads, sync)
                table.add_row(
                    label, str(threads), f"{rate:,.0f}", f"{base:,.0f}", f"{base / rate:.1f}"
                )
    Console().print(table)


if __name__ == "__main__":
    main()

"""Bulk: the demo data load (`indbetaling demo`) into a fresh, migrated debitorsystem database,
claims/s, beside the fastest plain load of as many minimal rows (an integer key and a short
text) into a one-table database on the same engine: executemany in transactions of 10,000."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

from indbetaling.bench.report import Report, rate_text
from indbetaling.bench.server import drop_database, fresh_database
from indbetaling.db import make_engine, migrate
from indbetaling.debitorsystem import demo

BATCH = 10_000


def _demo_load(url: str, claims: int) -> tuple[float, int]:
    engine = make_engine(url)
    try:
        migrate(engine, "debitorsystem")
        plan = demo.make_plan(1590, claims, today=date(2026, 11, 26))
        summary = demo.generate(engine, plan)
        return summary.claims_per_second, sum(summary.rows.values())
    finally:
        engine.dispose()


def _sqlite_baseline(path: Path, rows: int) -> float:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        started = time.perf_counter()
        for start in range(0, rows, BATCH):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO t VALUES (?, ?)",
                ((i, "x") for i in range(start, min(start + BATCH, rows))),
            )
            conn.execute("COMMIT")
        return rows / (time.perf_counter() - started)


def _postgres_baseline(url: str, rows: int) -> float:
    engine = create_engine(url)
    meta = MetaData()
    table = Table("t", meta, Column("id", Integer, primary_key=True), Column("v", String(10)))
    try:
        meta.create_all(engine)
        started = time.perf_counter()
        for start in range(0, rows, BATCH):
            with engine.begin() as conn:
                conn.execute(
                    table.insert(),
                    [{"id": i, "v": "x"} for i in range(start, min(start + BATCH, rows))],
                )
        return rows / (time.perf_counter() - started)
    finally:
        engine.dispose()


def measure(report: Report, folder: Path, admin_url: str, *, claims: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def url_for(label: str, name: str) -> str:
        if label == "SQLite":
            return f"sqlite:///{(folder / f'{name}.sqlite').as_posix()}"
        return fresh_database(admin_url, f"bench_bulk_{name}")

    for label in ("SQLite", "PostgreSQL"):
        rate, rows = _demo_load(url_for(label, "demo"), claims)
        if label == "SQLite":
            limit = _sqlite_baseline(folder / "baseline.sqlite", claims)
        else:
            limit = _postgres_baseline(url_for(label, "baseline"), claims)
            drop_database(admin_url, "bench_bulk_demo")
            drop_database(admin_url, "bench_bulk_baseline")
        report.add(
            "bulk",
            f"{label}: demo load of {claims:,} claims ({rows:,} rows)",
            rate_text(rate, " claims/s"),
            f"plain rows {rate_text(limit, ' rows/s')}",
            rate / limit if limit else None,
            database=label,
            claims=claims,
            rows=rows,
            claims_per_s=rate,
            limit_rows_per_s=limit,
        )

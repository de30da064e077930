#!/usr/bin/env python3
"""Measure the demo data bulk load into SQLite: claims/s at several sizes, against a baseline.

Usage: python scripts/bench_demo.py [--sizes 10000,100000] [--million] [--seed 1590]
                                     [--workers N]

The baseline, measured in the same run on the same disk, is a plain executemany of the same
number of minimal rows (an integer key and a short text) into a one-table SQLite database, in
transactions of 10,000 rows: about the fastest any loader can put rows into SQLite from Python.
Wall-clock rates depend on what else the machine runs, so the CPU time is shown beside them:
this process's and its worker processes' together (the CPU rate is claims per CPU second, so it
says what one core would do, not what the load does on several).
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from indbetaling.db import make_engine, migrate
from indbetaling.debitorsystem import demo


def baseline(path: Path, rows: int) -> tuple[float, float]:
    """Rows/s (wall, CPU) of a plain executemany of minimal rows into a one-table database."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, rows, 10_000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO t VALUES (?, ?)",
            ((i, "x") for i in range(start, min(start + 10_000, rows))),
        )
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return rows / wall, rows / cpu


def cpu_time() -> float:
    """CPU seconds of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load(
    path: Path, claims: int, seed: int, workers: int | None
) -> tuple[float, float, demo.DemoSummary]:
    """Claims/s (wall, CPU) of the demo bulk load into a fresh, migrated database."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, "debitorsystem")
    plan = demo.make_plan(seed, claims, today=date(2026, 11, 26))
    cpu = cpu_time()
    summary = demo.generate(engine, plan, workers=workers)
    cpu = cpu_time() - cpu
    engine.dispose()
    return summary.claims_per_second, claims / cpu, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="claim counts, comma-separated")
    parser.add_argument("--million", action="store_true", help="also load 1,000,000 claims")
    parser.add_argument("--seed", type=int, default=1590)
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: the loader's choice)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.million:
        sizes.append(1_000_000)
    console = Console()
    table = Table(title="Demo data bulk load into SQLite")
    for name in (
        "claims",
        "rows",
        "claims/s",
        "claims/s (CPU)",
        "baseline rows/s",
        "claims/s ÷ baseline",
        "CPU ratio",
    ):
        table.add_column(name, justify="right")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        for n in sizes:
            rate, cpu_rate, summary = load(
                Path(tmp) / f"demo-{n}.sqlite", n, args.seed, args.workers
            )
            base, base_cpu = baseline(Path(tmp) / f"baseline-{n}.sqlite", n)
            table.add_row(
                f"{n:,}",
                f"{sum(summary.rows.values()):,}",
                f"{rate:,.0f}",
                f"{cpu_rate:,.0f}",
                f"{base:,.0f}",
                f"{rate / base:.3f}",
                f"{cpu_rate / base_cpu:.3f}",
            )
            console.print(f"{n:,} claims: {summary.elapsed:.2f} s")
    console.print(table)


if __name__ == "__main__":
    main()

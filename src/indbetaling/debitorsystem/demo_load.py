"""The bulk load of the demo claims into the debitorsystem's database, in one transaction.

Demo data has no history to announce, so the rows are written in bulk, not through the
per-claim use cases, and no outbox messages are written. On SQLite (the embedded default, where
the load must be fast) worker processes draw batches into in-memory databases that this process
copies in, the ids ascend so that every index on them is appended to, and the non-unique indexes
are built once at the end. A load that fails or is killed leaves the empty database it found.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Table

from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.demo_progress import ClaimProgress
from indbetaling.debitorsystem.demo_rows import (
    COLUMNS,
    DEMO_TYPES,
    DRAWN_COLUMNS,
    JOINT,
    PRIMARY,
    DemoError,
    Row,
    SampleClaim,
    _Encoder,
    _Generator,
)
from indbetaling.demo_plan import DemoPlan

DEFAULT_BATCH = 10_000

BULK_TABLES = tuple(t.name for t in COLUMNS)


LOAD_CACHE = -8192
"""SQLite's page cache while rows are copied in (KiB): small, so pages go to the file early."""
INDEX_CACHE = -262144
"""SQLite's page cache while the indexes are built (KiB): the sorts run in memory."""


@contextmanager
def _bulk_load(conn: Connection, *, attach: bool) -> Iterator[None]:
    """On SQLite, a rollback journal, no syncs, foreign keys unchecked and a small cache while
    loading; all restored after (WAL included).

    The load is one transaction on a database that holds no claims yet, so a rollback journal
    holds hardly more than the schema pages: it is nearly free, and a load that fails or is
    killed leaves the empty database it found. (In WAL mode every page would be written twice,
    to the log and then to the database.) The generator makes every reference itself; the tests
    read the data back and check it. The small cache (`LOAD_CACHE`) lets SQLite write the
    loaded pages out while the rows still arrive, instead of all of them at the commit; the
    indexes are built with a large one (`INDEX_CACHE`, see `generate`). With `attach`, an
    in-memory schema `demo_part` receives the workers' databases (attaching is not possible
    within the transaction).
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101
    before = {
        name: raw.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("synchronous", "cache_size", "foreign_keys")
    }
    journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute(f"PRAGMA cache_size={LOAD_CACHE}")
    raw.execute("PRAGMA foreign_keys=OFF")
    # Leaving WAL needs the only connection; if another is open, the load stays in WAL.
    raw.execute("PRAGMA journal_mode=DELETE").fetchall()
    if attach:
        raw.execute("ATTACH DATABASE ':memory:' AS demo_part")
    try:
        yield
    finally:
        if attach:
            raw.execute("DETACH DATABASE demo_part")
        raw.execute(f"PRAGMA journal_mode={journal}").fetchall()
        for name, value in before.items():
            raw.execute(f"PRAGMA {name}={int(value)}")


def _sqlite_insert(table: Table, cols: Sequence[str]) -> str:
    values = ", ".join("?" * len(cols))
    return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({values})"  # noqa: S608


CLAIM_COLUMNS = len(COLUMNS[store.claims])


@dataclass(frozen=True)
class _Part:
    """A batch of claims drawn: its rows (in process) or a SQLite database holding them."""

    rows: dict[Table, list[Row]] | None
    database: bytes | None
    counts: Mapping[str, int]
    by_status: Counter[str]
    by_kind: Counter[str]
    samples: list[SampleClaim]


def _part(gen: _Generator, start: int, end: int) -> _Part:
    rows = gen.batch(start, end)
    counts = {t.name: len(r) for t, r in rows.items()}
    claims = rows[store.claims]
    joint = CLAIM_COLUMNS + 1
    counts[store.liable_parties.name] = sum(1 if r[joint] is None else 2 for r in claims)
    return _Part(rows, None, counts, gen.by_status, gen.by_kind, gen.samples)


_worker_generator: dict[int, _Generator] = {}
"""A worker process's generator, by the seed of its plan."""


def _draw_into_database(task: tuple[DemoPlan, int, int]) -> _Part:
    """In a worker process: draw claims start..end-1 into a new in-memory SQLite database.

    Its tables have the demo columns only, no keys or types: the rows are checked when they are
    copied into the real tables, and a table without indexes is the cheapest to fill.
    """
    plan, start, end = task
    gen = _worker_generator.get(plan.seed)
    if gen is None or gen.plan != plan:
        # One per process and plan: it starts every batch afresh, and keeps its encodings.
        gen = _worker_generator[plan.seed] = _Generator(plan, _Encoder(True, plan.today))
    part = _part(gen, start, end)
    assert part.rows is not None  # noqa: S101
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for table, cols in DRAWN_COLUMNS.items():
            db.execute(f"CREATE TABLE {table.name} ({', '.join(cols)})")
        db.execute("BEGIN")
        for table, rows in part.rows.items():
            db.executemany(_sqlite_insert(table, DRAWN_COLUMNS[table]), rows)
        db.execute("COMMIT")
        data = db.serialize()
    finally:
        db.close()
    return _Part(None, data, part.counts, part.by_status, part.by_kind, part.samples)


def _with_parties(drawn: dict[Table, list[Row]]) -> dict[Table, list[Row]]:
    """A drawn batch's rows as the tables take them: the claims' liable parties on their own."""
    claims = drawn[store.claims]
    n = CLAIM_COLUMNS
    parties = [(r[0], r[n], PRIMARY) for r in claims]
    parties += [(r[0], r[n + 1], JOINT) for r in claims if r[n + 1] is not None]
    return {**drawn, store.claims: [r[:n] for r in claims], store.liable_parties: parties}


def _write(conn: Connection, enc: _Encoder, drawn: dict[Table, list[Row]]) -> None:
    rows = _with_parties(drawn)
    for table, cols in COLUMNS.items():
        if not rows[table]:
            continue
        if enc.raw:
            conn.exec_driver_sql(_sqlite_insert(table, cols), rows[table])
        else:
            conn.execute(table.insert(), [dict(zip(cols, r, strict=True)) for r in rows[table]])


def _write_parties(conn: Connection, plan: DemoPlan) -> None:
    if store.holds_claims(conn):
        raise DemoError("the database already holds claims; demo data needs an empty one")
    if any(store.authority_exists(conn, a.cvr) for a in plan.authorities):
        raise DemoError("the database already holds the demo authorities")
    for a in plan.authorities:
        store.insert_authority(conn, a.cvr, a.name)
    for f in plan.fagsystems:
        store.insert_fagsystem(
            conn, f.id, f.name, f.org_units, accepts_reversal_orders=f.accepts_reversal_orders
        )
        store.insert_assortment_types(conn, f.id, dict.fromkeys(f.org_units, DEMO_TYPES))


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop the bulk tables' non-unique indexes of an empty SQLite database; their SQL back.

    Building an index once over the loaded rows (a sort) costs a fraction of keeping it up to
    date row by row. The indexes are recreated from their own SQL in `sqlite_master`, in the
    same transaction, so the schema ends as the migration made it.
    """
    names = ", ".join("?" * len(BULK_TABLES))
    for table in BULK_TABLES:
        if conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is not None:  # noqa: S608
            return []
    query = f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names})"  # noqa: S608
    found = conn.exec_driver_sql(query + " AND sql IS NOT NULL ORDER BY name", BULK_TABLES).all()
    made = []
    for name, sql in found:
        if not sql.upper().startswith("CREATE INDEX"):
            continue
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
        made.append(sql)
    return made


def _merge(conn: Connection, data: bytes) -> None:
    """Copy a worker's rows into the database, within the load's transaction.

    `INSERT … SELECT`s inside SQLite; the coverages get their `seq` here, in the order they were
    drawn, and the liable parties come from the claims' rows.
    """
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101
    raw.deserialize(data, name="demo_part")
    for table, cols in COLUMNS.items():
        names = ", ".join(cols)
        if table is store.liable_parties:
            sources = [
                f"SELECT id, party, '{PRIMARY}' FROM demo_part.claims",  # noqa: S608
                f"SELECT id, joint_party, '{JOINT}' FROM demo_part.claims"  # noqa: S608
                " WHERE joint_party IS NOT NULL",
            ]
        else:
            sources = [f"SELECT {names} FROM demo_part.{table.name}"]  # noqa: S608
        for source in sources:
            conn.exec_driver_sql(f"INSERT INTO main.{table.name} ({names}) {source} ORDER BY rowid")


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork when nothing else runs in this process (fast, and safe then); otherwise spawn."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _worker_count(workers: int | None, plan: DemoPlan, batch_size: int) -> int:
    if workers is not None:
        return max(0, workers)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2 or plan.claims < PARALLEL_FROM or plan.claims < 2 * batch_size:
        return 0
    return min(cpus or 1, MAX_WORKERS)


PARALLEL_FROM = 20_000
"""Fewer claims are drawn in this process: starting workers would cost more than they save."""
MAX_WORKERS = 4


@dataclass
class Loaded:
    """What a load wrote: rows per table, claims per status and kind, the sample claims."""

    counts: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    samples: list[SampleClaim] = field(default_factory=list)

    def add(self, part: _Part) -> None:
        self.counts.update(part.counts)
        self.by_status.update(part.by_status)
        self.by_kind.update(part.by_kind)
        self.samples.extend(part.samples)


def load(
    engine: Engine,
    plan: DemoPlan,
    *,
    batch_size: int,
    workers: int | None,
    progress: ClaimProgress,
) -> Loaded:
    """Write the plan's claims into a migrated, empty debitorsystem database, in one transaction.

    On SQLite with enough claims and CPUs, `workers` processes (default: one per CPU, up to
    four) draw batches of `batch_size` claims into in-memory databases while this process copies
    them in; `workers=0` draws them here. The rows are the same either way.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    loaded = Loaded()
    starts = range(0, plan.claims, batch_size)
    sqlite = engine.dialect.name == "sqlite"
    n_workers = _worker_count(workers, plan, batch_size) if sqlite else 0
    with ExitStack() as stack:
        # Workers start first, before this process opens the database or a progress thread.
        pool = stack.enter_context(_pool_context().Pool(n_workers)) if n_workers else None
        conn = stack.enter_context(engine.connect())
        stack.enter_context(_bulk_load(conn, attach=pool is not None))
        stack.enter_context(conn.begin())
        _write_parties(conn, plan)
        indexes = _drop_secondary_indexes(conn) if sqlite else []
        parts: Iterator[_Part]
        if pool is not None:
            tasks = ((plan, s, s + batch_size) for s in starts)
            parts = pool.imap(_draw_into_database, tasks)
        else:
            gen = _Generator(plan, _Encoder(sqlite, plan.today))
            parts = (_part(gen, s, s + batch_size) for s in starts)
        stack.enter_context(progress)
        enc = _Encoder(sqlite, plan.today)
        done = 0
        for part in parts:
            if part.database is not None:
                _merge(conn, part.database)
            elif part.rows is not None:
                _write(conn, enc, part.rows)
            loaded.add(part)
            done = min(done + batch_size, plan.claims)
            progress.reached(done)
        if indexes:
            conn.exec_driver_sql(f"PRAGMA cache_size={INDEX_CACHE}")
        for sql in indexes:
            conn.exec_driver_sql(sql)
    if sqlite:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA optimize")
            conn.commit()
    return loaded

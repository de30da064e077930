"""Engines and migrations, the same code on SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
`BEGIN IMMEDIATE`, so that writers queue instead of failing on upgrade; a connection made with
`readonly=True` starts a plain deferred transaction so readers never wait for writers.
PostgreSQL uses psycopg 3 at READ COMMITTED; use cases lock the rows they change.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    Select,
    Table,
    create_engine,
    event,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from indbetaling.instants import as_utc

SQLITE_BUSY_TIMEOUT_MS = 60_000
SqliteSync = Literal["FULL", "NORMAL"]
FORBID_ON_EVENT_LOOP_ENV = "INDBETALING_FORBID_DB_ON_EVENT_LOOP"
"""When set (the test suite sets it), a database connection taken on a thread that runs an
asyncio event loop raises `BlockingOnEventLoop`: blocking database work belongs in a thread."""


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""How a part's `MetaData` names its constraints, so its migrations can name them the same."""


class BlockingOnEventLoop(RuntimeError):
    """Blocking database work was started on the event loop's thread."""


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and always read back with its zone (SQLite keeps the
    text without it); a naive time is taken to be UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def arrival_column() -> Column[int]:
    """`seq`: a table's primary key in order of arrival (BIGINT on PostgreSQL, SQLite's own
    INTEGER row id), the stable order of its listings."""
    return Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


def documents_after(
    table: Table,
    *,
    authority_cvr: str | None,
    reference: uuid.UUID | None,
    after_seq: int | None,
    limit: int,
) -> Select[Any]:
    """At most `limit` rows of a table of documents (with `seq`, `authority_cvr`, `reference`)
    of one authority and/or about one payment, in order of arrival after `after_seq`."""
    query = select(table)
    if authority_cvr is not None:
        query = query.where(table.c.authority_cvr == authority_cvr)
    if reference is not None:
        query = query.where(table.c.reference == reference)
    if after_seq is not None:
        query = query.where(table.c.seq > after_seq)
    return query.order_by(table.c.seq).limit(limit)


def insert_or_ignore(conn: Connection, table: Table, **values: Any) -> bool:
    """Insert one row unless it collides with a unique key; True when it was inserted."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    # RETURNING, not rowcount: psycopg reports -1 rows for INSERT ... ON CONFLICT DO NOTHING.
    statement = insert(table).values(**values).on_conflict_do_nothing()
    return conn.execute(statement.returning(literal_column("1"))).first() is not None


def make_engine(url: str, *, sqlite_synchronous: SqliteSync = "FULL", **kwargs: Any) -> Engine:
    """An engine for a part's database; SQLite files and their folder are made when missing.

    SQLite syncs every commit to disk (`FULL`), so what was acknowledged survives a power loss;
    `NORMAL` is faster in WAL mode but may lose the last commits then (never corrupts).
    """
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)  # errors and logs never show CPR numbers
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, sqlite_synchronous, **kwargs)
    else:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
    if os.environ.get(FORBID_ON_EVENT_LOOP_ENV):
        forbid_on_event_loop(engine)
    return engine


def forbid_on_event_loop(engine: Engine) -> None:
    """Make every connection taken on an event loop's thread raise `BlockingOnEventLoop`."""

    @event.listens_for(engine, "engine_connect")
    def _check(_conn: Connection) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop in this thread: blocking is fine here
        raise BlockingOnEventLoop(
            "database work on the event loop's thread; run it with "
            "starlette.concurrency.run_in_threadpool or asyncio.to_thread"
        )


def _sqlite_engine(url: str, synchronous: SqliteSync, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if not parsed.database or parsed.database == ":memory:":
        kwargs.setdefault("poolclass", NullPool)
    else:
        # Keep connections open: closing the last one checkpoints the WAL, at every transaction.
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 24)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: never blocks writers, never takes a write lock on SQLite."""
    with engine.connect() as plain:
        conn = plain.execution_options(readonly=True)
        with conn.begin():
            yield conn


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction, committed when the block ends without an exception."""
    with engine.begin() as conn:
        yield conn


def _alembic_config(part: str) -> Config:
    package_dir = Path(__file__).parent / part
    config = Config()
    config.set_main_option("script_location", str(package_dir / "migrations"))
    config.set_main_option("version_table", f"alembic_version_{part}")
    return config


def migrate(engine: Engine, part: str) -> None:
    """Bring a part's schema to the newest Alembic revision (its own version table)."""
    config = _alembic_config(part)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


class SchemaMismatch(Exception):
    """The database's schema is not the one this version of a part is made for."""


def head_revision(part: str) -> str:
    """The newest revision of a part's migrations: the schema its code is made for."""
    head = ScriptDirectory.from_config(_alembic_config(part)).get_current_head()
    if head is None:  # pragma: no cover - every part has migrations
        raise RuntimeError(f"{part} has no migrations")
    return head


def current_revision(engine: Engine, part: str) -> str | None:
    """The revision a part's database is at, or None when it was never migrated."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": f"alembic_version_{part}"}
        )
        return context.get_current_revision()


def check_schema(engine: Engine, part: str) -> str:
    """The revision of a part's database, when it is the one this code is made for; otherwise
    `SchemaMismatch` saying what it is, what is needed, and what to do."""
    head = head_revision(part)
    current = current_revision(engine, part)
    if current == head:
        return head
    if current is None:
        raise SchemaMismatch(
            f"the {part} database has no schema (no revision); this version needs revision "
            f"{head}: run `indbetaling migrate` for the part first"
        )
    scripts = ScriptDirectory.from_config(_alembic_config(part))
    try:
        known = scripts.get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        raise SchemaMismatch(
            f"the {part} database is at revision {current}, which this version does not know "
            f"(it needs revision {head}); was it migrated by a newer version?"
        )
    raise SchemaMismatch(
        f"the {part} database is at revision {current}, older than revision {head} that this "
        f"version needs: run `indbetaling migrate` for the part first"
    )

"""The transactional outbox: a message is written in the same transaction as the change it tells
of, and a relay publishes it afterwards. No change without its message, no message without its
change; a message is marked published only after the transport confirmed it (at least once).

Any number of relay processes may work on one outbox: each leases what it sends
(`lease_pending`), so a message is sent by one of them at a time; a relay that dies lets its
messages go when their lease runs out, and any relay sends them again. A send that outlives its
lease may be repeated by another relay, which its receiver takes once (at least once)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    or_,
    select,
    update,
)

from indbetaling.db import UtcDateTime


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column(
            "seq",
            BigInteger().with_variant(Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("message_id", String(64), nullable=False, unique=True),
        Column("topic", String(100), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True, index=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("leased_until", UtcDateTime, nullable=True),
    )


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    message_id: str
    topic: str
    payload: bytes


def enqueue(
    conn: Connection, table: Table, *, topic: str, message_id: str, payload: bytes, now: datetime
) -> None:
    conn.execute(
        table.insert().values(
            message_id=message_id, topic=topic, payload=payload, created_at=now, attempts=0
        )
    )


def pending(conn: Connection, table: Table, limit: int = 100) -> list[OutboxMessage]:
    rows = conn.execute(
        select(table.c.seq, table.c.message_id, table.c.topic, table.c.payload)
        .where(table.c.published_at.is_(None))
        .order_by(table.c.seq)
        .limit(limit)
    ).all()
    return [OutboxMessage(r.seq, r.message_id, r.topic, bytes(r.payload)) for r in rows]


def lease_pending(
    conn: Connection,
    table: Table,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int = 100,
    skip: Collection[int] = (),
) -> list[OutboxMessage]:
    """Take up to `limit` unpublished messages that no relay holds (never leased, or the lease
    ran out), oldest first, but those in `skip`, and hold them until `lease_until`. On
    PostgreSQL rows another relay is taking are passed over (`FOR UPDATE SKIP LOCKED`); SQLite
    has one writer at a time. Call it in a write transaction."""
    c = table.c
    query = (
        select(c.seq, c.message_id, c.topic, c.payload)
        .where(c.published_at.is_(None), or_(c.leased_until.is_(None), c.leased_until <= now))
        .order_by(c.seq)
        .limit(limit)
    )
    if skip:
        query = query.where(c.seq.not_in(list(skip)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if rows:
        seqs = [r.seq for r in rows]
        conn.execute(update(table).where(c.seq.in_(seqs)).values(leased_until=lease_until))
    return [OutboxMessage(r.seq, r.message_id, r.topic, bytes(r.payload)) for r in rows]


def hold_until(conn: Connection, table: Table, seqs: list[int], until: datetime | None) -> None:
    """Hold unpublished messages until `until` (a retry's time), or let them go (None)."""
    if seqs:
        conn.execute(
            update(table)
            .where(table.c.seq.in_(seqs), table.c.published_at.is_(None))
            .values(leased_until=until)
        )


def mark_published(conn: Connection, table: Table, seqs: list[int], now: datetime) -> None:
    if seqs:
        conn.execute(update(table).where(table.c.seq.in_(seqs)).values(published_at=now))


Publisher = Callable[[OutboxMessage], None]

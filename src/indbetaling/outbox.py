"""The transactional outbox: a message is written in the same transaction as the change it tells
of, and a relay publishes it afterwards. No change without its message, no message without its
change; a message is marked published only after the transport confirmed it (at least once)."""

from __future__ import annotations

from collections.abc import Callable
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


def mark_published(conn: Connection, table: Table, seqs: list[int], now: datetime) -> None:
    if seqs:
        conn.execute(update(table).where(table.c.seq.in_(seqs)).values(published_at=now))


Publisher = Callable[[OutboxMessage], None]

"""The fagsystem's tables. So far: the messages it has received about payable claims.

`received_messages` is keyed by BeskedId, so a message pushed or pulled twice is stored once
(the receiver's deduplication that turns at-least-once delivery into exactly-once effect).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from indbetaling.besked import Envelope

metadata = MetaData()

received_messages = Table(
    "received_messages",
    metadata,
    Column("besked_id", String(64), primary_key=True),
    Column("message_type", String(64), nullable=False),
    Column("claim_id", String(64), nullable=True, index=True),
    Column("authority_cvr", String(8), nullable=True),
    Column("restance_ore", BigInteger, nullable=True),
    Column("status", String(20), nullable=True),
    Column("last_timely_payment_date", Date, nullable=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def store_received(conn: Connection, envelope: Envelope, now: datetime) -> bool:
    """Keep a received message once; returns False when its BeskedId was already received."""
    claim = envelope.claim
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    result = conn.execute(
        insert(received_messages)
        .values(
            besked_id=envelope.besked_id.lower(),
            message_type=envelope.filter_data.message_type,
            claim_id=None if claim is None else str(claim.claim_id),
            authority_cvr=None if claim is None else claim.authority_cvr,
            restance_ore=None if claim is None else claim.restance,
            status=None if claim is None else claim.status.value,
            last_timely_payment_date=None if claim is None else claim.last_timely_payment_date,
            envelope=envelope.xml,
            received_at=now,
        )
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)


def received_besked_ids(conn: Connection) -> set[str]:
    return set(conn.execute(select(received_messages.c.besked_id)).scalars())

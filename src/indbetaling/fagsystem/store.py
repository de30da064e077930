"""The fagsystem's tables of what it receives: the messages about payable claims and the
reversal orders from debitorsystems (its payments are in `payments_store`, its overview of
claims in `claims_store`; all share `metadata`).

`received_messages` is keyed by BeskedId, so a message pushed or pulled twice is stored once
(the receiver's deduplication that turns at-least-once delivery into exactly-once effect).
`reversal_orders` is keyed by TilbagefoerselsOrdreId for the same reason; an order's state
follows the reversal of its payment (`AFVENTER`, then `UDFOERT` or `AFVIST`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Date,
    Index,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Uuid,
    select,
)

from indbetaling.besked import Envelope
from indbetaling.db import UtcDateTime, insert_or_ignore

metadata = MetaData()

received_messages = Table(
    "received_messages",
    metadata,
    Column("fagsystem_id", String(36), primary_key=True, server_default=""),
    Column("besked_id", String(64), primary_key=True),
    Column("message_type", String(64), nullable=False),
    Column("claim_id", String(64), nullable=True, index=True),
    Column("authority_cvr", String(8), nullable=True),
    Column("restance_ore", BigInteger, nullable=True),
    Column("status", String(20), nullable=True),
    Column("last_timely_payment_date", Date, nullable=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)


reversal_orders = Table(
    "reversal_orders",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("fagsystem_id", Uuid, nullable=False),
    Column("payment_id", Uuid, nullable=False),
    Column("claim_id", Uuid, nullable=False),
    Column("authority_cvr", String(8), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("overcoverage_ore", BigInteger, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("text", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sender_id", Uuid, nullable=False),
    Column("transaction_uuid", Uuid, nullable=False),
    Column("state", String(20), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="ck_reversal_orders_amount_positive"),
    CheckConstraint("overcoverage_ore > 0", name="ck_reversal_orders_overcoverage_positive"),
    Index("ix_reversal_orders_pending", "fagsystem_id", "state", "received_at"),
)


def store_received(
    conn: Connection, envelope: Envelope, now: datetime, fagsystem_id: str = ""
) -> bool:
    """Keep a received message once per fagsystem; False when it had this BeskedId already."""
    claim = envelope.claim
    return insert_or_ignore(
        conn,
        received_messages,
        fagsystem_id=fagsystem_id,
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


def received_besked_ids(conn: Connection, fagsystem_id: str | None = None) -> set[str]:
    query = select(received_messages.c.besked_id)
    if fagsystem_id is not None:
        query = query.where(received_messages.c.fagsystem_id == fagsystem_id)
    return set(conn.execute(query).scalars())


# --- reversal orders received (IndbetalingTilbagefoerOrdreAfsend) ----------------------------

PENDING = "AFVENTER"
"""A received order whose payment the fagsystem has not reversed yet."""


@dataclass(frozen=True)
class ReceivedReversalOrder:
    """A reversal order as the fagsystem received it; amounts in øre."""

    order_id: UUID
    fagsystem_id: UUID
    payment_id: UUID
    claim_id: UUID
    authority_cvr: str
    amount: int
    overcoverage: int
    reason: str
    text: str | None
    created_at: datetime
    sender_id: UUID
    transaction_uuid: UUID
    state: str = PENDING
    received_at: datetime | None = None

    def same_order(self, other: ReceivedReversalOrder) -> bool:
        """The same order's content (what a repeat of it must carry)."""
        fields = ("fagsystem_id", "payment_id", "claim_id", "authority_cvr", "amount")
        more = ("overcoverage", "reason", "text")
        return all(getattr(self, f) == getattr(other, f) for f in (*fields, *more))


def insert_reversal_order(conn: Connection, order: ReceivedReversalOrder, now: datetime) -> bool:
    """Keep an order once; False when its TilbagefoerselsOrdreId was already received."""
    return insert_or_ignore(
        conn,
        reversal_orders,
        order_id=order.order_id,
        fagsystem_id=order.fagsystem_id,
        payment_id=order.payment_id,
        claim_id=order.claim_id,
        authority_cvr=order.authority_cvr,
        amount_ore=order.amount,
        overcoverage_ore=order.overcoverage,
        reason=order.reason,
        text=order.text,
        created_at=order.created_at,
        sender_id=order.sender_id,
        transaction_uuid=order.transaction_uuid,
        state=order.state,
        received_at=now,
    )


def _received_from_row(row: Row[Any]) -> ReceivedReversalOrder:
    return ReceivedReversalOrder(
        order_id=row.order_id,
        fagsystem_id=row.fagsystem_id,
        payment_id=row.payment_id,
        claim_id=row.claim_id,
        authority_cvr=row.authority_cvr,
        amount=row.amount_ore,
        overcoverage=row.overcoverage_ore,
        reason=row.reason,
        text=row.text,
        created_at=row.created_at,
        sender_id=row.sender_id,
        transaction_uuid=row.transaction_uuid,
        state=row.state,
        received_at=row.received_at,
    )


def find_reversal_order(conn: Connection, order_id: UUID) -> ReceivedReversalOrder | None:
    query = select(reversal_orders).where(reversal_orders.c.order_id == order_id)
    row = conn.execute(query).first()
    return None if row is None else _received_from_row(row)


def reversal_orders_in_state(
    conn: Connection, state: str, fagsystem_id: UUID | None = None
) -> list[ReceivedReversalOrder]:
    """Orders in `state`, oldest received first; of one fagsystem, or of all it hosts."""
    query = select(reversal_orders).where(reversal_orders.c.state == state)
    if fagsystem_id is not None:
        query = query.where(reversal_orders.c.fagsystem_id == fagsystem_id)
    query = query.order_by(reversal_orders.c.received_at, reversal_orders.c.order_id)
    return [_received_from_row(r) for r in conn.execute(query)]

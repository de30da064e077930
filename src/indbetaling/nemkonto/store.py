"""NemKonto's table (SQLAlchemy Core) and all its SQL: one row per payment request, keyed by
`BetalingsanmodningId`; `seq` is the order of arrival, the listing's stable order."""

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
    Index,
    MetaData,
    Row,
    String,
    Table,
    Uuid,
    select,
)

from indbetaling.db import (
    NAMING_CONVENTION,
    UtcDateTime,
    arrival_column,
    documents_after,
    insert_or_ignore,
)
from indbetaling.nemkonto.domain import PaymentRequest

metadata = MetaData(naming_convention=NAMING_CONVENTION)

payment_requests = Table(
    "payment_requests",
    metadata,
    arrival_column(),
    Column("id", Uuid, nullable=False, unique=True),
    Column("authority_cvr", String(8), nullable=False),
    Column("part_id", String(40), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("reference", Uuid, nullable=False),
    Column("text", String(200), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="amount_positive"),
    Index("ix_payment_requests_authority", "authority_cvr", "seq"),
    Index("ix_payment_requests_reference", "reference", "seq"),
)


@dataclass(frozen=True)
class StoredRequest:
    seq: int
    request: PaymentRequest
    received_at: datetime


def insert_request(conn: Connection, request: PaymentRequest, now: datetime) -> bool:
    """Store `request` unless its id is taken (then nothing); True when it was stored."""
    return insert_or_ignore(
        conn,
        payment_requests,
        id=request.id,
        authority_cvr=request.authority_cvr,
        part_id=request.part_id,
        amount_ore=request.amount,
        reference=request.reference,
        text=request.text,
        received_at=now,
    )


def load_request(conn: Connection, request_id: UUID) -> StoredRequest | None:
    row = conn.execute(select(payment_requests).where(payment_requests.c.id == request_id)).first()
    return None if row is None else _from_row(row)


def requests_page(
    conn: Connection,
    *,
    authority_cvr: str | None,
    reference: UUID | None,
    after_seq: int | None,
    limit: int,
) -> list[StoredRequest]:
    """Requests of an authority and/or about one payment, in order of arrival after
    `after_seq`."""
    query = documents_after(
        payment_requests,
        authority_cvr=authority_cvr,
        reference=reference,
        after_seq=after_seq,
        limit=limit,
    )
    return [_from_row(r) for r in conn.execute(query)]


def _from_row(row: Row[Any]) -> StoredRequest:
    return StoredRequest(
        seq=row.seq,
        request=PaymentRequest(
            id=row.id,
            authority_cvr=row.authority_cvr,
            part_id=row.part_id,
            amount=row.amount_ore,
            reference=row.reference,
            text=row.text,
        ),
        received_at=row.received_at,
    )

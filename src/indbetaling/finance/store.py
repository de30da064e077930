"""The finance ledger's tables (SQLAlchemy Core) and all its SQL.

A posting is one row keyed by `PosteringId` (unique) with its lines beside it; `seq` gives the
order of arrival, which is the listing's stable order. The database holds the rules too: a line
is never 0, a posting's lines are numbered once.
"""

from __future__ import annotations

from collections import defaultdict
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
    ForeignKey,
    Index,
    Integer,
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
from indbetaling.finance.domain import Line, Posting, PostingType

metadata = MetaData(naming_convention=NAMING_CONVENTION)

postings = Table(
    "postings",
    metadata,
    arrival_column(),
    Column("id", Uuid, nullable=False, unique=True),
    Column("posting_date", Date, nullable=False),
    Column("authority_cvr", String(8), nullable=False),
    Column("reference", Uuid, nullable=False),
    Column("type", String(20), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_postings_authority", "authority_cvr", "seq"),
    Index("ix_postings_reference", "reference", "seq"),
)

posting_lines = Table(
    "posting_lines",
    metadata,
    Column("posting_id", Uuid, ForeignKey("postings.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("account", String(20), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("text", String(200), nullable=False),
    CheckConstraint("amount_ore <> 0", name="amount_not_zero"),
)


@dataclass(frozen=True)
class StoredPosting:
    seq: int
    posting: Posting
    received_at: datetime


def insert_posting(conn: Connection, posting: Posting, now: datetime) -> bool:
    """Store `posting` unless its id is taken (then nothing); True when it was stored."""
    inserted = insert_or_ignore(
        conn,
        postings,
        id=posting.id,
        posting_date=posting.posting_date,
        authority_cvr=posting.authority_cvr,
        reference=posting.reference,
        type=posting.type.value,
        received_at=now,
    )
    if inserted:
        conn.execute(
            posting_lines.insert(),
            [
                {
                    "posting_id": posting.id,
                    "line_no": n,
                    "account": line.account,
                    "amount_ore": line.amount,
                    "text": line.text,
                }
                for n, line in enumerate(posting.lines, start=1)
            ],
        )
    return inserted


def load_posting(conn: Connection, posting_id: UUID) -> StoredPosting | None:
    found = _with_lines(conn, conn.execute(select(postings).where(postings.c.id == posting_id)))
    return found[0] if found else None


def postings_page(
    conn: Connection,
    *,
    authority_cvr: str | None,
    reference: UUID | None,
    after_seq: int | None,
    limit: int,
) -> list[StoredPosting]:
    """Postings of an authority and/or about one payment, in order of arrival after
    `after_seq`."""
    query = documents_after(
        postings,
        authority_cvr=authority_cvr,
        reference=reference,
        after_seq=after_seq,
        limit=limit,
    )
    return _with_lines(conn, conn.execute(query))


def _with_lines(conn: Connection, rows: Any) -> list[StoredPosting]:
    heads: list[Row[Any]] = list(rows)
    if not heads:
        return []
    lines: dict[UUID, list[Line]] = defaultdict(list)
    query = (
        select(posting_lines)
        .where(posting_lines.c.posting_id.in_([h.id for h in heads]))
        .order_by(posting_lines.c.posting_id, posting_lines.c.line_no)
    )
    for line in conn.execute(query):
        lines[line.posting_id].append(Line(line.account, line.amount_ore, line.text))
    return [
        StoredPosting(
            seq=h.seq,
            posting=Posting(
                id=h.id,
                posting_date=h.posting_date,
                authority_cvr=h.authority_cvr,
                reference=h.reference,
                type=PostingType(h.type),
                lines=tuple(lines[h.id]),
            ),
            received_at=h.received_at,
        )
        for h in heads
    ]

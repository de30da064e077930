"""The debitorsystem's tables (SQLAlchemy Core) and its repository.

The database backs the invariants as well: amounts are positive integer øre, an `IndbetalingId`
is unique per owner, a payment has one coverage and at most one reversal, a coverage at most one
reversal order. Restance is never stored; it is derived from the coverages and write-downs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
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
    Select,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from indbetaling.db import NAMING_CONVENTION, UtcDateTime
from indbetaling.debitorsystem.domain import (
    Claim,
    ClaimLedger,
    Coverage,
    CoverageReversal,
    CoverageSource,
    OrderState,
    Payment,
    ReversalOrder,
    ReversalReason,
    WriteDown,
    WriteDownKind,
)
from indbetaling.fordring import LiableParty
from indbetaling.idempotency import idempotency_table
from indbetaling.outbox import outbox_table

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Ore = BigInteger

authorities = Table(
    "authorities",
    metadata,
    Column("cvr", String(8), primary_key=True),
    Column("name", String(200), nullable=False),
    CheckConstraint("length(cvr) = 8", name="cvr_eight_digits"),
)

fagsystems = Table(
    "fagsystems",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("accepts_reversal_orders", Integer, nullable=False, server_default="1"),
)

assortment = Table(
    "assortment",
    metadata,
    Column("fagsystem_id", Uuid, ForeignKey("fagsystems.id"), primary_key=True),
    Column("authority_cvr", String(8), ForeignKey("authorities.cvr"), primary_key=True),
    Column("org_unit_id", Uuid, primary_key=True),
)

assortment_types = Table(
    "assortment_types",
    metadata,
    Column("fagsystem_id", Uuid, ForeignKey("fagsystems.id"), primary_key=True),
    Column("authority_cvr", String(8), ForeignKey("authorities.cvr"), primary_key=True),
    Column("type_code", String(40), primary_key=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("authority_cvr", String(8), ForeignKey("authorities.cvr"), nullable=False),
    Column("type_code", String(40), nullable=False),
    Column("owner_fagsystem_id", Uuid, ForeignKey("fagsystems.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_accounts_authority", "authority_cvr", "id"),
)

claims = Table(
    "claims",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("authority_cvr", String(8), ForeignKey("authorities.cvr"), nullable=False),
    Column("claim_type_code", String(40), nullable=False),
    Column("principal_ore", Ore, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("last_timely_payment_date", Date, nullable=False),
    Column("payment_period_from", Date, nullable=True),
    Column("payment_period_to", Date, nullable=True),
    Column("annulled_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("principal_ore > 0", name="principal_positive"),
    CheckConstraint(
        "payment_period_from IS NULL OR payment_period_to IS NULL "
        "OR payment_period_from <= payment_period_to",
        name="period_ordered",
    ),
    Index("ix_claims_authority", "authority_cvr", "id"),
)

liable_parties = Table(
    "liable_parties",
    metadata,
    Column("claim_id", Uuid, ForeignKey("claims.id"), primary_key=True),
    Column("part_id", String(40), primary_key=True),
    Column("role", String(40), nullable=False),
    Index("ix_liable_parties_part", "part_id", "claim_id"),
)

coverages = Table(
    "coverages",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", Uuid, nullable=False, unique=True),
    Column("claim_id", Uuid, ForeignKey("claims.id"), nullable=False),
    Column("amount_ore", Ore, nullable=False),
    Column("source", String(20), nullable=False),
    Column("owner_id", Uuid, nullable=True),
    Column("payment_id", Uuid, nullable=True),
    Column("payment_date", Date, nullable=True),
    Column("payer_part_id", String(40), nullable=True),
    Column("org_unit_id", Uuid, nullable=True),
    Column("text", String(200), nullable=True),
    Column("restance_after_ore", Ore, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="amount_positive"),
    CheckConstraint(
        "(source = 'INDBETALING' AND owner_id IS NOT NULL AND payment_id IS NOT NULL) OR "
        "(source = 'ANDEN' AND owner_id IS NULL AND payment_id IS NULL)",
        name="payment_has_owner",
    ),
    UniqueConstraint("owner_id", "payment_id", name="uq_coverages_owner_payment"),
    Index("ix_coverages_claim", "claim_id", "seq"),
    Index("ix_coverages_payment", "payment_id"),
)

reversals = Table(
    "reversals",
    metadata,
    Column("coverage_id", Uuid, ForeignKey("coverages.id"), primary_key=True),
    Column("reason", String(30), nullable=False),
    Column("order_id", Uuid, nullable=True),
    Column("text", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("staff_name", String(200), nullable=True),
)

write_downs = Table(
    "write_downs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("claim_id", Uuid, ForeignKey("claims.id"), nullable=False, index=True),
    Column("amount_ore", Ore, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="amount_positive"),
)

reversal_orders = Table(
    "reversal_orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("claim_id", Uuid, ForeignKey("claims.id"), nullable=False, index=True),
    Column("coverage_id", Uuid, ForeignKey("coverages.id"), nullable=False, unique=True),
    Column("payment_id", Uuid, nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("authority_cvr", String(8), nullable=False),
    Column("amount_ore", Ore, nullable=False),
    Column("overcoverage_ore", Ore, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("text", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("closed_by", String(200), nullable=True),
    Column("closed_reason", String(500), nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    CheckConstraint("amount_ore > 0", name="amount_positive"),
    CheckConstraint("overcoverage_ore > 0", name="overcoverage_positive"),
    Index("ix_reversal_orders_state", "state", "next_attempt_at"),
    Index("ix_reversal_orders_authority", "authority_cvr", "created_at"),
)

announced_payability = Table(
    "announced_payability",
    metadata,
    Column("claim_id", Uuid, ForeignKey("claims.id"), primary_key=True),
    # 1 when the claim's last message told of a payable claim, else 0
    Column("payable", Integer, nullable=False),
    Column("announced_at", UtcDateTime, nullable=False),
)

staff_tokens = Table(
    "staff_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("authority_cvr", String(8), ForeignKey("authorities.cvr"), nullable=False),
    Column("name", String(200), nullable=False),
)

idempotency_answers = idempotency_table(metadata)
outbox = outbox_table(metadata)


# --- reading ---------------------------------------------------------------------------------


def _claim_from_row(row: Row[Any], parties: Sequence[LiableParty], account_type: str) -> Claim:
    return Claim(
        id=row.id,
        account_id=row.account_id,
        authority_cvr=row.authority_cvr,
        account_type_code=account_type,
        claim_type_code=row.claim_type_code,
        principal=row.principal_ore,
        due_date=row.due_date,
        last_timely_payment_date=row.last_timely_payment_date,
        payment_period_from=row.payment_period_from,
        payment_period_to=row.payment_period_to,
        liable_parties=tuple(parties),
        annulled=row.annulled_at is not None,
    )


def lock_claim(conn: Connection, claim_id: UUID, authority_cvr: str) -> bool:
    """Take the claim's row lock for this transaction (PostgreSQL); False if it is not there.

    On SQLite the whole database is already locked by the write transaction (BEGIN IMMEDIATE).
    """
    query = select(claims.c.id).where(
        claims.c.id == claim_id, claims.c.authority_cvr == authority_cvr
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first() is not None


_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
# Built once: constructing statements costs more than running them on the payment path.
_CLAIMS_BY_ID = (
    select(claims, accounts.c.type_code)
    .join(accounts, accounts.c.id == claims.c.account_id)
    .where(claims.c.id.in_(_IDS))
)
_PARTIES_BY_CLAIM = (
    select(liable_parties)
    .where(liable_parties.c.claim_id.in_(_IDS))
    .order_by(liable_parties.c.claim_id, liable_parties.c.part_id)
)
_COVERAGE_COLUMNS = (
    coverages,
    reversals.c.coverage_id.label("reversed_id"),
    reversals.c.reason.label("reversal_reason"),
    reversals.c.order_id.label("reversal_order_id"),
    reversals.c.created_at.label("reversed_at"),
)
"""A coverage with its reversal, if any (outer join `reversals`)."""
_COVERAGES_BY_CLAIM = (
    select(*_COVERAGE_COLUMNS)
    .outerjoin(reversals, reversals.c.coverage_id == coverages.c.id)
    .where(coverages.c.claim_id.in_(_IDS))
    .order_by(coverages.c.seq)
)
_WRITE_DOWNS_BY_CLAIM = (
    select(write_downs).where(write_downs.c.claim_id.in_(_IDS)).order_by(write_downs.c.created_at)
)
_ORDERS_BY_CLAIM = (
    select(reversal_orders)
    .where(reversal_orders.c.claim_id.in_(_IDS))
    .order_by(reversal_orders.c.created_at, reversal_orders.c.id)
)


def load_ledgers(conn: Connection, claim_ids: Sequence[UUID]) -> dict[UUID, ClaimLedger]:
    """The ledgers of these claims (all their coverages, write-downs and orders), by claim id."""
    if not claim_ids:
        return {}
    params = {"ids": list(claim_ids)}
    claim_rows = conn.execute(_CLAIMS_BY_ID, params).all()
    parties: dict[UUID, list[LiableParty]] = defaultdict(list)
    for p in conn.execute(_PARTIES_BY_CLAIM, params):
        parties[p.claim_id].append(LiableParty(p.part_id, p.role))
    covs: dict[UUID, list[Coverage]] = defaultdict(list)
    for c in conn.execute(_COVERAGES_BY_CLAIM, params):
        covs[c.claim_id].append(_coverage_from_row(c))
    wds: dict[UUID, list[WriteDown]] = defaultdict(list)
    for w in conn.execute(_WRITE_DOWNS_BY_CLAIM, params):
        wds[w.claim_id].append(
            WriteDown(w.id, w.claim_id, w.amount_ore, WriteDownKind(w.kind), w.text)
        )
    orders: dict[UUID, list[ReversalOrder]] = defaultdict(list)
    for o in conn.execute(_ORDERS_BY_CLAIM, params):
        orders[o.claim_id].append(order_from_row(o))
    return {
        row.id: ClaimLedger(
            claim=_claim_from_row(row, parties[row.id], row.type_code),
            coverages=tuple(covs[row.id]),
            write_downs=tuple(wds[row.id]),
            orders=tuple(orders[row.id]),
        )
        for row in claim_rows
    }


def load_ledger(conn: Connection, claim_id: UUID) -> ClaimLedger | None:
    return load_ledgers(conn, [claim_id]).get(claim_id)


def _coverage_from_row(c: Row[Any]) -> Coverage:
    payment = None
    if c.source == CoverageSource.PAYMENT.value:
        payment = Payment(
            payment_id=c.payment_id,
            claim_id=c.claim_id,
            amount=c.amount_ore,
            payment_date=c.payment_date,
            payer_part_id=c.payer_part_id,
            org_unit_id=c.org_unit_id,
            text=c.text,
        )
    return Coverage(
        id=c.id,
        claim_id=c.claim_id,
        seq=c.seq,
        amount=c.amount_ore,
        source=CoverageSource(c.source),
        owner_id=c.owner_id,
        payment=payment,
        restance_after=c.restance_after_ore,
        reversed=c.reversed_id is not None,
        registered_at=c.created_at,
        reversal=None
        if c.reversed_id is None
        else CoverageReversal(c.reversal_reason, c.reversal_order_id, c.reversed_at),
    )


def order_from_row(o: Row[Any]) -> ReversalOrder:
    return ReversalOrder(
        id=o.id,
        claim_id=o.claim_id,
        coverage_id=o.coverage_id,
        payment_id=o.payment_id,
        owner_id=o.owner_id,
        authority_cvr=o.authority_cvr,
        amount=o.amount_ore,
        overcoverage=o.overcoverage_ore,
        reason=WriteDownKind(o.reason),
        text=o.text,
        created_at=o.created_at,
        state=OrderState(o.state),
        delivery_note=o.last_error,
        closed_by=o.closed_by,
        closed_reason=o.closed_reason,
        closed_at=o.closed_at,
    )


@dataclass(frozen=True)
class PaymentLocation:
    claim_id: UUID
    owner_id: UUID
    authority_cvr: str


def find_payments(conn: Connection, authority_cvr: str, payment_id: UUID) -> list[PaymentLocation]:
    """Every coverage of this authority made by a payment with this IndbetalingId (any owner)."""
    rows = conn.execute(
        select(coverages.c.claim_id, coverages.c.owner_id, claims.c.authority_cvr)
        .join(claims, claims.c.id == coverages.c.claim_id)
        .where(coverages.c.payment_id == payment_id, claims.c.authority_cvr == authority_cvr)
    ).all()
    return [PaymentLocation(r.claim_id, r.owner_id, r.authority_cvr) for r in rows]


def find_owned_payment(
    conn: Connection, owner_id: UUID, payment_id: UUID
) -> PaymentLocation | None:
    """The owner's payment with this IndbetalingId, under whichever authority it was made (an
    IndbetalingId is unique per owner); the caller binds it to the calling authority (R13)."""
    row = conn.execute(
        select(coverages.c.claim_id, coverages.c.owner_id, claims.c.authority_cvr)
        .join(claims, claims.c.id == coverages.c.claim_id)
        .where(coverages.c.owner_id == owner_id, coverages.c.payment_id == payment_id)
    ).first()
    return PaymentLocation(row.claim_id, row.owner_id, row.authority_cvr) if row else None


def org_unit_in_assortment(
    conn: Connection, fagsystem_id: UUID, authority_cvr: str, org_unit_id: UUID
) -> bool:
    return (
        conn.execute(
            select(assortment.c.org_unit_id).where(
                assortment.c.fagsystem_id == fagsystem_id,
                assortment.c.authority_cvr == authority_cvr,
                assortment.c.org_unit_id == org_unit_id,
            )
        ).first()
        is not None
    )


def active_coverage_sum() -> ColumnElement[int]:
    """Correlated: the sum of a claim's coverages that are not reversed."""
    return (
        select(func.coalesce(func.sum(coverages.c.amount_ore), 0))
        .where(
            coverages.c.claim_id == claims.c.id,
            ~exists().where(reversals.c.coverage_id == coverages.c.id),
        )
        .scalar_subquery()
    )


def written_down_sum() -> ColumnElement[int]:
    return (
        select(func.coalesce(func.sum(write_downs.c.amount_ore), 0))
        .where(write_downs.c.claim_id == claims.c.id)
        .scalar_subquery()
    )


def restance_column() -> ColumnElement[int]:
    """A claim's Restance in SQL (`ClaimLedger.restance`): principal less write-downs less
    active coverages."""
    return claims.c.principal_ore - written_down_sum() - active_coverage_sum()


def payable_on(today: date) -> ColumnElement[bool]:
    """`ClaimLedger.is_payable(today)` in SQL: not annulled, Restance > 0 (so AKTIV), and
    `today` within the payment period."""
    return and_(
        claims.c.annulled_at.is_(None),
        or_(claims.c.payment_period_from.is_(None), claims.c.payment_period_from <= today),
        or_(claims.c.payment_period_to.is_(None), claims.c.payment_period_to >= today),
        restance_column() > 0,
    )


@dataclass(frozen=True)
class ClaimQuery:
    authority_cvr: str
    part_id: str | None = None
    account_id: UUID | None = None
    claim_id: UUID | None = None
    account_type_code: str | None = None
    claim_type_code: str | None = None
    fagsystem_id: UUID | None = None
    """The caller: a type filter names a type of its sortiment for the authority, or finds
    nothing (R10). None: no sortiment applies (the debitorsystem's own use)."""


def _in_caller_assortment(query: ClaimQuery, code: str) -> ColumnElement[bool]:
    return exists().where(
        assortment_types.c.fagsystem_id == query.fagsystem_id,
        assortment_types.c.authority_cvr == query.authority_cvr,
        assortment_types.c.type_code == code,
    )


def payable_claim_ids(
    conn: Connection, query: ClaimQuery, *, today: date, after: UUID | None, limit: int
) -> list[UUID]:
    """Ids of the query's payable claims (`is_payable`, as SQL), by id."""
    statement = payable_claims_select(query, today=today, after=after, limit=limit)
    return [r.id for r in conn.execute(statement).all()]


def payable_claims_select(
    query: ClaimQuery, *, today: date, after: UUID | None, limit: int
) -> Select[tuple[UUID]]:
    """The statement of `payable_claim_ids`."""
    conditions: list[ColumnElement[bool]] = [
        claims.c.authority_cvr == query.authority_cvr,
        payable_on(today),
    ]
    if query.claim_id is not None:
        conditions.append(claims.c.id == query.claim_id)
    if query.account_id is not None:
        conditions.append(claims.c.account_id == query.account_id)
    if query.part_id is not None:
        # The party's few claims drive the query (index on part_id), instead of a correlated
        # EXISTS that walks every claim of the authority.
        conditions.append(
            claims.c.id.in_(
                select(liable_parties.c.claim_id).where(liable_parties.c.part_id == query.part_id)
            )
        )
    if query.claim_type_code is not None:
        conditions.append(claims.c.claim_type_code == query.claim_type_code)
        if query.fagsystem_id is not None:
            conditions.append(_in_caller_assortment(query, query.claim_type_code))
    if query.account_type_code is not None:
        conditions.append(
            exists().where(
                and_(
                    accounts.c.id == claims.c.account_id,
                    accounts.c.type_code == query.account_type_code,
                )
            )
        )
        if query.fagsystem_id is not None:
            conditions.append(_in_caller_assortment(query, query.account_type_code))
    if after is not None:
        conditions.append(claims.c.id > after)
    return select(claims.c.id).where(*conditions).order_by(claims.c.id).limit(limit)


def authority_exists(conn: Connection, cvr: str) -> bool:
    return (
        conn.execute(select(authorities.c.cvr).where(authorities.c.cvr == cvr)).first() is not None
    )


def holds_claims(conn: Connection) -> bool:
    return conn.execute(select(claims.c.id).limit(1)).first() is not None


def has_authorities(conn: Connection) -> bool:
    return conn.execute(select(authorities.c.cvr).limit(1)).first() is not None


def fagsystem_exists(conn: Connection, fagsystem_id: UUID) -> bool:
    query = select(fagsystems.c.id).where(fagsystems.c.id == fagsystem_id)
    return conn.execute(query).first() is not None


def account_type(conn: Connection, account_id: UUID, authority_cvr: str) -> str | None:
    """The type code of the authority's account, or None when it has no such account."""
    row = conn.execute(
        select(accounts.c.type_code).where(
            accounts.c.id == account_id, accounts.c.authority_cvr == authority_cvr
        )
    ).first()
    return None if row is None else str(row.type_code)


def staff_token_authority(conn: Connection, token_sha256: str) -> str | None:
    row = conn.execute(
        select(staff_tokens.c.authority_cvr).where(staff_tokens.c.token_sha256 == token_sha256)
    ).first()
    return None if row is None else str(row.authority_cvr)


def authority_orders(
    conn: Connection, authority_cvr: str, state: OrderState | None, limit: int
) -> list[ReversalOrder]:
    """The authority's reversal orders (in one state, if given), newest first."""
    query = select(reversal_orders).where(reversal_orders.c.authority_cvr == authority_cvr)
    if state is not None:
        query = query.where(reversal_orders.c.state == state.value)
    query = query.order_by(reversal_orders.c.created_at.desc()).limit(limit)
    return [order_from_row(r) for r in conn.execute(query)]


def authority_orders_page(
    conn: Connection,
    authority_cvr: str,
    state: OrderState | None,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[ReversalOrder]:
    """A page of the authority's reversal orders (in one state, if given), newest first and by
    id within one instant, so pages never skip or repeat an order; `after` is the last
    (created_at, id) of the previous page."""
    query = select(reversal_orders).where(reversal_orders.c.authority_cvr == authority_cvr)
    if state is not None:
        query = query.where(reversal_orders.c.state == state.value)
    if after is not None:
        created, order_id = after
        query = query.where(
            or_(
                reversal_orders.c.created_at < created,
                and_(reversal_orders.c.created_at == created, reversal_orders.c.id < order_id),
            )
        )
    query = query.order_by(reversal_orders.c.created_at.desc(), reversal_orders.c.id.desc())
    return [order_from_row(r) for r in conn.execute(query.limit(limit))]


def authority_order(
    conn: Connection, authority_cvr: str, order_id: UUID, *, lock: bool = False
) -> ReversalOrder | None:
    """One of the authority's reversal orders (row-locked on PostgreSQL with `lock`)."""
    query = select(reversal_orders).where(
        reversal_orders.c.id == order_id, reversal_orders.c.authority_cvr == authority_cvr
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else order_from_row(row)


def authority_coverages(
    conn: Connection, authority_cvr: str, *, after_seq: int | None, limit: int
) -> list[Coverage]:
    """The authority's coverages of every kind, reversed ones too, in order of arrival (`seq`,
    ascending, after `after_seq`): a stable order in which new coverages come last."""
    query = (
        select(*_COVERAGE_COLUMNS)
        .join(claims, claims.c.id == coverages.c.claim_id)
        .outerjoin(reversals, reversals.c.coverage_id == coverages.c.id)
        .where(claims.c.authority_cvr == authority_cvr)
    )
    if after_seq is not None:
        query = query.where(coverages.c.seq > after_seq)
    query = query.order_by(coverages.c.seq).limit(limit)
    return [_coverage_from_row(r) for r in conn.execute(query)]


def claim_ids_of(
    conn: Connection,
    authority_cvr: str,
    *,
    part_id: str | None = None,
    account_id: UUID | None = None,
    limit: int,
) -> list[UUID]:
    """Ids of the authority's claims (every status) that the party is liable for and/or that
    are on the account, by id; what collections staff look a citizen or an account up by."""
    query = select(claims.c.id).where(claims.c.authority_cvr == authority_cvr)
    if part_id is not None:
        query = query.where(
            claims.c.id.in_(
                select(liable_parties.c.claim_id).where(liable_parties.c.part_id == part_id)
            )
        )
    if account_id is not None:
        query = query.where(claims.c.account_id == account_id)
    return [r.id for r in conn.execute(query.order_by(claims.c.id).limit(limit))]


def overcovered_claim_ids(
    conn: Connection, authority_cvr: str, *, after: UUID | None, limit: int
) -> list[UUID]:
    """Ids (ascending, after `after`) of the authority's claims whose coverages exceed what is
    owed (Restance < 0)."""
    query = select(claims.c.id).where(
        claims.c.authority_cvr == authority_cvr, restance_column() < 0
    )
    if after is not None:
        query = query.where(claims.c.id > after)
    return [r.id for r in conn.execute(query.order_by(claims.c.id).limit(limit))]


# --- writing ---------------------------------------------------------------------------------


def insert_authority(conn: Connection, cvr: str, name: str) -> None:
    conn.execute(authorities.insert().values(cvr=cvr, name=name))


def update_authority(conn: Connection, cvr: str, name: str) -> bool:
    """Rename an authority; False when there is none with that CVR."""
    result = conn.execute(authorities.update().where(authorities.c.cvr == cvr).values(name=name))
    return result.rowcount == 1


def update_fagsystem(
    conn: Connection, fagsystem_id: UUID, name: str, *, accepts_reversal_orders: bool
) -> None:
    conn.execute(
        fagsystems.update()
        .where(fagsystems.c.id == fagsystem_id)
        .values(name=name, accepts_reversal_orders=int(accepts_reversal_orders))
    )


def insert_fagsystem(
    conn: Connection,
    fagsystem_id: UUID,
    name: str,
    org_units: Mapping[str, Sequence[UUID]],
    *,
    accepts_reversal_orders: bool,
) -> None:
    """A fagsystem with its assortment: the ORG units it may pay from, per authority CVR."""
    conn.execute(
        fagsystems.insert().values(
            id=fagsystem_id, name=name, accepts_reversal_orders=int(accepts_reversal_orders)
        )
    )
    rows = [
        {"fagsystem_id": fagsystem_id, "authority_cvr": cvr, "org_unit_id": unit}
        for cvr, units in org_units.items()
        for unit in units
    ]
    if rows:
        conn.execute(assortment.insert(), rows)


def insert_assortment_types(
    conn: Connection, fagsystem_id: UUID, types: Mapping[str, Sequence[str]]
) -> None:
    """Add KLA types to the fagsystem's sortiment, per authority CVR."""
    rows = [
        {"fagsystem_id": fagsystem_id, "authority_cvr": cvr, "type_code": code}
        for cvr, codes in types.items()
        for code in dict.fromkeys(codes)
    ]
    if rows:
        conn.execute(assortment_types.insert(), rows)


def set_assortment(
    conn: Connection,
    fagsystem_id: UUID,
    authority_cvr: str,
    *,
    org_units: Sequence[UUID],
    types: Sequence[str],
) -> None:
    """The fagsystem's sortiment for one authority, replacing what it was: the ORG units it may
    pay from and the KLA types it may use."""
    for table in (assortment, assortment_types):
        conn.execute(
            table.delete().where(
                table.c.fagsystem_id == fagsystem_id, table.c.authority_cvr == authority_cvr
            )
        )
    key = {"fagsystem_id": fagsystem_id, "authority_cvr": authority_cvr}
    if org_units:
        conn.execute(
            assortment.insert(), [{**key, "org_unit_id": u} for u in dict.fromkeys(org_units)]
        )
    if types:
        conn.execute(
            assortment_types.insert(), [{**key, "type_code": t} for t in dict.fromkeys(types)]
        )


def assortment_of(
    conn: Connection, fagsystem_id: UUID, authority_cvr: str
) -> tuple[list[UUID], list[str]]:
    """The fagsystem's sortiment for one authority: its ORG units and its types, sorted."""
    found: list[list[Any]] = []
    for table, column in ((assortment, "org_unit_id"), (assortment_types, "type_code")):
        query = select(table.c[column]).where(
            table.c.fagsystem_id == fagsystem_id, table.c.authority_cvr == authority_cvr
        )
        found.append([r[0] for r in conn.execute(query.order_by(table.c[column]))])
    units, types = found
    return units, [str(t) for t in types]


def insert_account(
    conn: Connection,
    account_id: UUID,
    authority_cvr: str,
    type_code: str,
    owner_fagsystem_id: UUID | None,
    *,
    now: datetime,
) -> None:
    conn.execute(
        accounts.insert().values(
            id=account_id,
            authority_cvr=authority_cvr,
            type_code=type_code,
            owner_fagsystem_id=owner_fagsystem_id,
            created_at=now,
        )
    )


def insert_claim(conn: Connection, claim: Claim, now: datetime) -> None:
    """A new claim and its liable parties (its account must be the authority's)."""
    conn.execute(
        claims.insert().values(
            id=claim.id,
            account_id=claim.account_id,
            authority_cvr=claim.authority_cvr,
            claim_type_code=claim.claim_type_code,
            principal_ore=claim.principal,
            due_date=claim.due_date,
            last_timely_payment_date=claim.last_timely_payment_date,
            payment_period_from=claim.payment_period_from,
            payment_period_to=claim.payment_period_to,
            created_at=now,
        )
    )
    conn.execute(
        liable_parties.insert(),
        [
            {"claim_id": claim.id, "part_id": p.part_id, "role": p.role}
            for p in claim.liable_parties
        ],
    )


def insert_staff_token(conn: Connection, token_sha256: str, authority_cvr: str, name: str) -> None:
    conn.execute(
        staff_tokens.insert().values(
            token_sha256=token_sha256, authority_cvr=authority_cvr, name=name
        )
    )


def insert_coverage(conn: Connection, coverage: Coverage, now: datetime) -> int:
    p = coverage.payment
    result = conn.execute(
        coverages.insert().values(
            id=coverage.id,
            claim_id=coverage.claim_id,
            amount_ore=coverage.amount,
            source=coverage.source.value,
            owner_id=coverage.owner_id,
            payment_id=p.payment_id if p else None,
            payment_date=p.payment_date if p else None,
            payer_part_id=p.payer_part_id if p else None,
            org_unit_id=p.org_unit_id if p else None,
            text=p.text if p else None,
            restance_after_ore=coverage.restance_after,
            created_at=now,
        )
    )
    pk = result.inserted_primary_key
    return int(pk[0]) if pk else 0


def insert_reversal(
    conn: Connection,
    coverage_id: UUID,
    *,
    reason: ReversalReason,
    order_id: UUID | None,
    text: str | None,
    now: datetime,
) -> None:
    conn.execute(
        reversals.insert().values(
            coverage_id=coverage_id,
            reason=reason.value,
            order_id=order_id,
            text=text,
            created_at=now,
        )
    )


STAFF_REVERSAL_REASON = "OPKRAEVNING"
"""`reversals.reason` of another coverage reversed by collections staff (never on the wire)."""


def insert_staff_reversal(
    conn: Connection, coverage_id: UUID, *, staff_name: str, text: str, now: datetime
) -> None:
    """Another coverage reversed by a member of collections staff, with who and why."""
    row = {"reason": STAFF_REVERSAL_REASON, "staff_name": staff_name, "order_id": None}
    conn.execute(
        reversals.insert(), [{"coverage_id": coverage_id, "text": text, "created_at": now, **row}]
    )


def close_order(conn: Connection, order: ReversalOrder, now: datetime) -> bool:
    """Store `order`'s closing (LUKKET), only from MANUEL; False when it was no longer MANUEL."""
    result = conn.execute(
        update(reversal_orders)
        .where(
            reversal_orders.c.id == order.id,
            reversal_orders.c.state == OrderState.MANUEL.value,
        )
        .values(
            state=OrderState.LUKKET.value,
            closed_by=order.closed_by,
            closed_reason=order.closed_reason,
            closed_at=order.closed_at,
            updated_at=now,
        )
    )
    return bool(result.rowcount)


def staff_token_name(conn: Connection, token_sha256: str) -> str | None:
    row = conn.execute(
        select(staff_tokens.c.name).where(staff_tokens.c.token_sha256 == token_sha256)
    ).first()
    return None if row is None else str(row.name)


def insert_write_down(conn: Connection, wd: WriteDown, now: datetime) -> None:
    conn.execute(
        write_downs.insert().values(
            id=wd.id,
            claim_id=wd.claim_id,
            amount_ore=wd.amount,
            kind=wd.kind.value,
            text=wd.text,
            created_at=now,
        )
    )


def insert_orders(conn: Connection, orders: Iterable[ReversalOrder], now: datetime) -> None:
    rows = [
        {
            "id": o.id,
            "claim_id": o.claim_id,
            "coverage_id": o.coverage_id,
            "payment_id": o.payment_id,
            "owner_id": o.owner_id,
            "authority_cvr": o.authority_cvr,
            "amount_ore": o.amount,
            "overcoverage_ore": o.overcoverage,
            "reason": o.reason.value,
            "text": o.text,
            "state": o.state.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": o.created_at,
            "updated_at": now,
        }
        for o in orders
    ]
    if rows:
        conn.execute(reversal_orders.insert(), rows)


def set_order_states(conn: Connection, orders: Iterable[ReversalOrder], now: datetime) -> None:
    for o in orders:
        conn.execute(
            update(reversal_orders)
            .where(reversal_orders.c.id == o.id)
            .values(state=o.state.value, updated_at=now)
        )


def mark_annulled(conn: Connection, claim_id: UUID, now: datetime) -> None:
    conn.execute(update(claims).where(claims.c.id == claim_id).values(annulled_at=now))


# --- reversal-order delivery -----------------------------------------------------------------
# The relay (`indbetaling.debitorsystem.relay`) claims due orders in one short transaction,
# calls the owner with no transaction open, and records the answer in another. `attempts` is
# the claim's fencing token: only the relay holding the newest claim may record an outcome.


@dataclass(frozen=True)
class ClaimedOrder:
    order: ReversalOrder
    attempt: int
    """The order's `attempts` after this claim; the outcome is recorded only under it."""
    owner_accepts: bool
    """False when the owner is registered as offering no IndbetalingTilbagefoerOrdreAfsend."""


DELIVERABLE_STATES = (OrderState.OPRETTET.value, OrderState.AFSENDT.value)


def claim_due_orders(
    conn: Connection, *, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedOrder]:
    """Take up to `limit` orders that are due (new or retried, or sent by a relay whose lease
    ran out) and mark them AFSENDT until `lease_until`.

    PostgreSQL: rows another relay is claiming are skipped (`FOR UPDATE SKIP LOCKED`).
    SQLite: the write transaction (BEGIN IMMEDIATE) already excludes every other writer.
    """
    query = (
        select(reversal_orders)
        .where(
            reversal_orders.c.state.in_(DELIVERABLE_STATES),
            reversal_orders.c.next_attempt_at <= now,
        )
        .order_by(reversal_orders.c.next_attempt_at, reversal_orders.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if not rows:
        return []
    owners = {r.owner_id for r in rows}
    accepting = {
        f.id: bool(f.accepts_reversal_orders)
        for f in conn.execute(
            select(fagsystems.c.id, fagsystems.c.accepts_reversal_orders).where(
                fagsystems.c.id.in_(owners)
            )
        )
    }
    claimed = []
    for row in rows:
        attempt = int(row.attempts) + 1
        conn.execute(
            update(reversal_orders)
            .where(reversal_orders.c.id == row.id)
            .values(
                state=OrderState.AFSENDT.value,
                attempts=attempt,
                next_attempt_at=lease_until,
                updated_at=now,
            )
        )
        claimed.append(
            ClaimedOrder(
                order=order_from_row(row),
                attempt=attempt,
                # an owner the debitorsystem has not registered is tried all the same
                owner_accepts=accepting.get(row.owner_id, True),
            )
        )
    return claimed


def held_under(order_id: UUID, attempt: int) -> ColumnElement[bool]:
    """The order is still AFSENDT under claim `attempt` (the fencing token)."""
    return and_(
        reversal_orders.c.id == order_id,
        reversal_orders.c.state == OrderState.AFSENDT.value,
        reversal_orders.c.attempts == attempt,
    )


def record_delivery(
    conn: Connection,
    order_id: UUID,
    attempt: int,
    *,
    state: OrderState,
    next_attempt_at: datetime | None,
    error: str | None,
    now: datetime,
) -> bool:
    """Record the outcome of claim `attempt`; False (nothing changed) when the order has moved
    on meanwhile: executed by a reversal, or claimed again after the lease ran out."""
    result = conn.execute(
        update(reversal_orders)
        .where(held_under(order_id, attempt))
        .values(
            state=state.value,
            next_attempt_at=next_attempt_at,
            last_error=None if error is None else error[:500],
            updated_at=now,
        )
    )
    return bool(result.rowcount)


def renew_leases(
    conn: Connection, held: Mapping[UUID, int], *, lease_until: datetime, now: datetime
) -> set[UUID]:
    """Extend the lease of each order still AFSENDT under the claim `held[order_id]` (its
    `attempts`) to `lease_until`; the ids whose lease was extended. An order that moved on
    (recorded, reversed, or claimed again after a lapse) is left as it is."""
    kept: set[UUID] = set()
    for order_id, attempt in held.items():
        result = conn.execute(
            update(reversal_orders)
            .where(held_under(order_id, attempt))
            .values(next_attempt_at=lease_until, updated_at=now)
        )
        if result.rowcount:
            kept.add(order_id)
    return kept


@dataclass(frozen=True)
class DeliveryStatus:
    state: OrderState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None


def delivery_status(conn: Connection, order_id: UUID) -> DeliveryStatus | None:
    row = conn.execute(
        select(
            reversal_orders.c.state,
            reversal_orders.c.attempts,
            reversal_orders.c.next_attempt_at,
            reversal_orders.c.last_error,
        ).where(reversal_orders.c.id == order_id)
    ).first()
    if row is None:
        return None
    return DeliveryStatus(
        OrderState(row.state), int(row.attempts), row.next_attempt_at, row.last_error
    )


# --- payability that changes with the date (CONTRACT §6) ---------------------------------------


def note_announced_payability(
    conn: Connection, claim_id: UUID, *, payable: bool, now: datetime
) -> None:
    """Remember that the claim's newest message told of a payable (or not payable) claim."""
    table = announced_payability
    changed = conn.execute(
        update(table)
        .where(table.c.claim_id == claim_id)
        .values(payable=int(payable), announced_at=now)
    )
    if not changed.rowcount:
        conn.execute(
            table.insert().values(claim_id=claim_id, payable=int(payable), announced_at=now)
        )


def announced_payabilities(conn: Connection, claim_ids: Sequence[UUID]) -> dict[UUID, bool]:
    """What each claim's newest message told of its payability (claims never noted are left
    out)."""
    if not claim_ids:
        return {}
    table = announced_payability
    rows = conn.execute(
        select(table.c.claim_id, table.c.payable).where(table.c.claim_id.in_(claim_ids))
    )
    return {r.claim_id: bool(r.payable) for r in rows}


def lock_claims(conn: Connection, claim_ids: Sequence[UUID]) -> None:
    """Take these claims' row locks for this transaction (PostgreSQL; SQLite's write
    transaction already holds the whole database), in id order so lockers never deadlock."""
    if claim_ids and conn.dialect.name == "postgresql":
        conn.execute(
            select(claims.c.id)
            .where(claims.c.id.in_(claim_ids))
            .order_by(claims.c.id)
            .with_for_update()
        ).all()


def claims_with_changed_payability(
    conn: Connection, *, today: date, after: UUID | None, limit: int
) -> list[UUID]:
    """Ids (ascending, after `after`) of claims with a payment period whose payability on
    `today` differs from what their newest message told, or of which nothing was noted yet."""
    table = announced_payability
    payable_now = payable_on(today)
    conditions: list[ColumnElement[bool]] = [
        or_(claims.c.payment_period_from.is_not(None), claims.c.payment_period_to.is_not(None)),
        or_(
            table.c.claim_id.is_(None),
            and_(table.c.payable == 1, ~payable_now),
            and_(table.c.payable == 0, payable_now),
        ),
    ]
    if after is not None:
        conditions.append(claims.c.id > after)
    query = (
        select(claims.c.id)
        .outerjoin(table, table.c.claim_id == claims.c.id)
        .where(*conditions)
        .order_by(claims.c.id)
        .limit(limit)
    )
    return [r.id for r in conn.execute(query)]

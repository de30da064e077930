"""The fagsystem's payments, their history, reversals and pay-backs, and the outbox of its
postings and payout requests: all their SQL.

`payments` is keyed by IndbetalingId; its TransactionUUID is fixed when it is written, before
any call, so every send is the same transaction (R8). A case worker's `Idempotency-Key` is unique
per fagsystem, kept with the hash of its request. `reversals` has at most one order id per
fagsystem, and a payment names its one active reversal (`active_reversal_id`, taken with a
conditional update), so no payment is reversed, paid again or paid back twice. The outbox
(`indbetaling.outbox`) carries each posting and payout request under its own id, written once in
the same transaction as the change it books (R11).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    Date,
    Index,
    Integer,
    Row,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    and_,
    false,
    func,
    or_,
    select,
    update,
)

from indbetaling import idempotency
from indbetaling.db import UtcDateTime, insert_or_ignore
from indbetaling.fagsystem.domain import (
    Event,
    EventKind,
    Execution,
    Payback,
    Payment,
    PaymentState,
    Reversal,
    ReversalSource,
    ReversalState,
    Split,
    StepState,
)
from indbetaling.fagsystem.store import PENDING, metadata, reversal_orders
from indbetaling.outbox import OutboxMessage, outbox_table

POSTING_TOPIC = "Oekonomipostering"
PAYOUT_TOPIC = "Betalingsanmodning"

payments = Table(
    "payments",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("fagsystem_id", Uuid, nullable=False),
    Column("authority_cvr", String(8), nullable=False),
    Column("claim_id", Uuid, nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("payer_part_id", String(64), nullable=False),
    Column("org_unit_id", Uuid, nullable=False),
    Column("text", String(200), nullable=True),
    Column("payment_date", Date, nullable=False),
    Column("transaction_uuid", Uuid, nullable=False, unique=True),
    Column("state", String(20), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_text", String(500), nullable=True),
    Column("restance_ore", BigInteger, nullable=True),
    Column("coverage_id", Uuid, nullable=True),
    Column("idempotency_key", String(64), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("active_reversal_id", Uuid, nullable=True),
    Column("repays_reversal_id", Uuid, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="ck_payments_amount_positive"),
    UniqueConstraint("fagsystem_id", "idempotency_key", name="uq_payments_idempotency_key"),
    Index("ix_payments_listing", "fagsystem_id", "authority_cvr", "created_at"),
    Index("ix_payments_due", "fagsystem_id", "state", "next_attempt_at"),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("payment_id", Uuid, nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("text", String(500), nullable=False),
)

reversals = Table(
    "reversals",
    metadata,
    Column("reversal_id", Uuid, primary_key=True),
    Column("fagsystem_id", Uuid, nullable=False),
    Column("authority_cvr", String(8), nullable=False),
    Column("payment_id", Uuid, nullable=False, index=True),
    Column("source", String(20), nullable=False),
    Column("order_id", Uuid, nullable=True),
    Column("amount_ore", BigInteger, nullable=False),
    Column("overcoverage_ore", BigInteger, nullable=True),
    Column("text", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_text", String(500), nullable=True),
    Column("automatic", Boolean, nullable=False, server_default=false()),
    Column("repay_ore", BigInteger, nullable=True),
    Column("payback_ore", BigInteger, nullable=True),
    Column("step_state", String(20), nullable=True),
    Column("reverse_transaction_uuid", Uuid, nullable=True, unique=True),
    Column("repay_payment_id", Uuid, nullable=True),
    Column("repay_transaction_uuid", Uuid, nullable=True),
    Column("payback_id", Uuid, nullable=True),
    Column("restance_after_ore", BigInteger, nullable=True),
    Column("repay_refused", Boolean, nullable=False, server_default=false()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="ck_reversals_amount_positive"),
    CheckConstraint("repay_ore >= 0 AND payback_ore >= 0", name="ck_reversals_split"),
    UniqueConstraint("fagsystem_id", "order_id", name="uq_reversals_order"),
    Index("ix_reversals_listing", "fagsystem_id", "authority_cvr", "created_at"),
    Index("ix_reversals_due", "fagsystem_id", "step_state", "next_attempt_at"),
)

paybacks = Table(
    "paybacks",
    metadata,
    Column("payback_id", Uuid, primary_key=True),
    Column("fagsystem_id", Uuid, nullable=False),
    Column("authority_cvr", String(8), nullable=False),
    Column("payment_id", Uuid, nullable=False, unique=True),
    Column("reversal_id", Uuid, nullable=False, unique=True),
    Column("part_id", String(64), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("text", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_ore > 0", name="ck_paybacks_amount_positive"),
)

outbox = outbox_table(metadata)


# --- payments --------------------------------------------------------------------------------


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        id=row.payment_id,
        fagsystem_id=row.fagsystem_id,
        authority_cvr=row.authority_cvr,
        claim_id=row.claim_id,
        amount=row.amount_ore,
        payer_part_id=row.payer_part_id,
        org_unit_id=row.org_unit_id,
        text=row.text,
        payment_date=row.payment_date,
        transaction_uuid=row.transaction_uuid,
        created_at=row.created_at,
        state=PaymentState(row.state),
        error_code=row.error_code,
        error_text=row.error_text,
        restance=row.restance_ore,
        coverage_id=row.coverage_id,
        repays_reversal_id=row.repays_reversal_id,
    )


def insert_payment(
    conn: Connection,
    payment: Payment,
    *,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> bool:
    """Write a new payment (AFSENDT, due to be sent now); False when its Idempotency-Key was
    taken meanwhile (nothing written)."""
    return insert_or_ignore(
        conn,
        payments,
        payment_id=payment.id,
        fagsystem_id=payment.fagsystem_id,
        authority_cvr=payment.authority_cvr,
        claim_id=payment.claim_id,
        amount_ore=payment.amount,
        payer_part_id=payment.payer_part_id,
        org_unit_id=payment.org_unit_id,
        text=payment.text,
        payment_date=payment.payment_date,
        transaction_uuid=payment.transaction_uuid,
        state=payment.state.value,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        repays_reversal_id=payment.repays_reversal_id,
        attempts=0,
        next_attempt_at=payment.created_at,
        created_at=payment.created_at,
        updated_at=payment.created_at,
    )


def has_payments(conn: Connection, fagsystem_id: UUID) -> bool:
    query = select(payments.c.payment_id).where(payments.c.fagsystem_id == fagsystem_id).limit(1)
    return conn.execute(query).first() is not None


def payment_by_key(conn: Connection, fagsystem_id: UUID, key: str) -> tuple[Payment, str] | None:
    """The payment a case worker's Idempotency-Key made, and the hash of its request."""
    row = conn.execute(
        select(payments).where(
            payments.c.fagsystem_id == fagsystem_id, payments.c.idempotency_key == key
        )
    ).first()
    return None if row is None else (_payment(row), row.request_hash)


def find_payment(
    conn: Connection, fagsystem_id: UUID, payment_id: UUID, *, lock: bool = False
) -> Payment | None:
    query = select(payments).where(
        payments.c.payment_id == payment_id, payments.c.fagsystem_id == fagsystem_id
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _payment(row)


def active_reversal_of(conn: Connection, payment_id: UUID) -> UUID | None:
    return active_reversals(conn, [payment_id]).get(payment_id)


def active_reversals(conn: Connection, payment_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    """The active reversal of each of these payments that has one."""
    if not payment_ids:
        return {}
    query = select(payments.c.payment_id, payments.c.active_reversal_id).where(
        payments.c.payment_id.in_(list(payment_ids)), payments.c.active_reversal_id.is_not(None)
    )
    return {r.payment_id: r.active_reversal_id for r in conn.execute(query)}


def take_reversal_slot(conn: Connection, payment_id: UUID, reversal_id: UUID) -> bool:
    """Make `reversal_id` the payment's one active reversal; False when it has one."""
    result = conn.execute(
        update(payments)
        .where(payments.c.payment_id == payment_id, payments.c.active_reversal_id.is_(None))
        .values(active_reversal_id=reversal_id)
    )
    return result.rowcount == 1


def free_reversal_slot(conn: Connection, payment_id: UUID, reversal_id: UUID) -> None:
    conn.execute(
        update(payments)
        .where(payments.c.payment_id == payment_id, payments.c.active_reversal_id == reversal_id)
        .values(active_reversal_id=None)
    )


def settle_payment(conn: Connection, before: Payment, after: Payment, now: datetime) -> bool:
    """Store a payment's new state, only if it is still in its old one (a concurrent answer
    stored first wins); True when this call changed it."""
    result = conn.execute(
        update(payments)
        .where(payments.c.payment_id == after.id, payments.c.state == before.state.value)
        .values(
            state=after.state.value,
            error_code=after.error_code,
            error_text=after.error_text,
            restance_ore=after.restance,
            coverage_id=after.coverage_id,
            updated_at=now,
        )
    )
    return result.rowcount == 1


def claim_payment_send(conn: Connection, payment_id: UUID, lease_until: datetime) -> int | None:
    """Count a send of a payment still AFSENDT and keep other senders off it until
    `lease_until`; its sends so far, or None when it has its answer."""
    result = conn.execute(
        update(payments)
        .where(payments.c.payment_id == payment_id, payments.c.state == PaymentState.AFSENDT)
        .values(attempts=payments.c.attempts + 1, next_attempt_at=lease_until)
    )
    if result.rowcount != 1:
        return None
    query = select(payments.c.attempts).where(payments.c.payment_id == payment_id)
    return int(conn.execute(query).scalar_one())


def retry_payment_at(conn: Connection, payment_id: UUID, when: datetime) -> None:
    """Send the payment again at `when`, if it is still unanswered."""
    conn.execute(
        update(payments)
        .where(payments.c.payment_id == payment_id, payments.c.state == PaymentState.AFSENDT)
        .values(next_attempt_at=when)
    )


def due_payments(
    conn: Connection, fagsystem_id: UUID, now: datetime | None, limit: int
) -> list[UUID]:
    """Payments still AFSENDT whose next send is due (all of them when `now` is None)."""
    query = select(payments.c.payment_id).where(
        payments.c.fagsystem_id == fagsystem_id, payments.c.state == PaymentState.AFSENDT
    )
    if now is not None:
        query = query.where(payments.c.next_attempt_at <= now)
    return list(conn.execute(query.order_by(payments.c.next_attempt_at).limit(limit)).scalars())


def _newest_first(
    table: Table, id_column: str, position: tuple[datetime, UUID] | None
) -> list[ColumnElement[bool]]:
    """Rows after `position` in the order newest first, ties by id, highest first."""
    if position is None:
        return []
    created, last_id = position
    row_id: Column[UUID] = table.c[id_column]
    return [
        or_(
            table.c.created_at < created,
            and_(table.c.created_at == created, row_id < last_id),
        )
    ]


def list_payments(
    conn: Connection,
    fagsystem_id: UUID,
    cvr: str,
    *,
    part_id: str | None,
    claim_id: UUID | None,
    state: PaymentState | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Payment]:
    """Newest first, from after `after` (the last one of the previous page)."""
    conditions = [payments.c.fagsystem_id == fagsystem_id, payments.c.authority_cvr == cvr]
    if part_id is not None:
        conditions.append(payments.c.payer_part_id == part_id)
    if claim_id is not None:
        conditions.append(payments.c.claim_id == claim_id)
    if state is not None:
        conditions.append(payments.c.state == state.value)
    conditions += _newest_first(payments, "payment_id", after)
    query = (
        select(payments)
        .where(*conditions)
        .order_by(payments.c.created_at.desc(), payments.c.payment_id.desc())
        .limit(limit)
    )
    return [_payment(r) for r in conn.execute(query)]


# --- history ---------------------------------------------------------------------------------


def add_events(conn: Connection, events: Iterable[Event]) -> None:
    rows = [
        {"payment_id": e.payment_id, "at": e.at, "kind": e.kind.value, "text": e.text[:500]}
        for e in events
    ]
    if rows:
        conn.execute(payment_events.insert(), rows)


def events_of(conn: Connection, payment_ids: Sequence[UUID]) -> dict[UUID, list[Event]]:
    """The history of each payment, oldest first."""
    found: dict[UUID, list[Event]] = {p: [] for p in payment_ids}
    if not payment_ids:
        return found
    query = (
        select(payment_events)
        .where(payment_events.c.payment_id.in_(list(payment_ids)))
        .order_by(payment_events.c.seq)
    )
    for r in conn.execute(query):
        found[r.payment_id].append(Event(r.payment_id, r.at, EventKind(r.kind), r.text))
    return found


# --- reversals -------------------------------------------------------------------------------


def _reversal(row: Row[Any]) -> Reversal:
    execution = None
    if row.reverse_transaction_uuid is not None:
        split = None
        if row.repay_ore is not None and row.payback_ore is not None:
            split = Split(row.repay_ore, row.payback_ore)
        execution = Execution(
            split=split,
            automatic=row.automatic,
            reverse_transaction_uuid=row.reverse_transaction_uuid,
            repay_payment_id=row.repay_payment_id,
            repay_transaction_uuid=row.repay_transaction_uuid,
            payback_id=row.payback_id,
        )
    return Reversal(
        id=row.reversal_id,
        fagsystem_id=row.fagsystem_id,
        authority_cvr=row.authority_cvr,
        payment_id=row.payment_id,
        source=ReversalSource(row.source),
        amount=row.amount_ore,
        created_at=row.created_at,
        order_id=row.order_id,
        overcoverage=row.overcoverage_ore,
        text=row.text,
        state=ReversalState(row.state),
        error_code=row.error_code,
        error_text=row.error_text,
        execution=execution,
        step=None if row.step_state is None else StepState(row.step_state),
        restance_after=row.restance_after_ore,
        repay_refused=row.repay_refused,
    )


def _reversal_values(r: Reversal) -> dict[str, Any]:
    e = r.execution
    split = None if e is None else e.split
    return {
        "state": r.state.value,
        "order_id": r.order_id,
        "overcoverage_ore": r.overcoverage,
        "error_code": r.error_code,
        "error_text": r.error_text,
        "automatic": e is not None and e.automatic,
        "repay_ore": None if split is None else split.repay,
        "payback_ore": None if split is None else split.payback,
        "step_state": None if r.step is None else r.step.value,
        "reverse_transaction_uuid": None if e is None else e.reverse_transaction_uuid,
        "repay_payment_id": None if e is None else e.repay_payment_id,
        "repay_transaction_uuid": None if e is None else e.repay_transaction_uuid,
        "payback_id": None if e is None else e.payback_id,
        "restance_after_ore": r.restance_after,
        "repay_refused": r.repay_refused,
    }


def insert_reversal(conn: Connection, r: Reversal) -> bool:
    """False when the fagsystem has a reversal with this order id already."""
    return insert_or_ignore(
        conn,
        reversals,
        reversal_id=r.id,
        fagsystem_id=r.fagsystem_id,
        authority_cvr=r.authority_cvr,
        payment_id=r.payment_id,
        source=r.source.value,
        amount_ore=r.amount,
        text=r.text,
        attempts=0,
        next_attempt_at=r.created_at,
        created_at=r.created_at,
        updated_at=r.created_at,
        **_reversal_values(r),
    )


def save_reversal(
    conn: Connection, r: Reversal, now: datetime, *, next_attempt_at: datetime | None = None
) -> None:
    values = _reversal_values(r)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(
        update(reversals).where(reversals.c.reversal_id == r.id).values(updated_at=now, **values)
    )


def find_reversal(
    conn: Connection, fagsystem_id: UUID, reversal_id: UUID, *, lock: bool = False
) -> Reversal | None:
    query = select(reversals).where(
        reversals.c.reversal_id == reversal_id, reversals.c.fagsystem_id == fagsystem_id
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _reversal(row)


def reversal_by_order(conn: Connection, fagsystem_id: UUID, order_id: UUID) -> Reversal | None:
    row = conn.execute(
        select(reversals).where(
            reversals.c.fagsystem_id == fagsystem_id, reversals.c.order_id == order_id
        )
    ).first()
    return None if row is None else _reversal(row)


def claim_reversal_send(conn: Connection, reversal_id: UUID, lease_until: datetime) -> int | None:
    """Count a send of a reversal still waiting for its answer and keep other senders off it
    until `lease_until`; its sends so far, or None when it has its answer."""
    result = conn.execute(
        update(reversals)
        .where(reversals.c.reversal_id == reversal_id, reversals.c.step_state == StepState.VENTER)
        .values(attempts=reversals.c.attempts + 1, next_attempt_at=lease_until)
    )
    if result.rowcount != 1:
        return None
    query = select(reversals.c.attempts).where(reversals.c.reversal_id == reversal_id)
    return int(conn.execute(query).scalar_one())


def retry_reversal_at(conn: Connection, reversal_id: UUID, when: datetime) -> None:
    conn.execute(
        update(reversals)
        .where(reversals.c.reversal_id == reversal_id, reversals.c.step_state == StepState.VENTER)
        .values(next_attempt_at=when)
    )


def due_reversals(
    conn: Connection, fagsystem_id: UUID, now: datetime | None, limit: int
) -> list[UUID]:
    """Executed reversals still waiting for the debitorsystem's answer whose next send is due
    (all of them when `now` is None)."""
    query = select(reversals.c.reversal_id).where(
        reversals.c.fagsystem_id == fagsystem_id, reversals.c.step_state == StepState.VENTER
    )
    if now is not None:
        query = query.where(reversals.c.next_attempt_at <= now)
    return list(conn.execute(query.order_by(reversals.c.next_attempt_at).limit(limit)).scalars())


def list_reversals(
    conn: Connection,
    fagsystem_id: UUID,
    cvr: str,
    *,
    state: ReversalState | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Reversal]:
    conditions = [reversals.c.fagsystem_id == fagsystem_id, reversals.c.authority_cvr == cvr]
    if state is not None:
        conditions.append(reversals.c.state == state.value)
    conditions += _newest_first(reversals, "reversal_id", after)
    query = (
        select(reversals)
        .where(*conditions)
        .order_by(reversals.c.created_at.desc(), reversals.c.reversal_id.desc())
        .limit(limit)
    )
    return [_reversal(r) for r in conn.execute(query)]


def mark_orders(conn: Connection, fagsystem_id: UUID, payment_id: UUID, state: str) -> None:
    """The state of the orders received for a payment follows its reversal's (any reversal of
    a payment carries out every order for it)."""
    conn.execute(
        update(reversal_orders)
        .where(
            reversal_orders.c.fagsystem_id == fagsystem_id,
            reversal_orders.c.payment_id == payment_id,
            reversal_orders.c.state == PENDING,
        )
        .values(state=state)
    )


# --- pay-backs and the outbox ----------------------------------------------------------------


def insert_payback(conn: Connection, p: Payback, now: datetime) -> bool:
    return insert_or_ignore(
        conn,
        paybacks,
        payback_id=p.id,
        fagsystem_id=p.fagsystem_id,
        authority_cvr=p.authority_cvr,
        payment_id=p.payment_id,
        reversal_id=p.reversal_id,
        part_id=p.part_id,
        amount_ore=p.amount,
        text=p.text,
        created_at=now,
    )


def paid_back(conn: Connection, payment_ids: Sequence[UUID]) -> set[UUID]:
    """Which of these payments were paid back."""
    if not payment_ids:
        return set()
    query = select(paybacks.c.payment_id).where(paybacks.c.payment_id.in_(list(payment_ids)))
    return set(conn.execute(query).scalars())


def undelivered(conn: Connection, limit: int, skip: Collection[int] = ()) -> list[OutboxMessage]:
    """Outbox messages not yet delivered, oldest first, but those in `skip` (backing off), so
    that messages nobody takes never hold up the others."""
    query = select(outbox.c.seq, outbox.c.message_id, outbox.c.topic, outbox.c.payload).where(
        outbox.c.published_at.is_(None)
    )
    if skip:
        query = query.where(outbox.c.seq.not_in(list(skip)))
    rows = conn.execute(query.order_by(outbox.c.seq).limit(limit)).all()
    return [OutboxMessage(r.seq, r.message_id, r.topic, bytes(r.payload)) for r in rows]


def outbox_waiting(conn: Connection) -> int:
    """How many outbox messages wait for delivery."""
    query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    return int(conn.execute(query).scalar_one())


def enqueue_once(
    conn: Connection, *, topic: str, message_id: UUID, body: dict[str, Any], now: datetime
) -> bool:
    """Put a posting or payout request in the outbox unless its id is there already (so an
    event is booked once); the body is kept as the bytes every send repeats."""
    return insert_or_ignore(
        conn,
        outbox,
        message_id=str(message_id),
        topic=topic,
        payload=idempotency.canonical_json(body),
        created_at=now,
        attempts=0,
    )

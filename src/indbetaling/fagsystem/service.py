"""The fagsystem's payments use cases (CONTRACT §9; R4, R8, R9, R11): one hosted fagsystem's
case-worker calls, its reversal orders, and the sending that the sender keeps going.

Every use case is one database transaction; a call to the debitorsystem is never made inside
one. Paying writes the payment `AFSENDT`, with its IndbetalingId and TransactionUUID, and commits
before the call; the business answer is stored in a transaction of its own; a call without a
business answer (`NoBusinessAnswer`) leaves it `AFSENDT`, and it is sent again, with the same
TransactionUUID, until an answer comes (R8). A reversal is executed the same way: `udfoer` fixes
its split and the ids and TransactionUUIDs of its steps, then the reversal is sent until answered;
its answer, the payment's new state, the new payment of `Genindbetal`, the pay-back and their
postings are stored in one transaction (R9, R11).

The sync methods touch the database and run in worker threads; the async ones (`pay`,
`execute`, `send_payment`, `run_reversal`) run on the event loop and call the port. A send runs
as a task of its own (`ensure_running`, at most one per payment or reversal in this process) that
nobody cancels halfway: a case worker's call waits for it a short while
(`Timing.answer_wait_seconds`) and then answers with the state it has.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from indbetaling import db, idempotency
from indbetaling.crash_points import crash_point
from indbetaling.fagsystem import adoption, domain
from indbetaling.fagsystem import payments_store as store
from indbetaling.fagsystem.adoption import KnownPayment
from indbetaling.fagsystem.client import (
    BusinessAnswer,
    DebitorIndbetaling,
    NoBusinessAnswer,
    PaymentCall,
    ReversalCall,
    ReversalReason,
)
from indbetaling.fagsystem.domain import (
    Chart,
    Execution,
    FejlKode,
    Payment,
    PaymentState,
    Refused,
    Reversal,
    ReversalPolicy,
    ReversalSource,
    ReversalState,
    Split,
    StepState,
)
from indbetaling.fagsystem.finance_client import payout_json, posting_json
from indbetaling.fagsystem.store import ReceivedReversalOrder
from indbetaling.instants import as_utc

log = logging.getLogger(__name__)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
PAGE_SIZE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class FagsystemConfig:
    """One hosted fagsystem as its payments see it."""

    id: UUID
    org_units: Mapping[str, frozenset[UUID]]
    """Its sortiment: the ORG units it pays from, per authority it has an agreement with."""
    policy: ReversalPolicy = ReversalPolicy.SAGSBEHANDLER
    chart: Chart = field(default_factory=Chart)


@dataclass(frozen=True)
class Timing:
    answer_wait_seconds: float = 3.0
    """How long a case worker's call waits for the debitorsystem's answer."""
    lease_seconds: float = 60.0
    """How long a send keeps other processes' senders off a payment or reversal."""
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    batch_size: int = 50

    def __post_init__(self) -> None:
        if self.answer_wait_seconds < 0 or self.lease_seconds <= 0 or self.batch_size < 1:
            raise ValueError("answer_wait_seconds ≥ 0, lease_seconds > 0, batch_size ≥ 1")
        if not 0 < self.backoff_base_seconds <= self.backoff_cap_seconds:
            raise ValueError("backoff needs 0 < backoff_base_seconds <= backoff_cap_seconds")


def retry_delay(attempts: int, timing: Timing, rng: random.Random) -> timedelta:
    """The wait before the next send after `attempts` sends without an answer: doubling from
    the base up to the cap, somewhere in the upper half of that, so retries spread out."""
    ceiling = min(timing.backoff_cap_seconds, timing.backoff_base_seconds * 2 ** min(attempts, 40))
    return timedelta(seconds=ceiling * (1 + rng.random()) / 2)


@dataclass(frozen=True)
class PaymentRequest:
    """A case worker's payment: `POST …/indbetalinger`."""

    claim_id: UUID
    amount: int
    payer_part_id: str
    org_unit_id: UUID
    text: str | None = None

    def digest(self, cvr: str) -> str:
        return idempotency.request_hash(
            "Indbetal",
            {
                "MyndighedCVR": cvr,
                "FordringId": str(self.claim_id),
                "Beloeb": self.amount,
                "IndbetalerPartId": self.payer_part_id,
                "OrganisationsenhedId": str(self.org_unit_id),
                "Tekst": self.text,
            },
        )


@dataclass(frozen=True)
class ReversalRequest:
    """A reversal put in motion by hand: `POST …/tilbagefoersler`."""

    payment_id: UUID
    source: ReversalSource
    order_id: UUID | None = None
    text: str | None = None


@dataclass(frozen=True)
class PaymentView:
    payment: Payment
    events: tuple[domain.Event, ...]
    postings: tuple[UUID, ...]
    active_reversal_id: UUID | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_key: str | None


class Work(StrEnum):
    PAYMENT = "indbetaling"
    REVERSAL = "tilbagefoersel"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _answer(answer: BusinessAnswer) -> domain.Answer:
    return domain.Answer(
        accepted=answer.accepted,
        error_code=answer.error_code,
        error_text=answer.error_text,
        restance=answer.restance,
        coverage_id=answer.coverage_id,
    )


# --- continuation keys -----------------------------------------------------------------------


def _fingerprint(query: Sequence[object]) -> str:
    return hashlib.sha256(repr(list(query)).encode()).hexdigest()[:16]


def page_key(query: Sequence[object], created_at: datetime, last_id: UUID) -> str:
    """An opaque FortsaettelsesNoegle after (`created_at`, `last_id`), bound to `query`."""
    raw = json.dumps([_fingerprint(query), as_utc(created_at).isoformat(), str(last_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_page_key(key: str | None, query: Sequence[object]) -> tuple[datetime, UUID] | None:
    if key is None:
        return None
    try:
        bound, created, last = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
        position = (as_utc(datetime.fromisoformat(created)), UUID(last))
    except (ValueError, TypeError):
        raise Refused(
            FejlKode.FORTSAETTELSESNOEGLE_UGYLDIG, "FortsaettelsesNoegle er ugyldig"
        ) from None
    if bound != _fingerprint(query):
        raise Refused(
            FejlKode.FORTSAETTELSESNOEGLE_UGYLDIG,
            "FortsaettelsesNoegle hører til en anden forespørgsel",
        )
    return position


class PaymentService:
    """One hosted fagsystem's payments, on the fagsystem's database, calling its port."""

    def __init__(
        self,
        engine: Engine,
        config: FagsystemConfig,
        port: DebitorIndbetaling,
        *,
        timing: Timing | None = None,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], UUID] = uuid.uuid4,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.port = port
        self.timing = timing or Timing()
        self.clock: Callable[[], datetime] = lambda: as_utc(clock())
        self.new_id = new_id
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._running: dict[tuple[Work, UUID], asyncio.Task[None]] = {}
        self.wake: Callable[[], None] = lambda: None
        """Tells the sender there is work (set by the running sender; callable from threads)."""

    @property
    def fagsystem_id(self) -> UUID:
        return self.config.id

    def today(self) -> date:
        return self.clock().astimezone(COPENHAGEN).date()

    def check_authority(self, cvr: str) -> None:
        if cvr not in self.config.org_units:
            raise Refused(
                FejlKode.IKKE_ADGANG, f"Fagsystemet har ingen aftale med myndigheden {cvr}"
            )

    # --- paying ------------------------------------------------------------------------------

    def record_payment(self, cvr: str, key: str, request: PaymentRequest) -> UUID:
        """Step one of paying: the payment written `AFSENDT`, with its IndbetalingId and
        TransactionUUID, before any call; or the payment this Idempotency-Key made already
        (another request under the key is refused, TRANSAKTION_KONFLIKT)."""
        self.check_authority(cvr)
        if request.org_unit_id not in self.config.org_units[cvr]:
            raise Refused(
                FejlKode.ORGANISATIONSENHED_UKENDT,
                "OrganisationsenhedId er ikke i fagsystemets sortiment for myndigheden",
            )
        digest = request.digest(cvr)
        now = self.clock()
        payment = Payment(
            id=self.new_id(),
            fagsystem_id=self.fagsystem_id,
            authority_cvr=cvr,
            claim_id=request.claim_id,
            amount=request.amount,
            payer_part_id=request.payer_part_id,
            org_unit_id=request.org_unit_id,
            text=request.text,
            payment_date=self.today(),
            transaction_uuid=self.new_id(),
            created_at=now,
        )
        with db.write(self.engine) as conn:
            if store.insert_payment(conn, payment, idempotency_key=key, request_hash=digest):
                store.add_events(conn, domain.new_payment(payment).events)
                return payment.id
            earlier = store.payment_by_key(conn, self.fagsystem_id, key)
        if earlier is None:  # pragma: no cover - an ignored insert means the key is taken
            raise RuntimeError("the payment of an Idempotency-Key vanished")
        if earlier[1] != digest:
            raise Refused(
                FejlKode.TRANSAKTION_KONFLIKT,
                "Idempotency-Key er brugt før til en anden indbetaling",
            )
        return earlier[0].id

    async def pay(self, cvr: str, key: str, request: PaymentRequest) -> PaymentView:
        """Pay: write it, send it, wait a short while for the answer; the payment as it is."""
        payment_id = await asyncio.to_thread(self.record_payment, cvr, key, request)
        await self._wait(self.ensure_running(Work.PAYMENT, payment_id))
        return await asyncio.to_thread(self.payment, cvr, payment_id)

    def _claim_payment(self, payment_id: UUID) -> tuple[str, UUID, PaymentCall, int, bool] | None:
        """The call to make for a payment still `AFSENDT` (counted, leased), and whether it is
        the new payment of a reversal's `Genindbetal`; else None."""
        now = self.clock()
        with db.write(self.engine) as conn:
            p = store.find_payment(conn, self.fagsystem_id, payment_id)
            if p is None or p.state is not PaymentState.AFSENDT:
                return None
            lease = now + timedelta(seconds=self.timing.lease_seconds)
            attempts = store.claim_payment_send(conn, payment_id, lease)
        if attempts is None:
            return None
        call = PaymentCall(
            payment_id=p.id,
            claim_id=p.claim_id,
            amount=p.amount,
            payment_date=p.payment_date,
            payer_part_id=p.payer_part_id,
            org_unit_id=p.org_unit_id,
            text=p.text,
        )
        return p.authority_cvr, p.transaction_uuid, call, attempts, p.repays_reversal_id is not None

    def _store_payment_answer(self, payment_id: UUID, answer: BusinessAnswer) -> None:
        """The business answer, once: the payment `ACCEPTERET` (and booked) or `AFVIST`."""
        now = self.clock()
        with db.write(self.engine) as conn:
            p = store.find_payment(conn, self.fagsystem_id, payment_id, lock=True)
            if p is None or p.state is not PaymentState.AFSENDT:
                return  # answered already (a concurrent send stored it first)
            change = domain.answer_payment(
                p, _answer(answer), chart=self.config.chart, now=now, today=self.today()
            )
            store.settle_payment(conn, p, change.payment, now)
            store.add_events(conn, change.events)
            self._book(conn, change.postings, now)
            if p.repays_reversal_id is not None:
                self._settle_pay_again(conn, p.repays_reversal_id, change.payment, now)

    def _settle_pay_again(
        self, conn: Connection, reversal_id: UUID, pay_again: Payment, now: datetime
    ) -> None:
        """In the answer's transaction: the reversal whose `Genindbetal` it is pays back
        (`domain.answer_pay_again`)."""
        reversal = store.find_reversal(conn, self.fagsystem_id, reversal_id, lock=True)
        if reversal is None:  # pragma: no cover - rows are never deleted
            raise RuntimeError("a new payment without its reversal")
        payment = store.find_payment(conn, self.fagsystem_id, reversal.payment_id)
        if payment is None:  # pragma: no cover - rows are never deleted
            raise RuntimeError("a reversal without its payment")
        outcome = domain.answer_pay_again(
            reversal, payment, pay_again, chart=self.config.chart, now=now, today=self.today()
        )
        store.save_reversal(conn, outcome.reversal, now)
        store.add_events(conn, outcome.events)
        self._book(conn, outcome.postings, now)
        if outcome.payback is not None:
            self._pay_back(conn, outcome.payback, now)

    def _send_later(self, work: Work, item_id: UUID, attempts: int) -> None:
        when = self.clock() + retry_delay(attempts, self.timing, self.rng)
        with db.write(self.engine) as conn:
            if work is Work.PAYMENT:
                store.retry_payment_at(conn, item_id, when)
            else:
                store.retry_reversal_at(conn, item_id, when)

    async def send_payment(self, payment_id: UUID) -> None:
        """Send a payment still `AFSENDT` once, with its TransactionUUID, and store the answer;
        without a business answer it is sent again later."""
        claimed = await asyncio.to_thread(self._claim_payment, payment_id)
        if claimed is None:
            return
        cvr, transaction_uuid, call, attempts, repays = claimed
        try:
            answer = await self.port.pay(cvr, transaction_uuid, call)
        except Exception as exc:  # no business answer, whatever went wrong: send it again
            self._log_no_answer(Work.PAYMENT, payment_id, attempts, exc)
            await asyncio.to_thread(self._send_later, Work.PAYMENT, payment_id, attempts)
            return
        crash_point("fagsystem.payment.answered")
        if repays:
            crash_point("fagsystem.repayment.answered")
        await asyncio.to_thread(self._store_payment_answer, payment_id, answer)

    @staticmethod
    def _log_no_answer(work: Work, item_id: UUID, attempts: int, exc: Exception) -> None:
        if isinstance(exc, NoBusinessAnswer):
            log.info("%s %s: no business answer (send %d): %s", work, item_id, attempts, exc)
        else:
            log.exception("%s %s: the call failed (send %d)", work, item_id, attempts)

    def _book(self, conn: Connection, postings: Sequence[domain.Posting], now: datetime) -> None:
        for posting in postings:
            if not posting.balanced:  # pragma: no cover - the domain makes balanced postings
                raise domain.IllegalTransition(f"posting {posting.id} does not balance")
            store.enqueue_once(
                conn,
                topic=store.POSTING_TOPIC,
                message_id=posting.id,
                body=posting_json(posting),
                now=now,
            )

    # --- taking over -------------------------------------------------------------------------

    def has_payments(self) -> bool:
        with db.read(self.engine) as conn:
            return store.has_payments(conn, self.fagsystem_id)

    def adopt(self, known: Sequence[KnownPayment]) -> int:
        """Take over, in one transaction, the payments of `known` that are this fagsystem's
        (its authorities) and that it does not know, each as if made here (`adoption`), booked
        through the outbox; how many it took. Taking over the same payments again does nothing."""
        now = self.clock()
        taken = 0
        with db.write(self.engine) as conn:
            for payment in known:
                if payment.authority_cvr not in self.config.org_units or store.find_payment(
                    conn, self.fagsystem_id, payment.payment_id
                ):
                    continue
                adopted = adoption.adopt(payment, self.fagsystem_id, self.config.chart)
                store.insert_payment(conn, adopted.sent)
                store.settle_payment(conn, adopted.sent, adopted.payment, now)
                store.add_events(conn, adopted.events)
                self._book(conn, adopted.postings, now)
                if adopted.reversal is not None:
                    store.take_reversal_slot(conn, payment.payment_id, adopted.reversal.id)
                    store.insert_reversal(conn, adopted.reversal)
                if adopted.payback is not None:
                    self._pay_back(conn, adopted.payback, now)
                taken += 1
        return taken

    def _pay_back(self, conn: Connection, payback: domain.Payback, now: datetime) -> None:
        """Record a pay-back and put its payment request to NemKonto in the outbox."""
        store.insert_payback(conn, payback, now)
        store.enqueue_once(
            conn,
            topic=store.PAYOUT_TOPIC,
            message_id=payback.id,
            body=payout_json(payback),
            now=now,
        )

    # --- reading -----------------------------------------------------------------------------

    def _views(self, conn: Connection, payments: Sequence[Payment]) -> list[PaymentView]:
        ids = [p.id for p in payments]
        events = store.events_of(conn, ids)
        paid_back = store.paid_back(conn, ids)
        active = store.active_reversals(conn, ids)
        return [
            PaymentView(
                p,
                tuple(events[p.id]),
                domain.postings_of(p, p.id in paid_back),
                active.get(p.id),
            )
            for p in payments
        ]

    def payment(self, cvr: str, payment_id: UUID) -> PaymentView:
        self.check_authority(cvr)
        with db.read(self.engine) as conn:
            p = store.find_payment(conn, self.fagsystem_id, payment_id)
            if p is None or p.authority_cvr != cvr:
                raise Refused(FejlKode.INDBETALING_UKENDT, "Indbetalingen findes ikke")
            return self._views(conn, [p])[0]

    def payments(
        self,
        cvr: str,
        *,
        part_id: str | None = None,
        claim_id: UUID | None = None,
        state: PaymentState | None = None,
        key: str | None = None,
        size: int = PAGE_SIZE,
    ) -> Page[PaymentView]:
        """The authority's payments, newest first, a page at a time."""
        self.check_authority(cvr)
        query = ("indbetalinger", cvr, part_id, claim_id and str(claim_id), state, size)
        after = read_page_key(key, query)
        with db.read(self.engine) as conn:
            found = store.list_payments(
                conn,
                self.fagsystem_id,
                cvr,
                part_id=part_id,
                claim_id=claim_id,
                state=state,
                after=after,
                limit=size + 1,
            )
            views = self._views(conn, found[:size])
        next_key = None
        if len(found) > size:
            last = found[size - 1]
            next_key = page_key(query, last.created_at, last.id)
        return Page(views, next_key)

    def reversal(self, cvr: str, reversal_id: UUID) -> Reversal:
        self.check_authority(cvr)
        with db.read(self.engine) as conn:
            r = store.find_reversal(conn, self.fagsystem_id, reversal_id)
        if r is None or r.authority_cvr != cvr:
            raise Refused(FejlKode.TILBAGEFOERSEL_UKENDT, "Tilbageførslen findes ikke")
        return r

    def reversals(
        self,
        cvr: str,
        *,
        state: ReversalState | None = None,
        key: str | None = None,
        size: int = PAGE_SIZE,
    ) -> Page[Reversal]:
        """The authority's reversals, to handle or handled, newest first."""
        self.check_authority(cvr)
        query = ("tilbagefoersler", cvr, state, size)
        after = read_page_key(key, query)
        with db.read(self.engine) as conn:
            found = store.list_reversals(
                conn, self.fagsystem_id, cvr, state=state, after=after, limit=size + 1
            )
        next_key = None
        if len(found) > size:
            last = found[size - 1]
            next_key = page_key(query, last.created_at, last.id)
        return Page(found[:size], next_key)

    # --- reversals ---------------------------------------------------------------------------

    def _new_reversal(
        self,
        conn: Connection,
        payment: Payment,
        source: ReversalSource,
        *,
        order_id: UUID | None,
        overcoverage: int | None,
        text: str | None,
        now: datetime,
    ) -> Reversal | None:
        """A reversal of `payment`, made its one active reversal; None when one is active."""
        reversal = Reversal(
            id=self.new_id(),
            fagsystem_id=self.fagsystem_id,
            authority_cvr=payment.authority_cvr,
            payment_id=payment.id,
            source=source,
            amount=payment.amount,
            created_at=now,
            order_id=order_id,
            overcoverage=overcoverage,
            text=text,
        )
        if not store.take_reversal_slot(conn, payment.id, reversal.id):
            return None
        if not store.insert_reversal(conn, reversal):
            raise Refused(
                FejlKode.TILBAGEFOERSEL_FINDES,
                f"Der findes allerede en tilbageførsel med ordren {order_id}",
            )
        store.add_events(conn, domain.new_reversal(reversal, payment).events)
        return reversal

    def create_reversal(self, cvr: str, request: ReversalRequest) -> tuple[Reversal, bool]:
        """Put a reversal in motion by hand (`AFVENTER`); True when it is new. The same request
        again answers the reversal it made (R4); another while one is active is refused."""
        self.check_authority(cvr)
        if request.source is ReversalSource.ORDRE:
            raise Refused(
                FejlKode.KILDE_UGYLDIG,
                "Kilde ORDRE kommer kun fra debitorsystemets tilbageførselsordrer",
            )
        now = self.clock()
        with db.write(self.engine) as conn:
            payment = store.find_payment(conn, self.fagsystem_id, request.payment_id, lock=True)
            if payment is None or payment.authority_cvr != cvr:
                raise Refused(FejlKode.INDBETALING_UKENDT, "Indbetalingen findes ikke")
            active_id = store.active_reversal_of(conn, payment.id)
            if active_id is not None:
                active = store.find_reversal(conn, self.fagsystem_id, active_id)
                if active is not None and (active.source, active.order_id) == (
                    request.source,
                    request.order_id,
                ):
                    return active, False
                raise Refused(
                    FejlKode.TILBAGEFOERSEL_FINDES,
                    f"Indbetalingen har allerede tilbageførslen {active_id}",
                )
            if payment.state is not PaymentState.ACCEPTERET:
                raise Refused(
                    FejlKode.INDBETALING_IKKE_ACCEPTERET,
                    f"Indbetalingen er {payment.state.value}; "
                    "kun en modtaget indbetaling tilbageføres",
                )
            if request.order_id is not None and store.reversal_by_order(
                conn, self.fagsystem_id, request.order_id
            ):
                raise Refused(
                    FejlKode.TILBAGEFOERSEL_FINDES,
                    f"Der findes allerede en tilbageførsel med ordren {request.order_id}",
                )
            reversal = self._new_reversal(
                conn,
                payment,
                request.source,
                order_id=request.order_id,
                overcoverage=None,
                text=request.text,
                now=now,
            )
        if reversal is None:  # pragma: no cover - the payment row is locked above
            raise RuntimeError("the payment got a reversal meanwhile")
        return reversal, True

    def _execution(self, split: Split | None) -> Execution:
        return Execution(
            split=split,
            automatic=split is None,
            reverse_transaction_uuid=self.new_id(),
            repay_payment_id=self.new_id(),
            repay_transaction_uuid=self.new_id(),
            payback_id=self.new_id(),
        )

    def _start(
        self, conn: Connection, reversal: Reversal, payment: Payment, split: Split | None
    ) -> None:
        now = self.clock()
        after, events = domain.execute(reversal, payment, self._execution(split), now)
        if events:
            store.save_reversal(conn, after, now, next_attempt_at=now)
            store.add_events(conn, events)

    def start_execution(self, cvr: str, reversal_id: UUID, split: Split) -> None:
        """`udfoer`, step one: fix the split and the ids and TransactionUUIDs of each step. The
        same split again changes nothing (R4); another is refused."""
        self.check_authority(cvr)
        with db.write(self.engine) as conn:
            found = store.find_reversal(conn, self.fagsystem_id, reversal_id)
            if found is None or found.authority_cvr != cvr:
                raise Refused(FejlKode.TILBAGEFOERSEL_UKENDT, "Tilbageførslen findes ikke")
            payment = store.find_payment(conn, self.fagsystem_id, found.payment_id, lock=True)
            reversal = store.find_reversal(conn, self.fagsystem_id, reversal_id, lock=True)
            if payment is None or reversal is None:  # pragma: no cover - rows are never deleted
                raise RuntimeError("a reversal without its payment")
            self._start(conn, reversal, payment, split)

    async def execute(self, cvr: str, reversal_id: UUID, split: Split) -> Reversal:
        """`udfoer`: reverse at the debitorsystem, pay again and pay back; wait a short while
        for it and answer the reversal as it is (`UDFOERT`, or still `AFVENTER`)."""
        await asyncio.to_thread(self.start_execution, cvr, reversal_id, split)
        await self._wait(self.ensure_running(Work.REVERSAL, reversal_id))
        return await asyncio.to_thread(self.reversal, cvr, reversal_id)

    def _claim_reversal(self, reversal_id: UUID) -> tuple[str, UUID, ReversalCall, int] | None:
        """The reversal call to make (counted, leased), or None: answered already, or its
        payment has no answer yet (it waits), or the payment was refused (the reversal too)."""
        now = self.clock()
        with db.write(self.engine) as conn:
            r = store.find_reversal(conn, self.fagsystem_id, reversal_id)
            if r is None or r.step is not StepState.VENTER or r.execution is None:
                return None
            payment = store.find_payment(conn, self.fagsystem_id, r.payment_id)
            if payment is None:  # pragma: no cover - rows are never deleted
                return None
            if payment.state is PaymentState.AFSENDT:
                store.retry_reversal_at(
                    conn, reversal_id, now + retry_delay(0, self.timing, self.rng)
                )
                return None
            if payment.state is not PaymentState.ACCEPTERET:
                self._settle(
                    conn,
                    r,
                    payment,
                    domain.Answer(
                        accepted=False,
                        error_code=FejlKode.INDBETALING_IKKE_ACCEPTERET.value,
                        error_text=f"Indbetalingen er {payment.state.value}",
                    ),
                    now,
                )
                return None
            lease = now + timedelta(seconds=self.timing.lease_seconds)
            attempts = store.claim_reversal_send(conn, reversal_id, lease)
        if attempts is None:
            return None
        call = ReversalCall(
            payment_id=r.payment_id,
            reason=ReversalReason(r.reason.value),
            order_id=r.order_id,
            text=r.text,
        )
        return r.authority_cvr, r.execution.reverse_transaction_uuid, call, attempts

    def _settle(
        self,
        conn: Connection,
        reversal: Reversal,
        payment: Payment,
        answer: domain.Answer,
        now: datetime,
    ) -> UUID | None:
        """Store what the reversal's answer does (`domain.answer_reversal`) in the open
        transaction; the id of the new payment to send, if any."""
        outcome = domain.answer_reversal(
            reversal, payment, answer, chart=self.config.chart, now=now, today=self.today()
        )
        store.save_reversal(conn, outcome.reversal, now)
        if outcome.reversal.state is ReversalState.AFVIST:
            store.free_reversal_slot(conn, payment.id, reversal.id)
        if outcome.payment != payment:
            store.settle_payment(conn, payment, outcome.payment, now)
        store.add_events(conn, outcome.events)
        self._book(conn, outcome.postings, now)
        if outcome.payback is not None:
            self._pay_back(conn, outcome.payback, now)
        store.mark_orders(conn, self.fagsystem_id, payment.id, outcome.reversal.state.value)
        if outcome.repay is None:
            return None
        store.insert_payment(conn, outcome.repay)
        store.add_events(conn, domain.new_payment(outcome.repay).events)
        return outcome.repay.id

    def _store_reversal_answer(self, reversal_id: UUID, answer: BusinessAnswer) -> UUID | None:
        now = self.clock()
        with db.write(self.engine) as conn:
            found = store.find_reversal(conn, self.fagsystem_id, reversal_id)
            if found is None:  # pragma: no cover - rows are never deleted
                return None
            payment = store.find_payment(conn, self.fagsystem_id, found.payment_id, lock=True)
            reversal = store.find_reversal(conn, self.fagsystem_id, reversal_id, lock=True)
            if payment is None or reversal is None or reversal.step is not StepState.VENTER:
                return None  # answered already
            return self._settle(conn, reversal, payment, _answer(answer), now)

    async def run_reversal(self, reversal_id: UUID) -> None:
        """Send an executed reversal once and store its answer; then send the new payment of
        `Genindbetal` (the pay-back went to the outbox with the answer)."""
        claimed = await asyncio.to_thread(self._claim_reversal, reversal_id)
        if claimed is None:
            return
        cvr, transaction_uuid, call, attempts = claimed
        try:
            answer = await self.port.reverse(cvr, transaction_uuid, call)
        except Exception as exc:  # no business answer, whatever went wrong: send it again
            self._log_no_answer(Work.REVERSAL, reversal_id, attempts, exc)
            await asyncio.to_thread(self._send_later, Work.REVERSAL, reversal_id, attempts)
            return
        crash_point("fagsystem.reversal.answered")
        repay_id = await asyncio.to_thread(self._store_reversal_answer, reversal_id, answer)
        if repay_id is not None:
            await asyncio.shield(self.ensure_running(Work.PAYMENT, repay_id))

    # --- reversal orders (the receiver's intake) ---------------------------------------------

    def take(self, conn: Connection, order: ReceivedReversalOrder, now: datetime) -> bool:
        """In the receiver's transaction (the order is kept already): an order for a payment
        this fagsystem made becomes a reversal with Kilde `ORDRE` (executed at once under
        `AUTOMATISK`); False when it does not know the payment (the receiver keeps nothing
        then). An order for a payment that has a reversal already joins that one: it lends
        its order id to a reversal that has none and is not executed, and takes the state of
        a settled one."""
        payment = store.find_payment(conn, self.fagsystem_id, order.payment_id, lock=True)
        if payment is None or payment.authority_cvr != order.authority_cvr:
            return False
        active_id = store.active_reversal_of(conn, payment.id)
        if active_id is not None:
            active = store.find_reversal(conn, self.fagsystem_id, active_id, lock=True)
            if active is None:  # pragma: no cover - rows are never deleted
                return True
            if active.order_id is None and active.execution is None:
                joined = replace(active, order_id=order.order_id, overcoverage=order.overcoverage)
                store.save_reversal(conn, joined, now)
            if active.state is not ReversalState.AFVENTER:
                store.mark_orders(conn, self.fagsystem_id, payment.id, active.state.value)
            return True
        reversal = self._new_reversal(
            conn,
            payment,
            ReversalSource.ORDRE,
            order_id=order.order_id,
            overcoverage=order.overcoverage,
            text=order.text,
            now=now,
        )
        if reversal is not None and self.config.policy is ReversalPolicy.AUTOMATISK:
            self._start(conn, reversal, payment, None)
        return True

    def taken(self, order: ReceivedReversalOrder) -> None:
        """After the order's commit: under `AUTOMATISK` the sender has work."""
        del order
        if self.config.policy is ReversalPolicy.AUTOMATISK:
            self.wake()

    # --- sending -----------------------------------------------------------------------------

    def due(self, everything: bool = False) -> list[tuple[Work, UUID]]:
        """What to send now: payments `AFSENDT` and executed reversals waiting for an answer
        whose next send is due; with `everything` (a sender's first look after a start) all
        of them, whenever they were due."""
        now = None if everything else self.clock()
        limit = self.timing.batch_size
        with db.read(self.engine) as conn:
            reversals = store.due_reversals(conn, self.fagsystem_id, now, limit)
            payments = store.due_payments(conn, self.fagsystem_id, now, limit)
        return [(Work.REVERSAL, r) for r in reversals] + [(Work.PAYMENT, p) for p in payments]

    def ensure_running(self, work: Work, item_id: UUID) -> asyncio.Task[None]:
        """The task that sends this payment or reversal: the one running in this process, or a
        new one. Nobody cancels it; callers wait for it (`asyncio.wait`, `asyncio.shield`)."""
        key = (work, item_id)
        task = self._running.get(key)
        if task is None:
            coroutine = (
                self.send_payment(item_id) if work is Work.PAYMENT else self.run_reversal(item_id)
            )
            task = asyncio.get_running_loop().create_task(coroutine, name=f"{work}:{item_id}")
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: tuple[Work, UUID], task: asyncio.Task[None]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s %s failed", *key, exc_info=task.exception())

    @property
    def running(self) -> int:
        """How many sends run in this process now."""
        return len(self._running)

    async def _wait(self, task: asyncio.Task[None]) -> None:
        """Wait for a send at most `answer_wait_seconds`; it goes on if it takes longer."""
        await asyncio.wait({task}, timeout=self.timing.answer_wait_seconds)

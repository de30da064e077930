"""The debitorsystem's use cases: one function per operation, one transaction each.

DebitorIndbetalingAfsend's operations are idempotent per (calling it-system, TransactionUUID)
(see `indbetaling.idempotency`) and answer with the wire's own field names, so SOAP and REST
render the same stored answer. Every change to a claim writes its FordringTilIndbetaling message
to the outbox in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from indbetaling import db, idempotency, outbox
from indbetaling.debitorsystem import domain, store
from indbetaling.debitorsystem.domain import ClaimLedger, FejlKode, Rejected, ReversalReason
from indbetaling.fordring import LiableParty, view_to_json
from indbetaling.ids import InvalidId, parse_part_id
from indbetaling.money import InvalidAmount, format_ore, parse_amount

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
MESSAGE_TOPIC = "OekonomiFordringTilIndbetaling"
MAX_PAGE = 1000
DEFAULT_PAGE = 100
RETRIES = 8
MIN_RETENTION = timedelta(days=30)

Answer = dict[str, Any]
T = TypeVar("T")


class InvalidRequest(ValueError):
    """The request's shape is wrong (not a business answer): a SOAP Client fault / HTTP 400."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- answers ---------------------------------------------------------------------------------


def accepted(**fields: Any) -> Answer:
    return {"Forretningskvittering": {"ForretningsValideringsKode": "ACCEPTERET"}, **fields}


def rejected(code: FejlKode, text: str, **fields: Any) -> Answer:
    return {
        "Forretningskvittering": {
            "ForretningsValideringsKode": "AFVIST",
            "FejlListe": {"Fejl": [{"FejlKode": code.value, "FejlTekst": text}]},
        },
        **fields,
    }


def rejection_answer(r: Rejected) -> Answer:
    extra = {"Restance": format_ore(r.restance)} if r.restance is not None else {}
    return rejected(r.code, r.text, **extra)


def transaction_conflict() -> Answer:
    return rejected(
        FejlKode.TRANSAKTION_KONFLIKT,
        "TransactionUUID er allerede brugt til en anden forespørgsel",
    )


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    part_id: str | None = None
    account_id: UUID | None = None
    claim_id: UUID | None = None
    account_type_code: str | None = None
    claim_type_code: str | None = None
    max_count: int = DEFAULT_PAGE
    cursor: str | None = None


@dataclass(frozen=True)
class PaymentRequest:
    """ForetagIndbetaling's `Indbetaling`; `amount` is the wire text, checked here (R2)."""

    payment_id: UUID
    claim_id: UUID
    amount: str
    payment_date: date
    payer_part_id: str
    org_unit_id: UUID
    text: str | None = None

    def canonical(self) -> dict[str, Any]:
        return {
            "IndbetalingId": str(self.payment_id),
            "FordringId": str(self.claim_id),
            "Beloeb": self.amount.strip(),
            "Betalingsdato": self.payment_date.isoformat(),
            "IndbetalerPartId": self.payer_part_id,
            "IndbetalendeOrganisationsenhedId": str(self.org_unit_id),
            "Tekst": self.text,
        }


@dataclass(frozen=True)
class ReversalRequest:
    payment_id: UUID
    reason: ReversalReason
    order_id: UUID | None = None
    text: str | None = None

    def canonical(self) -> dict[str, Any]:
        return {
            "IndbetalingId": str(self.payment_id),
            "AarsagKode": self.reason.value,
            "TilbagefoerselsOrdreId": str(self.order_id) if self.order_id else None,
            "Tekst": self.text,
        }


@dataclass(frozen=True)
class NewClaim:
    account_id: UUID
    claim_type_code: str
    principal: int
    due_date: date
    last_timely_payment_date: date
    liable_parties: tuple[LiableParty, ...]
    payment_period_from: date | None = None
    payment_period_to: date | None = None


@dataclass(frozen=True)
class LedgerChange:
    """What a staff operation did: the claim afterwards and the reversal orders it made."""

    ledger: ClaimLedger
    orders: tuple[domain.ReversalOrder, ...]


# --- the service -----------------------------------------------------------------------------


class DebitorService:
    def __init__(
        self,
        engine: Engine,
        *,
        system_id: UUID,
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], UUID] = uuid.uuid4,
    ) -> None:
        self.engine = engine
        self.system_id = system_id
        self.clock = clock
        self.new_id = new_id

    # -- plumbing

    def today(self) -> date:
        return self.clock().astimezone(COPENHAGEN).date()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with db.write(self.engine) as conn:
            yield conn

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a whole transaction again when the database refused it for a race it lost
        (a unique key taken meanwhile, a deadlock); the next attempt sees the winner's work."""
        for n in range(RETRIES):
            try:
                return attempt()
            except IntegrityError:
                if n == RETRIES - 1:
                    raise
            except DBAPIError as exc:
                if not _is_transient(exc) or n == RETRIES - 1:
                    raise
            time.sleep(0.005 * (2**n))
        raise AssertionError("unreachable")

    def _announce(
        self, conn: Connection, before: ClaimLedger | None, after: ClaimLedger, now: datetime
    ) -> None:
        """Write the claim's FordringTilIndbetaling message to the outbox (CONTRACT §6)."""
        if before is None:
            handling = "Oprettet"
        elif before.is_payable(self.today()) and not after.is_payable(self.today()):
            handling = "Afsluttet"
        elif before.view() == after.view():
            return
        else:
            handling = "Aendret"
        besked_id = self.new_id()
        payload = {
            "BeskedId": str(besked_id),
            "TransaktionsId": str(self.new_id()),
            "ObjektHandling": handling,
            "Dannelsestidspunkt": now.isoformat(),
            "Kildesystem": str(self.system_id),
            "FordringTilIndbetaling": view_to_json(after.view()),
        }
        outbox.enqueue(
            conn,
            store.outbox,
            topic=MESSAGE_TOPIC,
            message_id=str(besked_id),
            payload=idempotency.canonical_json(payload),
            now=now,
        )

    # -- DebitorIndbetalingAfsend

    def search(self, caller: UUID, cvr: str, request: SearchRequest) -> Answer:
        """SoegFordringTilIndbetaling (IF01): the calling authority's payable claims, paged."""
        del caller  # every fagsystem with an agreement sees the authority's payable claims
        if not (request.part_id or request.account_id or request.claim_id):
            raise InvalidRequest("Angiv mindst én af PartId, DebitorkontoId og FordringId")
        if not 1 <= request.max_count <= MAX_PAGE:
            raise InvalidRequest(f"MaksimaltAntal skal være mellem 1 og {MAX_PAGE}")
        if request.part_id is not None:
            try:
                parse_part_id(request.part_id)
            except InvalidId as exc:
                raise InvalidRequest(str(exc)) from None
        query = store.ClaimQuery(
            authority_cvr=cvr,
            part_id=request.part_id,
            account_id=request.account_id,
            claim_id=request.claim_id,
            account_type_code=request.account_type_code,
            claim_type_code=request.claim_type_code,
        )
        after = _read_cursor(request.cursor, query) if request.cursor else None
        today = self.today()
        with db.read(self.engine) as conn:
            ids = store.payable_claim_ids(
                conn, query, today=today, after=after, limit=request.max_count + 1
            )
            page, more = ids[: request.max_count], len(ids) > request.max_count
            ledgers = store.load_ledgers(conn, page)
        answer = accepted(
            FordringTilIndbetaling=[view_to_json(ledgers[i].view()) for i in page if i in ledgers]
        )
        if more:
            answer["FortsaettelsesNoegle"] = _make_cursor(query, page[-1])
        return answer

    def pay(self, caller: UUID, cvr: str, transaction_uuid: str, request: PaymentRequest) -> bytes:
        """ForetagIndbetaling (IF03); returns the stored canonical answer."""
        return self._once(
            caller,
            transaction_uuid,
            "ForetagIndbetaling",
            {"cvr": cvr, **request.canonical()},
            lambda conn, now: self._pay(conn, caller, cvr, request, now),
        )

    def _once(
        self,
        caller: UUID,
        transaction_uuid: str,
        operation: str,
        request: dict[str, Any],
        work: Callable[[Connection, datetime], Answer],
    ) -> bytes:
        """One idempotent operation in one transaction, retried whole if it lost a race."""

        def attempt() -> bytes:
            now = self.clock()
            with self._write() as conn:
                return idempotency.run_once(
                    conn,
                    store.idempotency_answers,
                    caller=str(caller),
                    key=transaction_uuid,
                    operation=operation,
                    request=request,
                    now=now,
                    work=lambda: work(conn, now),
                    conflict=transaction_conflict,
                )

        return self._retrying(attempt)

    def _pay(
        self, conn: Connection, caller: UUID, cvr: str, request: PaymentRequest, now: datetime
    ) -> Answer:
        try:
            amount = parse_amount(request.amount)
        except InvalidAmount as exc:
            return rejected(FejlKode.BELOEB_UGYLDIGT, str(exc))
        payment = domain.Payment(
            payment_id=request.payment_id,
            claim_id=request.claim_id,
            amount=amount,
            payment_date=request.payment_date,
            payer_part_id=request.payer_part_id,
            org_unit_id=request.org_unit_id,
            text=request.text,
        )
        found = store.lock_claim(conn, request.claim_id, cvr)
        earlier = store.find_owned_payment(conn, caller, request.payment_id)
        if earlier is not None:
            return self._repeat_payment(conn, caller, payment, earlier)
        try:
            if not found:
                raise Rejected(FejlKode.FORDRING_UKENDT, "Fordringen findes ikke")
            if not store.org_unit_in_assortment(conn, caller, cvr, request.org_unit_id):
                raise Rejected(
                    FejlKode.ORGANISATIONSENHED_UKENDT,
                    "Den indbetalende organisationsenhed er ikke i fagsystemets sortiment",
                )
            before = store.load_ledger(conn, request.claim_id)
            if before is None:
                raise Rejected(FejlKode.FORDRING_UKENDT, "Fordringen findes ikke")
            after, coverage = domain.pay(
                before,
                payment,
                owner_id=caller,
                today=self.today(),
                coverage_id=self.new_id(),
            )
        except Rejected as r:
            return rejection_answer(r)
        store.insert_coverage(conn, coverage, now)
        self._announce(conn, before, after, now)
        return accepted(DaekningId=str(coverage.id), Restance=format_ore(after.restance))

    def _repeat_payment(
        self,
        conn: Connection,
        caller: UUID,
        payment: domain.Payment,
        earlier: store.PaymentLocation,
    ) -> Answer:
        """The same IndbetalingId again: its original answer if the content is the same."""
        ledger = store.load_ledger(conn, earlier.claim_id)
        coverage = ledger.payment_coverage(caller, payment.payment_id) if ledger else None
        if coverage is None or coverage.payment != payment:
            return rejected(
                FejlKode.INDBETALINGID_KONFLIKT,
                "IndbetalingId er allerede brugt til en anden indbetaling",
            )
        return accepted(DaekningId=str(coverage.id), Restance=format_ore(coverage.restance_after))

    def reverse(
        self, caller: UUID, cvr: str, transaction_uuid: str, request: ReversalRequest
    ) -> bytes:
        """ForetagIndbetalingNedregulering (IF05): the owner reverses its payment in full."""
        return self._once(
            caller,
            transaction_uuid,
            "ForetagIndbetalingNedregulering",
            {"cvr": cvr, **request.canonical()},
            lambda conn, now: self._reverse(conn, caller, cvr, request, now),
        )

    def _reverse(
        self, conn: Connection, caller: UUID, cvr: str, request: ReversalRequest, now: datetime
    ) -> Answer:
        try:
            owned = store.find_owned_payment(conn, caller, request.payment_id)
            if owned is None or not store.lock_claim(conn, owned.claim_id, cvr):
                if store.find_payments(conn, cvr, request.payment_id):
                    raise Rejected(
                        FejlKode.IKKE_EJER, "Indbetalingen er foretaget af et andet fagsystem"
                    )
                raise Rejected(FejlKode.INDBETALING_UKENDT, "Indbetalingen findes ikke")
            before = store.load_ledger(conn, owned.claim_id)
            coverage = before.payment_coverage(caller, request.payment_id) if before else None
            if before is None or coverage is None:
                raise Rejected(FejlKode.INDBETALING_UKENDT, "Indbetalingen findes ikke")
            after, reversal = domain.reverse(
                before, coverage, reason=request.reason, order_id=request.order_id
            )
        except Rejected as r:
            return rejection_answer(r)
        if not reversal.already_reversed:
            store.insert_reversal(
                conn,
                coverage.id,
                reason=request.reason,
                order_id=request.order_id,
                text=request.text,
                now=now,
            )
            store.set_order_states(conn, reversal.executed_orders, now)
            self._announce(conn, before, after, now)
        return accepted(Restance=format_ore(after.restance))

    def forget_old_answers(self, retention: timedelta) -> int:
        """Drop stored idempotent answers older than `retention` (at least 30 days, CONTRACT §5).

        A payment retried after that still pays once: its IndbetalingId answers the original.
        """
        if retention < MIN_RETENTION:
            raise ValueError("answers are kept at least 30 days")
        with self._write() as conn:
            return idempotency.purge(
                conn, store.idempotency_answers, now=self.clock(), retention=retention
            )

    # -- collections staff

    def create_authority(self, cvr: str, name: str) -> None:
        with self._write() as conn:
            conn.execute(store.authorities.insert().values(cvr=cvr, name=name))

    def register_fagsystem(
        self,
        fagsystem_id: UUID,
        name: str,
        org_units: dict[str, list[UUID]],
        *,
        accepts_reversal_orders: bool = True,
    ) -> None:
        """A fagsystem and its assortment: the ORG units it may pay from, per authority (R10)."""
        with self._write() as conn:
            conn.execute(
                store.fagsystems.insert().values(
                    id=fagsystem_id,
                    name=name,
                    accepts_reversal_orders=int(accepts_reversal_orders),
                )
            )
            rows = [
                {"fagsystem_id": fagsystem_id, "authority_cvr": cvr, "org_unit_id": unit}
                for cvr, units in org_units.items()
                for unit in units
            ]
            if rows:
                conn.execute(store.assortment.insert(), rows)

    def create_account(
        self, cvr: str, type_code: str, owner_fagsystem_id: UUID | None = None
    ) -> UUID:
        account_id = self.new_id()
        with self._write() as conn:
            if (
                conn.execute(
                    select(store.authorities.c.cvr).where(store.authorities.c.cvr == cvr)
                ).first()
                is None
            ):
                raise Rejected(FejlKode.FORDRING_UKENDT, "Myndigheden findes ikke")
            if (
                owner_fagsystem_id is not None
                and conn.execute(
                    select(store.fagsystems.c.id).where(store.fagsystems.c.id == owner_fagsystem_id)
                ).first()
                is None
            ):
                raise InvalidRequest("Fagsystemet findes ikke")
            conn.execute(
                store.accounts.insert().values(
                    id=account_id,
                    authority_cvr=cvr,
                    type_code=type_code,
                    owner_fagsystem_id=owner_fagsystem_id,
                    created_at=self.clock(),
                )
            )
        return account_id

    def create_claim(self, cvr: str, new: NewClaim) -> ClaimLedger:
        if new.principal <= 0:
            raise InvalidRequest("Hovedstolen skal være større end 0")
        if not new.liable_parties:
            raise InvalidRequest("En fordring skal have mindst én hæfter")
        if len({p.part_id for p in new.liable_parties}) != len(new.liable_parties):
            raise InvalidRequest("En hæfter må kun stå én gang i hæfterkredsen")
        for p in new.liable_parties:
            try:
                parse_part_id(p.part_id)
            except InvalidId as exc:
                raise InvalidRequest(str(exc)) from None
        if (
            new.payment_period_from
            and new.payment_period_to
            and new.payment_period_from > new.payment_period_to
        ):
            raise InvalidRequest("Betalingsperioden slutter før den begynder")
        claim_id = self.new_id()
        now = self.clock()
        with self._write() as conn:
            account = conn.execute(
                select(store.accounts.c.type_code).where(
                    store.accounts.c.id == new.account_id, store.accounts.c.authority_cvr == cvr
                )
            ).first()
            if account is None:
                raise Rejected(FejlKode.FORDRING_UKENDT, "Debitorkontoen findes ikke")
            conn.execute(
                store.claims.insert().values(
                    id=claim_id,
                    account_id=new.account_id,
                    authority_cvr=cvr,
                    claim_type_code=new.claim_type_code,
                    principal_ore=new.principal,
                    due_date=new.due_date,
                    last_timely_payment_date=new.last_timely_payment_date,
                    payment_period_from=new.payment_period_from,
                    payment_period_to=new.payment_period_to,
                    created_at=now,
                )
            )
            conn.execute(
                store.liable_parties.insert(),
                [
                    {"claim_id": claim_id, "part_id": p.part_id, "role": p.role}
                    for p in new.liable_parties
                ],
            )
            ledger = store.load_ledger(conn, claim_id)
            assert ledger is not None  # noqa: S101 - inserted just above
            self._announce(conn, None, ledger, now)
        return ledger

    def _change_claim(
        self,
        cvr: str,
        claim_id: UUID,
        change: Callable[[Connection, ClaimLedger, datetime], LedgerChange],
    ) -> LedgerChange:
        """Lock the claim, let `change` apply a rule and write its facts, then store the
        reversal orders it made and the claim's message, all in one transaction."""

        def attempt() -> LedgerChange:
            now = self.clock()
            with self._write() as conn:
                if not store.lock_claim(conn, claim_id, cvr):
                    raise Rejected(FejlKode.FORDRING_UKENDT, "Fordringen findes ikke")
                before = store.load_ledger(conn, claim_id)
                assert before is not None  # noqa: S101 - locked just above
                result = change(conn, before, now)
                store.insert_orders(conn, result.orders, now)
                self._announce(conn, before, result.ledger, now)
                return result

        return self._retrying(attempt)

    def write_down(self, cvr: str, claim_id: UUID, amount: int, text: str | None) -> LedgerChange:
        """Nedregulering; orders reversals of fagsystem payments for any over-coverage (R6)."""

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, wd, orders = domain.write_down(
                ledger, amount, write_down_id=self.new_id(), text=text, now=now, new_id=self.new_id
            )
            store.insert_write_down(conn, wd, now)
            return LedgerChange(after, orders)

        return self._change_claim(cvr, claim_id, change)

    def annul(self, cvr: str, claim_id: UUID, text: str | None) -> LedgerChange:
        """Annulment: the claim is no longer owed; every coverage becomes over-coverage."""

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, wd, orders = domain.annul(
                ledger, write_down_id=self.new_id(), text=text, now=now, new_id=self.new_id
            )
            if wd is not None:
                store.insert_write_down(conn, wd, now)
            store.mark_annulled(conn, claim_id, now)
            return LedgerChange(after, orders)

        return self._change_claim(cvr, claim_id, change)

    def register_other_coverage(self, cvr: str, claim_id: UUID, amount: int) -> LedgerChange:
        """A coverage from outside the fagsystems, e.g. a bank payment (never beyond Restance)."""

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, coverage = domain.register_other_coverage(
                ledger, amount, coverage_id=self.new_id()
            )
            store.insert_coverage(conn, coverage, now)
            return LedgerChange(after, ())

        return self._change_claim(cvr, claim_id, change)

    def is_empty(self) -> bool:
        """True while no authority is registered (a new debitorsystem)."""
        with db.read(self.engine) as conn:
            return conn.execute(select(store.authorities.c.cvr).limit(1)).first() is None

    def issue_staff_token(self, cvr: str, name: str) -> str:
        """A bearer token for collections staff of one authority; only its hash is kept."""
        token = secrets.token_urlsafe(32)
        with self._write() as conn:
            conn.execute(
                store.staff_tokens.insert().values(
                    token_sha256=_sha256(token), authority_cvr=cvr, name=name
                )
            )
        return token

    def staff_authority(self, token: str) -> str | None:
        """The authority a staff token belongs to, or None for an unknown token."""
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(store.staff_tokens.c.authority_cvr).where(
                    store.staff_tokens.c.token_sha256 == _sha256(token)
                )
            ).first()
        return str(row.authority_cvr) if row else None

    def claim(self, cvr: str, claim_id: UUID) -> ClaimLedger:
        with db.read(self.engine) as conn:
            ledger = store.load_ledger(conn, claim_id)
        if ledger is None or ledger.claim.authority_cvr != cvr:
            raise Rejected(FejlKode.FORDRING_UKENDT, "Fordringen findes ikke")
        return ledger

    def reversal_orders(
        self, cvr: str, state: domain.OrderState | None = None, limit: int = 500
    ) -> list[domain.ReversalOrder]:
        query = select(store.reversal_orders).where(store.reversal_orders.c.authority_cvr == cvr)
        if state is not None:
            query = query.where(store.reversal_orders.c.state == state.value)
        query = query.order_by(store.reversal_orders.c.created_at.desc()).limit(limit)
        with db.read(self.engine) as conn:
            return [store.order_from_row(r) for r in conn.execute(query)]


# --- cursors ---------------------------------------------------------------------------------


def _query_hash(query: store.ClaimQuery) -> str:
    data = json.dumps([str(v) if v is not None else None for v in vars(query).values()])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _make_cursor(query: store.ClaimQuery, last: UUID) -> str:
    raw = json.dumps({"q": _query_hash(query), "a": str(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str, query: store.ClaimQuery) -> UUID:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = UUID(data["a"])
        bound = data["q"]
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest("FortsaettelsesNoegle er ugyldig") from None
    if bound != _query_hash(query):
        raise InvalidRequest("FortsaettelsesNoegle hører til en anden søgning")
    return after


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _is_transient(exc: DBAPIError) -> bool:
    """Deadlocks and serialization failures (PostgreSQL), a busy database (SQLite)."""
    code = getattr(exc.orig, "sqlstate", None)
    if code in {"40001", "40P01"}:
        return True
    return "database is locked" in str(exc.orig)

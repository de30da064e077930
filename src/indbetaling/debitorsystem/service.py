"""DebitorIndbetalingAfsend's use cases (search, pay, reverse) and the forgetting of old answers:
one function per operation, one transaction each. The collections staff's use cases are in
`staff`; `DebitorService` offers both.

DebitorIndbetalingAfsend's operations are idempotent per (calling it-system, TransactionUUID)
(see `indbetaling.idempotency`) and answer with the wire's own field names, so SOAP and REST
render the same stored answer. Every change to a claim writes its FordringTilIndbetaling message
to the outbox in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy import Connection

from indbetaling import db, idempotency
from indbetaling.debitorsystem import domain, store
from indbetaling.debitorsystem.domain import FejlKode, Rejected, ReversalReason
from indbetaling.debitorsystem.staff import NewClaim, StaffUseCases
from indbetaling.debitorsystem.transactions import MESSAGE_TOPIC, InvalidRequest
from indbetaling.fordring import view_to_json
from indbetaling.ids import InvalidId, parse_part_id
from indbetaling.money import InvalidAmount, format_ore, parse_amount

__all__ = [  # NewClaim, MESSAGE_TOPIC and InvalidRequest: re-exported for the callers
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "MESSAGE_TOPIC",
    "DebitorService",
    "InvalidRequest",
    "NewClaim",
    "PaymentRequest",
    "ReversalRequest",
    "SearchRequest",
]

MAX_PAGE = 1000
DEFAULT_PAGE = 100
MIN_RETENTION = timedelta(days=30)

Answer = dict[str, Any]


# --- answers ---------------------------------------------------------------------------------

PAYMENTS = Counter(
    "indbetaling_payments_total",
    "ForetagIndbetaling answered, by ForretningsValideringsKode (outcome) and FejlKode",
    ["outcome", "fejlkode"],
)


def count_payment(stored: bytes) -> None:
    """Count an answered payment (a replayed answer too: each answer a caller got)."""
    receipt = json.loads(stored)["Forretningskvittering"]
    errors = receipt.get("FejlListe", {}).get("Fejl", [])
    code = errors[0]["FejlKode"] if errors else ""
    PAYMENTS.labels(outcome=receipt["ForretningsValideringsKode"], fejlkode=code).inc()


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


def payment_id_taken() -> Answer:
    """An IndbetalingId the owner used before for another payment. An IndbetalingId is unique
    per owner forever, across authorities: used under another authority it is taken (so no
    IndbetalingId is ever made twice), and the answer says only that, never the other
    authority's DaekningId or Restance (R13), whatever the request holds."""
    return rejected(
        FejlKode.INDBETALINGID_KONFLIKT,
        "IndbetalingId er allerede brugt til en anden indbetaling",
    )


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


# --- the service -----------------------------------------------------------------------------


class DebitorService(StaffUseCases):
    """The debitorsystem's use cases: DebitorIndbetalingAfsend's here, the staff's inherited."""

    # -- DebitorIndbetalingAfsend

    def search(self, caller: UUID, cvr: str, request: SearchRequest) -> Answer:
        """SoegFordringTilIndbetaling (IF01): the calling authority's payable claims, paged."""
        # every fagsystem with an agreement sees the authority's payable claims; a type filter
        # outside its sortiment for the authority finds nothing (R10, `store.ClaimQuery`)
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
            fagsystem_id=caller,
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
        answer = self._once(
            caller,
            transaction_uuid,
            "ForetagIndbetaling",
            {"cvr": cvr, **request.canonical()},
            lambda conn, now: self._pay(conn, caller, cvr, request, now),
        )
        count_payment(answer)
        return answer

    def _once(
        self,
        caller: UUID,
        transaction_uuid: str,
        operation: str,
        request: dict[str, Any],
        work: Callable[[Connection, datetime], Answer],
    ) -> bytes:
        """One idempotent operation in one transaction, retried whole if it lost a race."""
        return self._run_once(
            str(caller),
            transaction_uuid,
            operation,
            request,
            work=work,
            conflict=transaction_conflict,
        )

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
        if earlier is not None and earlier.authority_cvr != cvr:
            return payment_id_taken()
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
        return accepted(DaekningId=str(coverage.id), Restance=format_ore(after.shown_restance))

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
            return payment_id_taken()
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
            if owned is not None and owned.authority_cvr != cvr:
                owned = None  # another authority's payment is as invisible as its claim (R13)
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
        return accepted(Restance=format_ore(after.shown_restance))

    def forget_old_answers(self, retention: timedelta) -> int:
        """Drop stored idempotent answers older than `retention` (at least 30 days, CONTRACT §5).

        A payment retried after that still pays once: its IndbetalingId answers the original.
        """
        if retention < MIN_RETENTION:
            raise ValueError("answers are kept at least 30 days")
        with db.write(self.engine) as conn:
            return idempotency.purge(
                conn, store.idempotency_answers, now=self.clock(), retention=retention
            )


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

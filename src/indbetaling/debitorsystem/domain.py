"""The debitorsystem's rules, pure: no I/O, no framework (CONTRACT §5, R1–R6 and R13).

A claim's ledger is the claim with its coverages, write-downs and reversal orders. Restance is
always derived: principal − write-downs − active (not reversed) coverages. A claim whose
coverages exceed what is owed is over-covered (Restance < 0); the ledger then names the
fagsystem payments to reverse, newest first, until the orders together cover the over-coverage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from indbetaling.fordring import ClaimStatus, ClaimView, LiableParty


class FejlKode(StrEnum):
    FORDRING_UKENDT = "FORDRING_UKENDT"
    FORDRING_IKKE_BETALBAR = "FORDRING_IKKE_BETALBAR"
    BELOEB_UGYLDIGT = "BELOEB_UGYLDIGT"
    BELOEB_OVERSTIGER_RESTANCE = "BELOEB_OVERSTIGER_RESTANCE"
    PART_IKKE_HAEFTER = "PART_IKKE_HAEFTER"
    ORGANISATIONSENHED_UKENDT = "ORGANISATIONSENHED_UKENDT"
    INDBETALING_UKENDT = "INDBETALING_UKENDT"
    IKKE_EJER = "IKKE_EJER"
    INDBETALINGID_KONFLIKT = "INDBETALINGID_KONFLIKT"
    TRANSAKTION_KONFLIKT = "TRANSAKTION_KONFLIKT"
    TILBAGEFOERSELSORDRE_UKENDT = "TILBAGEFOERSELSORDRE_UKENDT"
    # collections staff's manual handling (`manual`)
    TILBAGEFOERSELSORDRE_IKKE_MANUEL = "TILBAGEFOERSELSORDRE_IKKE_MANUEL"
    DAEKNING_UKENDT = "DAEKNING_UKENDT"
    DAEKNING_ER_INDBETALING = "DAEKNING_ER_INDBETALING"
    DAEKNING_TILBAGEFOERT = "DAEKNING_TILBAGEFOERT"
    INGEN_UBESVARET_OVERDAEKNING = "INGEN_UBESVARET_OVERDAEKNING"
    # the sortiment: types are KLA classes (`indbetaling.kla`, R10)
    DEBITORKONTOTYPE_UKENDT = "DEBITORKONTOTYPE_UKENDT"
    KRAVTYPE_UKENDT = "KRAVTYPE_UKENDT"
    KLASSE_UKENDT = "KLASSE_UKENDT"
    FAGSYSTEM_UKENDT = "FAGSYSTEM_UKENDT"
    MYNDIGHED_UKENDT = "MYNDIGHED_UKENDT"


class Rejected(Exception):
    """A business rule said no; nothing changes. `restance` is set where the answer carries it."""

    def __init__(self, code: FejlKode, text: str, restance: int | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.restance = restance


class CoverageSource(StrEnum):
    PAYMENT = "INDBETALING"
    """A fagsystem's payment (ForetagIndbetaling); owned by that fagsystem."""
    OTHER = "ANDEN"
    """Any other coverage, e.g. a bank payment registered by collections staff."""


class ReversalReason(StrEnum):
    """`AarsagKode` of ForetagIndbetalingNedregulering."""

    FEJLREGISTRERING = "FEJLREGISTRERING"
    TILBAGEFOERSELSORDRE = "TILBAGEFOERSELSORDRE"
    ANDET = "ANDET"


class WriteDownKind(StrEnum):
    NEDREGULERING = "NEDREGULERING"
    ANNULLERING = "ANNULLERING"


class OrderState(StrEnum):
    OPRETTET = "OPRETTET"
    AFSENDT = "AFSENDT"
    MODTAGET = "MODTAGET"
    UDFOERT = "UDFOERT"
    MANUEL = "MANUEL"
    LUKKET = "LUKKET"
    """Closed by collections staff after manual handling (from MANUEL only), with who and why."""


OPEN_ORDER_STATES = frozenset(
    {OrderState.OPRETTET, OrderState.AFSENDT, OrderState.MODTAGET, OrderState.MANUEL}
)


@dataclass(frozen=True)
class Claim:
    id: UUID
    account_id: UUID
    authority_cvr: str
    account_type_code: str
    claim_type_code: str
    principal: int
    due_date: date
    last_timely_payment_date: date
    payment_period_from: date | None
    payment_period_to: date | None
    liable_parties: tuple[LiableParty, ...]
    annulled: bool = False


@dataclass(frozen=True)
class Payment:
    """What a fagsystem asks to pay (ForetagIndbetaling), amounts in øre."""

    payment_id: UUID
    claim_id: UUID
    amount: int
    payment_date: date
    payer_part_id: str
    org_unit_id: UUID
    text: str | None


@dataclass(frozen=True)
class Coverage:
    id: UUID
    claim_id: UUID
    seq: int
    """Order of arrival within the claim; larger is newer."""
    amount: int
    source: CoverageSource
    owner_id: UUID | None
    payment: Payment | None
    restance_after: int
    reversed: bool = False
    registered_at: datetime | None = None
    """When the debitorsystem registered it (as read from the store)."""
    reversal: CoverageReversal | None = None
    """How it was reversed, when it was (as read from the store)."""


@dataclass(frozen=True)
class CoverageReversal:
    """The reversal of a coverage: why, by which order (if any) and when."""

    reason: str
    """The `AarsagKode` of the owner's reversal, or the staff's reason for another coverage."""
    order_id: UUID | None
    at: datetime


@dataclass(frozen=True)
class WriteDown:
    id: UUID
    claim_id: UUID
    amount: int
    kind: WriteDownKind
    text: str | None


@dataclass(frozen=True)
class ReversalOrder:
    id: UUID
    claim_id: UUID
    coverage_id: UUID
    payment_id: UUID
    owner_id: UUID
    authority_cvr: str
    amount: int
    overcoverage: int
    reason: WriteDownKind
    text: str | None
    created_at: datetime
    state: OrderState = OrderState.OPRETTET
    delivery_note: str | None = None
    """Why delivery stopped or is waiting (e.g. the reason for MANUEL), for collections staff."""
    closed_by: str | None = None
    closed_reason: str | None = None
    closed_at: datetime | None = None
    """Who closed the order after manual handling (LUKKET), why, and when."""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ORDER_STATES


# --- the rules of Restance, status and payability, on plain values (also used in bulk) ---------


def restance_of(principal: int, written_down: int, covered: int) -> int:
    """Restance: principal less write-downs less active (not reversed) coverages; < 0 when the
    claim is over-covered."""
    return principal - written_down - covered


def status_of(*, annulled: bool, restance: int) -> ClaimStatus:
    """ANNULLERET once annulled, else AKTIV while something is owed, else AFSLUTTET."""
    if annulled:
        return ClaimStatus.ANNULLERET
    return ClaimStatus.AKTIV if restance > 0 else ClaimStatus.AFSLUTTET


def in_payment_period(today: date, period_from: date | None, period_to: date | None) -> bool:
    """Whether `today` lies in the payment period (both ends included; an open end is no limit)."""
    if period_from is not None and today < period_from:
        return False
    return period_to is None or today <= period_to


@dataclass(frozen=True)
class ClaimLedger:
    claim: Claim
    coverages: tuple[Coverage, ...] = ()
    write_downs: tuple[WriteDown, ...] = ()
    orders: tuple[ReversalOrder, ...] = ()

    @property
    def written_down(self) -> int:
        return sum(w.amount for w in self.write_downs)

    @property
    def owed(self) -> int:
        """Principal less write-downs: what the coverages may at most add up to."""
        return self.claim.principal - self.written_down

    @property
    def covered(self) -> int:
        return sum(c.amount for c in self.coverages if not c.reversed)

    @property
    def restance(self) -> int:
        return restance_of(self.claim.principal, self.written_down, self.covered)

    @property
    def shown_restance(self) -> int:
        """Restance as every message and answer shows it (CONTRACT §6): never negative; an
        over-covered claim shows 0 (and is not payable)."""
        return max(0, self.restance)

    @property
    def overcoverage(self) -> int:
        return max(0, -self.restance)

    @property
    def status(self) -> ClaimStatus:
        return status_of(annulled=self.claim.annulled, restance=self.restance)

    def is_payable(self, today: date) -> bool:
        claim = self.claim
        return self.status is ClaimStatus.AKTIV and in_payment_period(
            today, claim.payment_period_from, claim.payment_period_to
        )

    def view(self) -> ClaimView:
        c = self.claim
        return ClaimView(
            claim_id=c.id,
            account_id=c.account_id,
            authority_cvr=c.authority_cvr,
            account_type_code=c.account_type_code,
            claim_type_code=c.claim_type_code,
            principal=c.principal,
            restance=self.shown_restance,
            due_date=c.due_date,
            last_timely_payment_date=c.last_timely_payment_date,
            payment_period_from=c.payment_period_from,
            payment_period_to=c.payment_period_to,
            liable_parties=c.liable_parties,
            status=self.status,
        )

    @property
    def next_seq(self) -> int:
        """The seq a new coverage takes: after every coverage the claim has."""
        return max((c.seq for c in self.coverages), default=0) + 1

    def payment_coverage(self, owner_id: UUID, payment_id: UUID) -> Coverage | None:
        for c in self.coverages:
            if c.owner_id == owner_id and c.payment and c.payment.payment_id == payment_id:
                return c
        return None

    def open_order_for(self, coverage_id: UUID) -> ReversalOrder | None:
        return next((o for o in self.orders if o.coverage_id == coverage_id and o.is_open), None)


# --- payments ------------------------------------------------------------------------------


def pay(
    ledger: ClaimLedger,
    payment: Payment,
    *,
    owner_id: UUID,
    today: date,
    coverage_id: UUID,
) -> tuple[ClaimLedger, Coverage]:
    """R1–R3: one payment covers one claim, only while payable, by a liable party, ≤ Restance."""
    if payment.amount <= 0:
        raise Rejected(FejlKode.BELOEB_UGYLDIGT, "Beløbet skal være større end 0")
    if not ledger.is_payable(today):
        raise Rejected(
            FejlKode.FORDRING_IKKE_BETALBAR,
            f"Fordringen kan ikke betales (status {ledger.status.value})",
            ledger.shown_restance,
        )
    if payment.payer_part_id not in {p.part_id for p in ledger.claim.liable_parties}:
        raise Rejected(FejlKode.PART_IKKE_HAEFTER, "Indbetaleren hæfter ikke for fordringen")
    return _cover(ledger, payment.amount, coverage_id, owner_id=owner_id, payment=payment)


def register_other_coverage(
    ledger: ClaimLedger, amount: int, *, coverage_id: UUID
) -> tuple[ClaimLedger, Coverage]:
    """Another coverage (bank payment etc.): only on a live claim, never beyond Restance."""
    if amount <= 0:
        raise Rejected(FejlKode.BELOEB_UGYLDIGT, "Beløbet skal være større end 0")
    if ledger.claim.annulled:
        raise Rejected(FejlKode.FORDRING_IKKE_BETALBAR, "Fordringen er annulleret")
    return _cover(ledger, amount, coverage_id, owner_id=None, payment=None)


def _cover(
    ledger: ClaimLedger,
    amount: int,
    coverage_id: UUID,
    *,
    owner_id: UUID | None,
    payment: Payment | None,
) -> tuple[ClaimLedger, Coverage]:
    """Add a coverage of `amount` (a fagsystem's `payment`, or another when None): never beyond
    Restance."""
    if amount > ledger.restance:
        raise Rejected(
            FejlKode.BELOEB_OVERSTIGER_RESTANCE,
            "Beløbet overstiger fordringens restance",
            ledger.shown_restance,
        )
    coverage = Coverage(
        id=coverage_id,
        claim_id=ledger.claim.id,
        seq=ledger.next_seq,
        amount=amount,
        source=CoverageSource.OTHER if payment is None else CoverageSource.PAYMENT,
        owner_id=owner_id,
        payment=payment,
        restance_after=ledger.restance - amount,
    )
    return replace(ledger, coverages=(*ledger.coverages, coverage)), coverage


@dataclass(frozen=True)
class Reversal:
    coverage: Coverage
    executed_orders: tuple[ReversalOrder, ...]
    already_reversed: bool


def reverse(
    ledger: ClaimLedger,
    coverage: Coverage,
    *,
    reason: ReversalReason,
    order_id: UUID | None,
) -> tuple[ClaimLedger, Reversal]:
    """R4: a payment is reversed in full, once; its owner's repeat changes nothing.

    With `TILBAGEFOERSELSORDRE` the order must be one made for this payment. Every open order
    for the payment is executed (UDFOERT) by the reversal, whatever its reason.
    """
    if reason is ReversalReason.TILBAGEFOERSELSORDRE:
        if order_id is None:
            raise Rejected(
                FejlKode.TILBAGEFOERSELSORDRE_UKENDT,
                "TilbagefoerselsOrdreId skal angives ved årsagen TILBAGEFOERSELSORDRE",
            )
        if not any(o.id == order_id and o.coverage_id == coverage.id for o in ledger.orders):
            raise Rejected(
                FejlKode.TILBAGEFOERSELSORDRE_UKENDT,
                "Tilbageførselsordren findes ikke for denne indbetaling",
            )
    if coverage.reversed:
        return ledger, Reversal(coverage, (), already_reversed=True)
    reversed_coverage = replace(coverage, reversed=True)
    executed = tuple(
        replace(o, state=OrderState.UDFOERT)
        for o in ledger.orders
        if o.coverage_id == coverage.id and o.is_open
    )
    executed_ids = {o.id for o in executed}
    new_ledger = replace(
        ledger,
        coverages=tuple(reversed_coverage if c.id == coverage.id else c for c in ledger.coverages),
        orders=tuple(
            replace(o, state=OrderState.UDFOERT) if o.id in executed_ids else o
            for o in ledger.orders
        ),
    )
    return new_ledger, Reversal(reversed_coverage, executed, already_reversed=False)


# --- write-downs, annulment, over-coverage -------------------------------------------------

IdFactory = Callable[[], UUID]


def write_down(
    ledger: ClaimLedger,
    amount: int,
    *,
    write_down_id: UUID,
    text: str | None,
    now: datetime,
    new_id: IdFactory,
) -> tuple[ClaimLedger, WriteDown, tuple[ReversalOrder, ...]]:
    """Nedregulering: lower what is owed; R6 orders reversals for any over-coverage it makes."""
    if ledger.claim.annulled:
        raise Rejected(FejlKode.FORDRING_IKKE_BETALBAR, "Fordringen er annulleret")
    if amount <= 0:
        raise Rejected(FejlKode.BELOEB_UGYLDIGT, "Nedreguleringen skal være større end 0")
    if amount > ledger.owed:
        raise Rejected(
            FejlKode.BELOEB_UGYLDIGT,
            "Nedreguleringen er større end hovedstolen efter tidligere nedreguleringer",
        )
    wd = WriteDown(write_down_id, ledger.claim.id, amount, WriteDownKind.NEDREGULERING, text)
    ledger = replace(ledger, write_downs=(*ledger.write_downs, wd))
    ledger, orders = order_reversals(ledger, WriteDownKind.NEDREGULERING, text, now, new_id)
    return ledger, wd, orders


def annul(
    ledger: ClaimLedger,
    *,
    write_down_id: UUID,
    text: str | None,
    now: datetime,
    new_id: IdFactory,
) -> tuple[ClaimLedger, WriteDown | None, tuple[ReversalOrder, ...]]:
    """Annulment: nothing is owed any more, so every coverage is over-coverage (R6)."""
    if ledger.claim.annulled:
        raise Rejected(FejlKode.FORDRING_IKKE_BETALBAR, "Fordringen er allerede annulleret")
    wd = None
    if ledger.owed > 0:
        wd = WriteDown(write_down_id, ledger.claim.id, ledger.owed, WriteDownKind.ANNULLERING, text)
        ledger = replace(ledger, write_downs=(*ledger.write_downs, wd))
    ledger = replace(ledger, claim=replace(ledger.claim, annulled=True))
    ledger, orders = order_reversals(ledger, WriteDownKind.ANNULLERING, text, now, new_id)
    return ledger, wd, orders


def unanswered_overcoverage(ledger: ClaimLedger) -> int:
    """Over-coverage not yet answered by open reversal orders."""
    ordered = sum(
        c.amount for c in ledger.coverages if not c.reversed and ledger.open_order_for(c.id)
    )
    return max(0, ledger.overcoverage - ordered)


def order_reversals(
    ledger: ClaimLedger,
    reason: WriteDownKind,
    text: str | None,
    now: datetime,
    new_id: IdFactory,
) -> tuple[ClaimLedger, tuple[ReversalOrder, ...]]:
    """R6: pick fagsystem payments, newest first, until open orders cover the over-coverage.

    Other coverages cannot be ordered back; over-coverage they alone cause stays for manual
    handling by collections staff.
    """
    missing = unanswered_overcoverage(ledger)
    if missing == 0:
        return ledger, ()
    candidates = sorted(
        (
            c
            for c in ledger.coverages
            if c.source is CoverageSource.PAYMENT
            and not c.reversed
            and ledger.open_order_for(c.id) is None
        ),
        key=lambda c: c.seq,
        reverse=True,
    )
    orders: list[ReversalOrder] = []
    for coverage in candidates:
        if missing <= 0:
            break
        if coverage.payment is None or coverage.owner_id is None:
            continue
        orders.append(
            ReversalOrder(
                id=new_id(),
                claim_id=ledger.claim.id,
                coverage_id=coverage.id,
                payment_id=coverage.payment.payment_id,
                owner_id=coverage.owner_id,
                authority_cvr=ledger.claim.authority_cvr,
                amount=coverage.amount,
                overcoverage=ledger.overcoverage,
                reason=reason,
                text=text,
                created_at=now,
            )
        )
        missing -= coverage.amount
    return replace(ledger, orders=(*ledger.orders, *orders)), tuple(orders)

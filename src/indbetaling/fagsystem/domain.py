"""The fagsystem as payments master: the rules of its payments, reversals, pay-agains and
pay-backs, and what each of them books in finance (CONTRACT §4, §7, §9; R4, R8, R9, R11).

Pure: no I/O, no framework. Amounts are øre. A change returns the new values together with what
it records: history entries (`Event`, the `Haendelser` of a payment), finance postings
(`Posting`) and pay-backs (`Payback`, a payment request to the party's NemKonto).

- A payment is `AFSENDT` from the moment it is written, before the debitorsystem is called;
  the debitorsystem's business answer makes it `ACCEPTERET` or `AFVIST` (once); an accepted
  payment can be reversed, in full, once: `TILBAGEFOERT` (R4).
- A reversal (`Tilbagefoersel`) comes from a reversal order (`ORDRE`), manual advice
  (`MANUEL_ADVIS`) or the case worker (`SAGSBEHANDLER`) and waits (`AFVENTER`) until it is
  executed. Executing it fixes its split and the ids of each step: the reversal at the
  debitorsystem (with the order id where there is one), then a new payment of `Genindbetal` on
  the same claim (when > 0), then a pay-back of `Tilbagebetal` to the party (when > 0). The two
  add up to the payment's amount (R9: never more than was freed). The debitorsystem's answer to
  the reversal settles it: `UDFOERT` or `AFVIST`.
- Under the `AUTOMATISK` policy the split is decided by the answer: `Genindbetal` is the smaller
  of the payment and the claim's Restance after the reversal, the rest is paid back.
- Every accepted payment, reversal and pay-back is booked once (R11): its `PosteringId` is a
  uuid5 of the event, so booking the same event again is the same posting.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from indbetaling.money import format_ore


class PaymentState(StrEnum):
    AFSENDT = "AFSENDT"
    ACCEPTERET = "ACCEPTERET"
    AFVIST = "AFVIST"
    TILBAGEFOERT = "TILBAGEFOERT"


class ReversalState(StrEnum):
    AFVENTER = "AFVENTER"
    UDFOERT = "UDFOERT"
    AFVIST = "AFVIST"


class ReversalSource(StrEnum):
    ORDRE = "ORDRE"
    MANUEL_ADVIS = "MANUEL_ADVIS"
    SAGSBEHANDLER = "SAGSBEHANDLER"


class ReversalPolicy(StrEnum):
    """What the fagsystem does with a reversal order when it arrives."""

    SAGSBEHANDLER = "SAGSBEHANDLER"
    """The order waits (`AFVENTER`) for a case worker to execute it (the default)."""
    AUTOMATISK = "AUTOMATISK"
    """The order is executed at once, split by `automatic_split`."""


class StepState(StrEnum):
    """The reversal's call to the debitorsystem (ForetagIndbetalingNedregulering)."""

    VENTER = "VENTER"
    """Sent, or to be sent, with its fixed TransactionUUID until a business answer comes."""
    ACCEPTERET = "ACCEPTERET"
    AFVIST = "AFVIST"


class Reason(StrEnum):
    """`AarsagKode` of the reversal call (the port's `ReversalReason` has the same values)."""

    FEJLREGISTRERING = "FEJLREGISTRERING"
    TILBAGEFOERSELSORDRE = "TILBAGEFOERSELSORDRE"
    ANDET = "ANDET"


class FejlKode(StrEnum):
    """What the fagsystem refuses on its own, before or without the debitorsystem."""

    IKKE_ADGANG = "IKKE_ADGANG"
    BELOEB_UGYLDIGT = "BELOEB_UGYLDIGT"
    BELOEB_SUM_UGYLDIG = "BELOEB_SUM_UGYLDIG"
    ORGANISATIONSENHED_UKENDT = "ORGANISATIONSENHED_UKENDT"
    INDBETALING_UKENDT = "INDBETALING_UKENDT"
    TILBAGEFOERSEL_UKENDT = "TILBAGEFOERSEL_UKENDT"
    TRANSAKTION_KONFLIKT = "TRANSAKTION_KONFLIKT"
    INDBETALING_IKKE_ACCEPTERET = "INDBETALING_IKKE_ACCEPTERET"
    TILBAGEFOERSEL_FINDES = "TILBAGEFOERSEL_FINDES"
    TILBAGEFOERSEL_KONFLIKT = "TILBAGEFOERSEL_KONFLIKT"
    TILBAGEFOERSEL_AFVIST = "TILBAGEFOERSEL_AFVIST"
    KILDE_UGYLDIG = "KILDE_UGYLDIG"
    FORTSAETTELSESNOEGLE_UGYLDIG = "FORTSAETTELSESNOEGLE_UGYLDIG"


class Refused(Exception):
    """A request the fagsystem refuses; nothing was changed."""

    def __init__(self, code: FejlKode, text: str) -> None:
        super().__init__(f"{code.value}: {text}")
        self.code = code
        self.text = text


class IllegalTransition(Exception):
    """A change that the states do not allow (a programming error, never a user's)."""


# --- events (Haendelser) ---------------------------------------------------------------------


class EventKind(StrEnum):
    AFSENDT = "AFSENDT"
    ACCEPTERET = "ACCEPTERET"
    AFVIST = "AFVIST"
    TILBAGEFOERSEL_OPRETTET = "TILBAGEFOERSEL_OPRETTET"
    TILBAGEFOERSEL_AFSENDT = "TILBAGEFOERSEL_AFSENDT"
    TILBAGEFOERT = "TILBAGEFOERT"
    TILBAGEFOERSEL_AFVIST = "TILBAGEFOERSEL_AFVIST"
    GENINDBETALING = "GENINDBETALING"
    GENINDBETALING_AFVIST = "GENINDBETALING_AFVIST"
    TILBAGEBETALING = "TILBAGEBETALING"


@dataclass(frozen=True)
class Event:
    """One entry of a payment's history."""

    payment_id: UUID
    at: datetime
    kind: EventKind
    text: str


# --- chart of accounts and postings ----------------------------------------------------------


@dataclass(frozen=True)
class Account:
    number: str
    name: str


@dataclass(frozen=True)
class Chart:
    """The accounts the fagsystem books on (configuration, not code)."""

    citizen_funds: Account = Account("2901", "Borgerens midler")
    debtor_settlement: Account = Account("6010", "Mellemregning debitorsystem")
    payouts: Account = Account("2950", "Udbetaling NemKonto")


class PostingKind(StrEnum):
    INDBETALING = "INDBETALING"
    TILBAGEFOERSEL = "TILBAGEFOERSEL"
    TILBAGEBETALING = "TILBAGEBETALING"


POSTING_NAMESPACE = uuid.UUID("3c7a0f0e-8f4e-4d7b-9a61-1590b0300005")


def posting_id(kind: PostingKind, payment_id: UUID) -> UUID:
    """The PosteringId of an event: the same event is always the same posting.

    Every event is keyed by the payment it is about (its `Reference`): a payment is accepted
    once, reversed once and so paid back at most once."""
    return uuid.uuid5(POSTING_NAMESPACE, f"{kind.value}:{payment_id}")


@dataclass(frozen=True)
class PostingLine:
    account: Account
    amount: int
    """Signed øre."""
    text: str


@dataclass(frozen=True)
class Posting:
    """An `Oekonomipostering` (SF1590_A): balanced lines, one event, one id."""

    id: UUID
    kind: PostingKind
    day: date
    authority_cvr: str
    reference: UUID
    """The IndbetalingId the posting is about (the reversed payment for a reversal and a
    pay-back)."""
    lines: tuple[PostingLine, ...]

    @property
    def balanced(self) -> bool:
        return sum(line.amount for line in self.lines) == 0


_POSTING_TEXT = {
    PostingKind.INDBETALING: "Indbetaling",
    PostingKind.TILBAGEFOERSEL: "Tilbageførsel",
    PostingKind.TILBAGEBETALING: "Tilbagebetaling",
}


def _posting(
    kind: PostingKind,
    payment: Payment,
    day: date,
    debit: tuple[Account, int],
    credit: Account,
) -> Posting:
    """`debit`'s account gets +amount, `credit` −amount."""
    account, amount = debit
    what = _POSTING_TEXT[kind]
    return Posting(
        id=posting_id(kind, payment.id),
        kind=kind,
        day=day,
        authority_cvr=payment.authority_cvr,
        reference=payment.id,
        lines=(
            PostingLine(account, amount, f"{what}: {account.name}"),
            PostingLine(credit, -amount, f"{what}: {credit.name}"),
        ),
    )


def payment_posting(payment: Payment, chart: Chart, day: date) -> Posting:
    """An accepted payment B: debtor settlement +B, citizen's funds −B."""
    return _posting(
        PostingKind.INDBETALING,
        payment,
        day,
        (chart.debtor_settlement, payment.amount),
        chart.citizen_funds,
    )


def reversal_posting(payment: Payment, chart: Chart, day: date) -> Posting:
    """The reversal of B: citizen's funds +B, debtor settlement −B."""
    return _posting(
        PostingKind.TILBAGEFOERSEL,
        payment,
        day,
        (chart.citizen_funds, payment.amount),
        chart.debtor_settlement,
    )


def payback_posting(payment: Payment, amount: int, chart: Chart, day: date) -> Posting:
    """A pay-back T of the reversed payment: NemKonto payouts +T, citizen's funds −T."""
    return _posting(
        PostingKind.TILBAGEBETALING, payment, day, (chart.payouts, amount), chart.citizen_funds
    )


# --- payments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    id: UUID
    """IndbetalingId: made by the fagsystem."""
    fagsystem_id: UUID
    authority_cvr: str
    claim_id: UUID
    amount: int
    payer_part_id: str
    org_unit_id: UUID
    text: str | None
    payment_date: date
    transaction_uuid: UUID
    """Every send of this payment carries it (R8)."""
    created_at: datetime
    state: PaymentState = PaymentState.AFSENDT
    error_code: str | None = None
    error_text: str | None = None
    restance: int | None = None
    coverage_id: UUID | None = None
    repays_reversal_id: UUID | None = None
    """The reversal whose `Genindbetal` this payment is."""


@dataclass(frozen=True)
class Answer:
    """A business answer of the debitorsystem (its Forretningskvittering), as the domain needs
    it."""

    accepted: bool
    error_code: str | None = None
    error_text: str | None = None
    restance: int | None = None
    coverage_id: UUID | None = None


@dataclass(frozen=True)
class PaymentChange:
    payment: Payment
    events: tuple[Event, ...]
    postings: tuple[Posting, ...] = ()


def new_payment(payment: Payment) -> PaymentChange:
    """A payment written before it is sent: `AFSENDT`, its ids fixed."""
    if payment.state is not PaymentState.AFSENDT or payment.amount <= 0:
        raise IllegalTransition("a new payment is AFSENDT with an amount > 0")
    if payment.repays_reversal_id is None:
        text = "Indbetalingen er oprettet og sendes til debitorsystemet"
    else:
        text = "Genindbetaling efter en tilbageførsel; sendes til debitorsystemet"
    event = Event(payment.id, payment.created_at, EventKind.AFSENDT, text)
    return PaymentChange(payment, (event,))


def answer_payment(
    payment: Payment, answer: Answer, *, chart: Chart, now: datetime, today: date
) -> PaymentChange:
    """AFSENDT → ACCEPTERET (booked on `today`) or AFVIST, once."""
    if payment.state is not PaymentState.AFSENDT:
        raise IllegalTransition(f"a payment in state {payment.state} has its answer already")
    if answer.accepted:
        after = replace(
            payment,
            state=PaymentState.ACCEPTERET,
            restance=answer.restance,
            coverage_id=answer.coverage_id,
        )
        shown = "" if answer.restance is None else f"; restance nu {format_ore(answer.restance)}"
        event = Event(payment.id, now, EventKind.ACCEPTERET, f"Debitorsystemet tog imod{shown}")
        return PaymentChange(after, (event,), (payment_posting(after, chart, today),))
    after = replace(
        payment,
        state=PaymentState.AFVIST,
        error_code=answer.error_code,
        error_text=answer.error_text,
        restance=answer.restance,
    )
    why = f"{answer.error_code or 'AFVIST'}: {answer.error_text or ''}".rstrip(": ")
    return PaymentChange(after, (Event(payment.id, now, EventKind.AFVIST, why),))


# --- reversals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """How the freed amount goes: paid again on the same claim, and paid back to the party."""

    repay: int
    payback: int


@dataclass(frozen=True)
class Execution:
    """What `udfoer` fixes, so that every later send is the same call (R8)."""

    split: Split | None
    """None under `AUTOMATISK` until the reversal's answer decides it."""
    automatic: bool
    """The split is (or was) decided by the answer: `automatic_split`."""
    reverse_transaction_uuid: UUID
    repay_payment_id: UUID
    repay_transaction_uuid: UUID
    payback_id: UUID
    """BetalingsanmodningId of the pay-back."""


@dataclass(frozen=True)
class Reversal:
    id: UUID
    fagsystem_id: UUID
    authority_cvr: str
    payment_id: UUID
    source: ReversalSource
    amount: int
    """The whole payment (R4)."""
    created_at: datetime
    order_id: UUID | None = None
    overcoverage: int | None = None
    text: str | None = None
    state: ReversalState = ReversalState.AFVENTER
    error_code: str | None = None
    error_text: str | None = None
    execution: Execution | None = None
    step: StepState | None = None
    """The reversal call's state once executed."""
    restance_after: int | None = None
    repay_refused: bool = False
    """The debitorsystem refused the new payment of `Genindbetal`: it was paid back instead."""

    @property
    def outcome(self) -> Split | None:
        """How the freed amount went: the split as fixed, but a refused `Genindbetal` paid
        back; None until the split is known."""
        split = None if self.execution is None else self.execution.split
        if split is None or not self.repay_refused:
            return split
        return Split(0, split.repay + split.payback)

    @property
    def reason(self) -> Reason:
        if self.order_id is not None:
            return Reason.TILBAGEFOERSELSORDRE
        if self.source is ReversalSource.SAGSBEHANDLER:
            return Reason.FEJLREGISTRERING
        return Reason.ANDET


def check_split(amount: int, split: Split) -> None:
    """Both parts ≥ 0 and together exactly the payment's amount (R4, R9)."""
    if split.repay < 0 or split.payback < 0:
        raise Refused(FejlKode.BELOEB_UGYLDIGT, "Genindbetal og Tilbagebetal må ikke være negative")
    if split.repay + split.payback != amount:
        raise Refused(
            FejlKode.BELOEB_SUM_UGYLDIG,
            f"Genindbetal og Tilbagebetal skal tilsammen være indbetalingens beløb "
            f"({format_ore(amount)})",
        )


def automatic_split(amount: int, restance_after: int | None) -> Split:
    """`AUTOMATISK`: pay again what the claim still owes after the reversal, at most the whole
    payment; pay back the rest. An unknown Restance pays everything back."""
    repay = min(amount, max(0, restance_after or 0))
    return Split(repay, amount - repay)


def expected_restance_after(restance: int, amount: int, overcoverage: int | None) -> int:
    """The claim's Restance once a payment of `amount` is reversed, as far as the fagsystem can
    tell before it asks: what is owed now (`restance`, as shown: never negative) plus the
    payment, less the over-coverage the reversal order names (an over-covered claim shows 0)."""
    return max(0, restance + amount - (overcoverage or 0))


def suggested_split(amount: int, restance: int, overcoverage: int | None) -> Split:
    """The split a case worker is offered: what `AUTOMATISK` would do with the Restance the
    claim is expected to have after the reversal."""
    return automatic_split(amount, expected_restance_after(restance, amount, overcoverage))


def new_reversal(reversal: Reversal, payment: Payment) -> PaymentChange:
    """A reversal put in motion for `payment` (recorded in its history)."""
    if reversal.payment_id != payment.id or reversal.amount != payment.amount:
        raise IllegalTransition("a reversal is of its payment's whole amount")
    order = f", ordre {reversal.order_id}" if reversal.order_id else ""
    text = f"Tilbageførsel {reversal.id} ({reversal.source.value}{order}) venter"
    event = Event(payment.id, reversal.created_at, EventKind.TILBAGEFOERSEL_OPRETTET, text)
    return PaymentChange(payment, (event,))


def execute(
    reversal: Reversal, payment: Payment, execution: Execution, now: datetime
) -> tuple[Reversal, tuple[Event, ...]]:
    """Fix the reversal's split (or leave it to the answer) and the ids of its steps.

    R4: executing a reversal again with the same split changes nothing (no events); with
    another split, or a refused reversal, is refused."""
    if reversal.state is ReversalState.AFVIST:
        raise Refused(FejlKode.TILBAGEFOERSEL_AFVIST, "Tilbageførslen er afvist af debitorsystemet")
    if reversal.execution is not None:
        done = reversal.execution
        if not (done.automatic or execution.automatic) and done.split == execution.split:
            return reversal, ()
        raise Refused(
            FejlKode.TILBAGEFOERSEL_KONFLIKT,
            "Tilbageførslen er allerede sat i gang med en anden fordeling",
        )
    if (execution.split is None) != execution.automatic:
        raise IllegalTransition("a split is given, or decided automatically")
    if execution.split is not None:
        check_split(reversal.amount, execution.split)
    if payment.state is not PaymentState.ACCEPTERET and not execution.automatic:
        raise Refused(
            FejlKode.INDBETALING_IKKE_ACCEPTERET,
            f"Indbetalingen er {payment.state.value}; kun en modtaget indbetaling tilbageføres",
        )
    split = execution.split
    how = (
        "fordeles efter restancen (AUTOMATISK)"
        if split is None
        else f"genindbetal {format_ore(split.repay)}, tilbagebetal {format_ore(split.payback)}"
    )
    text = f"Tilbageførsel {reversal.id} sendes til debitorsystemet: {how}"
    after = replace(reversal, execution=execution, step=StepState.VENTER)
    return after, (Event(payment.id, now, EventKind.TILBAGEFOERSEL_AFSENDT, text),)


@dataclass(frozen=True)
class Payback:
    """A pay-back to the party's NemKonto (SF1590_E Betalingsanmodning)."""

    id: UUID
    """BetalingsanmodningId."""
    fagsystem_id: UUID
    authority_cvr: str
    payment_id: UUID
    """The reversed payment (the request's `Reference`)."""
    reversal_id: UUID
    part_id: str
    amount: int
    text: str


@dataclass(frozen=True)
class ReversalOutcome:
    reversal: Reversal
    payment: Payment
    events: tuple[Event, ...]
    postings: tuple[Posting, ...] = ()
    repay: Payment | None = None
    """The new payment of `Genindbetal`, `AFSENDT`, to be sent."""
    payback: Payback | None = None


def answer_reversal(
    reversal: Reversal,
    payment: Payment,
    answer: Answer,
    *,
    chart: Chart,
    now: datetime,
    today: date,
) -> ReversalOutcome:
    """The debitorsystem's answer to the reversal call settles the reversal, once.

    Accepted: the payment is `TILBAGEFOERT` and booked back; the freed amount is split (as
    fixed, or by `automatic_split`) into a new payment on the same claim and a pay-back, each
    only when > 0, each booked once. Refused: the reversal is `AFVIST` and the payment stays."""
    execution = reversal.execution
    if execution is None or reversal.step is not StepState.VENTER:
        raise IllegalTransition("only an executed reversal that waits for its answer")
    if not answer.accepted:
        after = replace(
            reversal,
            state=ReversalState.AFVIST,
            step=StepState.AFVIST,
            error_code=answer.error_code,
            error_text=answer.error_text,
        )
        why = f"Tilbageførsel {reversal.id} afvist: {answer.error_code}: {answer.error_text}"
        event = Event(payment.id, now, EventKind.TILBAGEFOERSEL_AFVIST, why)
        return ReversalOutcome(after, payment, (event,))
    if payment.state is not PaymentState.ACCEPTERET:
        raise IllegalTransition(f"a payment in state {payment.state} cannot be reversed")
    split = execution.split
    if split is None:
        split = automatic_split(reversal.amount, answer.restance)
    check_split(reversal.amount, split)
    reversed_payment = replace(payment, state=PaymentState.TILBAGEFOERT)
    settled = replace(
        reversal,
        state=ReversalState.UDFOERT,
        step=StepState.ACCEPTERET,
        restance_after=answer.restance,
        execution=replace(execution, split=split),
    )
    shown = "" if answer.restance is None else f"; restance nu {format_ore(answer.restance)}"
    events = [
        Event(payment.id, now, EventKind.TILBAGEFOERT, f"Indbetalingen er tilbageført{shown}")
    ]
    postings = [reversal_posting(payment, chart, today)]
    repay = None
    if split.repay > 0:
        repay = replace(
            payment,
            id=execution.repay_payment_id,
            transaction_uuid=execution.repay_transaction_uuid,
            amount=split.repay,
            text=f"Genindbetaling efter tilbageførsel af {payment.id}",
            payment_date=today,
            created_at=now,
            state=PaymentState.AFSENDT,
            error_code=None,
            error_text=None,
            restance=None,
            coverage_id=None,
            repays_reversal_id=reversal.id,
        )
        events.append(
            Event(
                payment.id,
                now,
                EventKind.GENINDBETALING,
                f"{format_ore(split.repay)} genindbetales som indbetaling {repay.id}",
            )
        )
    payback = None
    if repay is None and split.payback > 0:  # else once the new payment has its answer
        payback, posting, event = _pay_back(
            settled, payment, split.payback, chart=chart, now=now, today=today
        )
        postings.append(posting)
        events.append(event)
    return ReversalOutcome(
        settled, reversed_payment, tuple(events), tuple(postings), repay, payback
    )


def _pay_back(
    reversal: Reversal, payment: Payment, amount: int, *, chart: Chart, now: datetime, today: date
) -> tuple[Payback, Posting, Event]:
    """The reversal's one pay-back of `amount` to the party the payment was made for."""
    if reversal.execution is None:
        raise IllegalTransition("only an executed reversal pays back")
    payback = Payback(
        id=reversal.execution.payback_id,
        fagsystem_id=payment.fagsystem_id,
        authority_cvr=payment.authority_cvr,
        payment_id=payment.id,
        reversal_id=reversal.id,
        part_id=payment.payer_part_id,
        amount=amount,
        text=f"Tilbagebetaling af indbetaling {payment.id}",
    )
    event = Event(
        payment.id,
        now,
        EventKind.TILBAGEBETALING,
        f"{format_ore(amount)} tilbagebetales til NemKonto (betalingsanmodning {payback.id})",
    )
    return payback, payback_posting(payment, amount, chart, today), event


def answer_pay_again(
    reversal: Reversal,
    payment: Payment,
    pay_again: Payment,
    *,
    chart: Chart,
    now: datetime,
    today: date,
) -> ReversalOutcome:
    """The new payment of `Genindbetal` has its answer (`pay_again`): now the reversal pays
    back, once, `Tilbagebetal`, and the whole `Genindbetal` as well when the debitorsystem
    refused it (the claim no longer owed it), so that no freed money is left unpaid (R9)."""
    execution = reversal.execution
    split = None if execution is None else execution.split
    if (
        execution is None
        or split is None
        or reversal.state is not ReversalState.UDFOERT
        or pay_again.id != execution.repay_payment_id
        or pay_again.state not in {PaymentState.ACCEPTERET, PaymentState.AFVIST}
    ):
        raise IllegalTransition("only the answered new payment of an executed reversal")
    refused = pay_again.state is PaymentState.AFVIST
    settled = replace(reversal, repay_refused=refused)
    events: list[Event] = []
    if refused:
        events.append(
            Event(
                payment.id,
                now,
                EventKind.GENINDBETALING_AFVIST,
                f"Genindbetalingen {pay_again.id} blev afvist ({pay_again.error_code}); "
                f"{format_ore(split.repay)} tilbagebetales i stedet",
            )
        )
    amount = split.payback + (split.repay if refused else 0)
    if amount == 0:
        return ReversalOutcome(settled, payment, tuple(events))
    payback, posting, event = _pay_back(settled, payment, amount, chart=chart, now=now, today=today)
    return ReversalOutcome(settled, payment, (*events, event), (posting,), payback=payback)


def postings_of(payment: Payment, paid_back: bool) -> tuple[UUID, ...]:
    """The PosteringIds booked with this payment as `Reference`, in the order they were made."""
    ids = []
    if payment.state in {PaymentState.ACCEPTERET, PaymentState.TILBAGEFOERT}:
        ids.append(posting_id(PostingKind.INDBETALING, payment.id))
    if payment.state is PaymentState.TILBAGEFOERT:
        ids.append(posting_id(PostingKind.TILBAGEFOERSEL, payment.id))
        if paid_back:
            ids.append(posting_id(PostingKind.TILBAGEBETALING, payment.id))
    return tuple(ids)

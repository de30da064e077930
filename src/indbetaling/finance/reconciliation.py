"""The three-way reconciliation (CONTRACT §9): for one authority, the fagsystems' payments and
executed reversals, the debitorsystem's coverages, the finance postings and NemKonto's payment
requests must tell one story. Pure: the collectors (`client`) fetch the five listings over the
parts' APIs; this module only compares them and names every mismatch in Danish.

For a payment of B (øre) the story is (§7, chart of accounts in `Accounts`):

- `ACCEPTERET`: one coverage of B, not reversed; one INDBETALING posting of +B on the debtor
  settlement account; nothing else.
- `TILBAGEFOERT`: one coverage of B, reversed; the INDBETALING posting of +B; one TILBAGEFOERSEL
  posting of −B; one executed reversal whose Genindbetal + Tilbagebetal = B, whose new payment
  (Genindbetal > 0) is a payment of that amount, and whose pay-back T (> 0) is one TILBAGEBETALING
  posting of +T on the payout account and one NemKonto request of T.
- `AFVIST`: nothing anywhere.
- `AFSENDT`: still waiting for the debitorsystem's answer: named as such until it settles.

Anything else, and any coverage, posting or request about a payment no hosted fagsystem knows,
is an `Afvigelse` with the `IndbetalingId` it is about.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from indbetaling.finance.domain import Posting, PostingType
from indbetaling.money import format_ore

T = TypeVar("T")


@dataclass(frozen=True)
class Accounts:
    """The chart of accounts the fagsystems book by (configuration, CONTRACT defaults)."""

    citizen_funds: str = "2901"
    """"Borgerens midler": the money the payments come from."""
    settlement: str = "6010"
    """"Mellemregning debitorsystem": what the debitorsystem holds for the authority."""
    payout: str = "2950"
    """"Udbetaling NemKonto": what is paid back to parties."""


class PaymentState(StrEnum):
    AFSENDT = "AFSENDT"
    ACCEPTERET = "ACCEPTERET"
    AFVIST = "AFVIST"
    TILBAGEFOERT = "TILBAGEFOERT"


@dataclass(frozen=True)
class FagsystemPayment:
    payment_id: UUID
    fagsystem_id: UUID
    state: PaymentState
    amount: int


@dataclass(frozen=True)
class ExecutedReversal:
    """A fagsystem's reversal in state UDFOERT: how the freed money went."""

    payment_id: UUID
    fagsystem_id: UUID
    pay_again: int
    pay_back: int
    pay_again_id: UUID | None = None
    pay_back_id: UUID | None = None


@dataclass(frozen=True)
class DebtorCoverage:
    """A coverage the debitorsystem has from a fagsystem's payment."""

    payment_id: UUID
    fagsystem_id: UUID
    amount: int
    reversed: bool


@dataclass(frozen=True)
class BookedPosting:
    posting_id: UUID
    reference: UUID
    type: PostingType
    settlement: int
    """Net amount on the debtor settlement account (øre, signed)."""
    payout: int
    """Net amount on the payout account (øre, signed)."""

    @staticmethod
    def of(posting: Posting, accounts: Accounts) -> BookedPosting:
        return BookedPosting(
            posting.id,
            posting.reference,
            posting.type,
            posting.amount_on(accounts.settlement),
            posting.amount_on(accounts.payout),
        )

    @property
    def amount(self) -> int:
        """What the posting moves: the pay-back's payout, else the settlement."""
        return self.payout if self.type is PostingType.TILBAGEBETALING else self.settlement


@dataclass(frozen=True)
class PayoutRequest:
    request_id: UUID
    reference: UUID
    amount: int


@dataclass(frozen=True)
class Sources:
    """What the five listings say about one authority."""

    payments: Sequence[FagsystemPayment] = ()
    reversals: Sequence[ExecutedReversal] = ()
    coverages: Sequence[DebtorCoverage] = ()
    postings: Sequence[BookedPosting] = ()
    payouts: Sequence[PayoutRequest] = ()


@dataclass(frozen=True)
class Deviation:
    payment_id: UUID
    fagsystem: str
    """What the fagsystems say about the payment."""
    debitorsystem: str
    finance: str
    """What finance and NemKonto hold about it."""
    description: str


@dataclass(frozen=True)
class Reconciliation:
    count: int
    """How many payments (distinct IndbetalingIds) were compared."""
    deviations: tuple[Deviation, ...] = field(default=())

    @property
    def agreed(self) -> bool:
        return not self.deviations


class SourceUnavailable(Exception):
    """A listing could not be read, so nothing can be said; the text says which and why."""


def reconcile(sources: Sources) -> Reconciliation:
    """Compare the listings of one authority; every mismatch is a `Deviation`."""
    facts = _Facts.gather(sources)
    deviations: list[Deviation] = []
    for payment_id in sorted(facts.ids, key=str):
        found = _Check(payment_id, facts)
        found.run()
        deviations.extend(found.deviations)
    return Reconciliation(len(facts.ids), tuple(deviations))


@dataclass(frozen=True)
class _Facts:
    payments: dict[UUID, list[FagsystemPayment]]
    reversals: dict[UUID, list[ExecutedReversal]]
    coverages: dict[UUID, list[DebtorCoverage]]
    postings: dict[UUID, list[BookedPosting]]
    payouts: dict[UUID, list[PayoutRequest]]
    owned: dict[tuple[UUID, UUID], FagsystemPayment]
    """Payments by (fagsystem, IndbetalingId): an IndbetalingId is unique per owner (§5)."""

    @property
    def ids(self) -> set[UUID]:
        return {*self.payments, *self.reversals, *self.coverages, *self.postings, *self.payouts}

    @staticmethod
    def gather(sources: Sources) -> _Facts:
        return _Facts(
            payments=_group(sources.payments, lambda p: p.payment_id),
            reversals=_group(sources.reversals, lambda r: r.payment_id),
            coverages=_group(sources.coverages, lambda c: c.payment_id),
            postings=_group(sources.postings, lambda p: p.reference),
            payouts=_group(sources.payouts, lambda r: r.reference),
            owned={(p.fagsystem_id, p.payment_id): p for p in sources.payments},
        )


def _group(items: Iterable[T], key: Callable[[T], UUID]) -> dict[UUID, list[T]]:
    grouped: dict[UUID, list[T]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped


def _kr(ore: int) -> str:
    return format_ore(ore)


class _Check:
    """The checks of one IndbetalingId; `deviations` holds what they found."""

    def __init__(self, payment_id: UUID, facts: _Facts) -> None:
        self.id = payment_id
        self.facts = facts
        self.payments = facts.payments.get(payment_id, [])
        self.reversals = facts.reversals.get(payment_id, [])
        self.coverages = facts.coverages.get(payment_id, [])
        self.payouts = facts.payouts.get(payment_id, [])
        self.postings: dict[PostingType, list[BookedPosting]] = {t: [] for t in PostingType}
        for posting in facts.postings.get(payment_id, []):
            self.postings[posting.type].append(posting)
        self.deviations: list[Deviation] = []

    # -- what each side says, for the report

    def _fagsystem_text(self) -> str:
        if not self.payments:
            return "ukendt"
        texts = [f"{p.state.value} {_kr(p.amount)}" for p in self.payments]
        texts += [
            f"tilbageført: genindbetal {_kr(r.pay_again)}, tilbagebetal {_kr(r.pay_back)}"
            for r in self.reversals
        ]
        return "; ".join(texts)

    def _debitorsystem_text(self) -> str:
        if not self.coverages:
            return "ingen dækning"
        owners = {p.fagsystem_id for p in self.payments}
        texts = []
        for c in self.coverages:
            text = f"dækning {_kr(c.amount)}" + (", tilbageført" if c.reversed else "")
            if c.fagsystem_id not in owners:
                text += f" (fagsystem {c.fagsystem_id})"
            texts.append(text)
        return "; ".join(texts)

    def _finance_text(self) -> str:
        texts = [
            f"{t.value} {_kr(p.amount)}" for t, posted in self.postings.items() for p in posted
        ]
        texts += [f"NemKonto {_kr(r.amount)}" for r in self.payouts]
        return "; ".join(texts) or "ingen postering"

    def _found(self, description: str) -> None:
        self.deviations.append(
            Deviation(
                self.id,
                self._fagsystem_text(),
                self._debitorsystem_text(),
                self._finance_text(),
                description,
            )
        )

    # -- the checks

    def run(self) -> None:
        self._check_strangers()
        if not self.payments:
            self._check_unknown_payment()
            return
        if len(self.payments) > 1:
            self._found("IndbetalingId'et bruges af flere fagsystemer")
            return
        (payment,) = self.payments
        if payment.state is PaymentState.AFSENDT:
            self._found("Indbetalingen afventer stadig svar fra debitorsystemet (AFSENDT)")
            return
        coverage = next((c for c in self.coverages if c.fagsystem_id == payment.fagsystem_id), None)
        if payment.state is PaymentState.AFVIST:
            self._check_rejected(coverage)
            return
        self._check_coverage(payment, coverage)
        self._check_payment_posting(payment, coverage)
        reversal = self._check_reversal(payment)
        self._check_reversal_posting(payment)
        self._check_pay_back(reversal.pay_back if reversal else 0)

    def _check_strangers(self) -> None:
        """Coverages by a payment that no hosted fagsystem has (under its owner)."""
        for c in self.coverages:
            if (c.fagsystem_id, c.payment_id) not in self.facts.owned:
                self._found("Dækning fra en indbetaling, som intet fagsystem i afstemningen kender")

    def _check_unknown_payment(self) -> None:
        if any(self.postings.values()):
            self._found("Postering for en indbetaling, som intet fagsystem kender")
        if self.payouts:
            self._found("Udbetaling til NemKonto for en indbetaling, som intet fagsystem kender")
        if self.reversals:
            self._found("Udført tilbageførsel af en indbetaling, som fagsystemet ikke har")

    def _check_rejected(self, coverage: DebtorCoverage | None) -> None:
        if coverage is not None:
            self._found(
                "Tilstandene er forskellige: indbetalingen er AFVIST i fagsystemet, "
                "men debitorsystemet har en dækning"
            )
        if any(self.postings.values()):
            self._found("Bogført, men indbetalingen er AFVIST")
        if self.payouts:
            self._found("Udbetaling til NemKonto, men indbetalingen er AFVIST")
        if self.reversals:
            self._found("Udført tilbageførsel, men indbetalingen er AFVIST")

    def _check_coverage(self, payment: FagsystemPayment, coverage: DebtorCoverage | None) -> None:
        if coverage is None:
            if self.postings[PostingType.INDBETALING]:
                self._found("Bogført, men debitorsystemet har ingen dækning")
            else:
                self._found(
                    f"Indbetalingen er {payment.state.value} i fagsystemet, "
                    "men debitorsystemet har ingen dækning"
                )
            return
        if coverage.amount != payment.amount:
            self._found(
                f"Beløbene er forskellige: fagsystemet {_kr(payment.amount)}, "
                f"debitorsystemet {_kr(coverage.amount)}"
            )
        if payment.state is PaymentState.ACCEPTERET and coverage.reversed:
            self._found(
                "Tilstandene er forskellige: indbetalingen er ACCEPTERET i fagsystemet, "
                "men dækningen er tilbageført i debitorsystemet"
            )
        if payment.state is PaymentState.TILBAGEFOERT and not coverage.reversed:
            self._found(
                "Tilstandene er forskellige: indbetalingen er TILBAGEFOERT i fagsystemet, "
                "men dækningen er ikke tilbageført i debitorsystemet"
            )

    def _check_one(
        self, kind: PostingType, expected: int, *, missing: str, unexpected: str
    ) -> None:
        """Exactly one posting of `kind`, of `expected` øre (none when `expected` is 0)."""
        posted = self.postings[kind]
        if expected == 0:
            if posted:
                self._found(unexpected)
            return
        if not posted:
            self._found(missing)
        elif len(posted) > 1:
            self._found(f"Bogført {len(posted)} gange ({kind.value})")
        elif posted[0].amount != expected:
            self._found(
                f"Beløbene er forskellige: {kind.value} bogført med {_kr(posted[0].amount)}, "
                f"forventet {_kr(expected)}"
            )

    def _check_payment_posting(
        self, payment: FagsystemPayment, coverage: DebtorCoverage | None
    ) -> None:
        missing = (
            "Dækket i debitorsystemet, men ikke bogført"
            if coverage is not None
            else "Indbetalingen er ikke bogført"
        )
        self._check_one(PostingType.INDBETALING, payment.amount, missing=missing, unexpected="")

    def _check_reversal(self, payment: FagsystemPayment) -> ExecutedReversal | None:
        reversed_ = payment.state is PaymentState.TILBAGEFOERT
        if not reversed_:
            if self.reversals:
                self._found("Udført tilbageførsel, men indbetalingen er ikke TILBAGEFOERT")
            return None
        if not self.reversals:
            self._found(
                "Indbetalingen er TILBAGEFOERT, men fagsystemet har ingen udført tilbageførsel"
            )
            return None
        if len(self.reversals) > 1:
            self._found(f"Indbetalingen er tilbageført {len(self.reversals)} gange")
        reversal = self.reversals[0]
        if reversal.pay_again + reversal.pay_back != payment.amount:
            self._found(
                f"Genindbetal {_kr(reversal.pay_again)} og tilbagebetal "
                f"{_kr(reversal.pay_back)} giver ikke indbetalingens {_kr(payment.amount)}"
            )
        if reversal.pay_again > 0:
            self._check_pay_again(reversal)
        return reversal

    def _check_pay_again(self, reversal: ExecutedReversal) -> None:
        again = (
            self.facts.owned.get((reversal.fagsystem_id, reversal.pay_again_id))
            if reversal.pay_again_id
            else None
        )
        if again is None:
            self._found(f"Genindbetalingen på {_kr(reversal.pay_again)} findes ikke i fagsystemet")
        elif again.amount != reversal.pay_again:
            self._found(
                f"Beløbene er forskellige: genindbetal {_kr(reversal.pay_again)}, "
                f"genindbetalingen {again.payment_id} er på {_kr(again.amount)}"
            )
        elif again.state is PaymentState.AFVIST:
            self._found(
                f"Genindbetalingen {again.payment_id} blev afvist: "
                f"{_kr(reversal.pay_again)} er hverken genindbetalt eller tilbagebetalt"
            )

    def _check_reversal_posting(self, payment: FagsystemPayment) -> None:
        expected = -payment.amount if payment.state is PaymentState.TILBAGEFOERT else 0
        self._check_one(
            PostingType.TILBAGEFOERSEL,
            expected,
            missing="Tilbageført, men tilbageførslen er ikke bogført",
            unexpected="Tilbageførsel bogført, men indbetalingen er ikke tilbageført",
        )

    def _check_pay_back(self, pay_back: int) -> None:
        self._check_one(
            PostingType.TILBAGEBETALING,
            pay_back,
            missing=f"Tilbagebetalingen på {_kr(pay_back)} er ikke bogført",
            unexpected="Tilbagebetaling bogført, men fagsystemet har ingen tilbagebetaling",
        )
        if pay_back == 0:
            if self.payouts:
                self._found("Udbetaling til NemKonto, men fagsystemet har ingen tilbagebetaling")
            return
        if not self.payouts:
            self._found(f"Tilbagebetalingen på {_kr(pay_back)} er ikke sendt til NemKonto")
        elif len(self.payouts) > 1:
            self._found(f"Tilbagebetalingen er sendt til NemKonto {len(self.payouts)} gange")
        elif self.payouts[0].amount != pay_back:
            self._found(
                f"Beløbene er forskellige: NemKonto {_kr(self.payouts[0].amount)}, "
                f"tilbagebetal {_kr(pay_back)}"
            )

"""The payments master's rules (fagsystem/domain.py), pure: states, splits and bookings.

The property test plays random sequences of payments, write-downs, other coverages, reversals
(executed by hand with a random split, or automatically) and pays-again against a small model of
the debitorsystem's claims, and checks after every step: a reversal never frees more than the
payment, the split adds up, a pay-again under `AUTOMATISK` always fits the Restance, every
posting balances, every event is booked exactly once, and the books agree with the payments.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import hypothesis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indbetaling.fagsystem import domain
from indbetaling.fagsystem.domain import (
    Answer,
    Chart,
    Execution,
    FejlKode,
    IllegalTransition,
    Payment,
    PaymentState,
    Posting,
    PostingKind,
    Reason,
    Refused,
    Reversal,
    ReversalSource,
    ReversalState,
    Split,
    StepState,
)

CHART = Chart()
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)
CVR = "29189846"


def payment(amount: int = 10_000, **changes: object) -> Payment:
    p = Payment(
        id=uuid.uuid4(),
        fagsystem_id=uuid.uuid4(),
        authority_cvr=CVR,
        claim_id=uuid.uuid4(),
        amount=amount,
        payer_part_id="urn:oio:cpr-nr:0101900000",
        org_unit_id=uuid.uuid4(),
        text=None,
        payment_date=TODAY,
        transaction_uuid=uuid.uuid4(),
        created_at=NOW,
    )
    return replace(p, **changes)  # type: ignore[arg-type]


def accepted(p: Payment, restance: int = 0) -> Payment:
    answer = Answer(True, restance=restance, coverage_id=uuid.uuid4())
    return domain.answer_payment(p, answer, chart=CHART, now=NOW, today=TODAY).payment


def reversal_of(p: Payment, **changes: object) -> Reversal:
    r = Reversal(
        id=uuid.uuid4(),
        fagsystem_id=p.fagsystem_id,
        authority_cvr=p.authority_cvr,
        payment_id=p.id,
        source=ReversalSource.SAGSBEHANDLER,
        amount=p.amount,
        created_at=NOW,
    )
    return replace(r, **changes)  # type: ignore[arg-type]


def execution(split: Split | None) -> Execution:
    return Execution(split, split is None, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4())


def balance(postings: list[Posting], account: str) -> int:
    return sum(line.amount for p in postings for line in p.lines if line.account.number == account)


# --- single rules ----------------------------------------------------------------------------


def test_an_accepted_payment_is_booked_once_on_the_configured_accounts() -> None:
    chart = Chart(citizen_funds=domain.Account("9001", "Midler"))
    p = payment(12_550)
    change = domain.answer_payment(
        p, Answer(True, restance=500, coverage_id=uuid.uuid4()), chart=chart, now=NOW, today=TODAY
    )
    assert change.payment.state is PaymentState.ACCEPTERET
    assert change.payment.restance == 500
    (posting,) = change.postings
    assert posting.id == domain.posting_id(PostingKind.INDBETALING, p.id)
    assert posting.reference == p.id
    assert posting.day == TODAY
    assert [(line.account.number, line.amount) for line in posting.lines] == [
        ("6010", 12_550),
        ("9001", -12_550),
    ]
    assert posting.balanced
    assert [e.kind for e in change.events] == [domain.EventKind.ACCEPTERET]
    with pytest.raises(IllegalTransition):
        domain.answer_payment(change.payment, Answer(True), chart=CHART, now=NOW, today=TODAY)


def test_a_refused_payment_keeps_the_code_and_the_restance_and_books_nothing() -> None:
    answer = Answer(False, "BELOEB_OVERSTIGER_RESTANCE", "For meget", restance=4_000)
    change = domain.answer_payment(payment(), answer, chart=CHART, now=NOW, today=TODAY)
    assert change.payment.state is PaymentState.AFVIST
    assert (change.payment.error_code, change.payment.restance) == (
        "BELOEB_OVERSTIGER_RESTANCE",
        4_000,
    )
    assert change.postings == ()
    assert "BELOEB_OVERSTIGER_RESTANCE" in change.events[0].text


@pytest.mark.parametrize(
    ("split", "code"),
    [
        (Split(-1, 10_001), FejlKode.BELOEB_UGYLDIGT),
        (Split(5_000, 4_999), FejlKode.BELOEB_SUM_UGYLDIG),
        (Split(10_000, 1), FejlKode.BELOEB_SUM_UGYLDIG),
        (Split(0, 0), FejlKode.BELOEB_SUM_UGYLDIG),
    ],
)
def test_a_split_must_add_up_to_the_whole_payment(split: Split, code: FejlKode) -> None:
    with pytest.raises(Refused) as refused:
        domain.check_split(10_000, split)
    assert refused.value.code is code


def test_automatic_split_pays_again_what_is_owed_and_back_the_rest() -> None:
    assert domain.automatic_split(10_000, 4_000) == Split(4_000, 6_000)
    assert domain.automatic_split(10_000, 25_000) == Split(10_000, 0)
    assert domain.automatic_split(10_000, 0) == Split(0, 10_000)
    assert domain.automatic_split(10_000, None) == Split(0, 10_000)


@given(
    owed=st.integers(min_value=0, max_value=10**9),
    others=st.integers(min_value=0, max_value=10**9),
    amount=st.integers(min_value=1, max_value=10**9),
)
def test_the_suggested_split_is_what_automatisk_makes_of_the_restance_after(
    owed: int, others: int, amount: int
) -> None:
    """Before it asks, the fagsystem knows the claim as shown (Restance never below 0) and the
    order's over-coverage; from them it foresees the Restance once the payment is reversed."""
    raw = owed - others - amount  # what the claim owes with the payment counted; < 0 over-covered
    shown, over = max(0, raw), max(0, -raw)
    after = max(0, raw + amount)
    assert domain.expected_restance_after(shown, amount, over) == after
    assert domain.suggested_split(amount, shown, over) == domain.automatic_split(amount, after)


def test_the_reason_follows_the_order_and_the_source() -> None:
    p = payment()
    assert reversal_of(p, order_id=uuid.uuid4()).reason is Reason.TILBAGEFOERSELSORDRE
    assert reversal_of(p).reason is Reason.FEJLREGISTRERING
    assert reversal_of(p, source=ReversalSource.MANUEL_ADVIS).reason is Reason.ANDET


def test_executing_again_with_the_same_split_changes_nothing_and_another_is_refused() -> None:
    p = accepted(payment(10_000))
    r, events = domain.execute(reversal_of(p), p, execution(Split(3_000, 7_000)), NOW)
    assert r.step is StepState.VENTER
    assert len(events) == 1
    again, none = domain.execute(r, p, execution(Split(3_000, 7_000)), NOW)
    assert (again, none) == (r, ())  # R4: the ids fixed the first time stay
    with pytest.raises(Refused) as refused:
        domain.execute(r, p, execution(Split(3_001, 6_999)), NOW)
    assert refused.value.code is FejlKode.TILBAGEFOERSEL_KONFLIKT


def test_only_an_accepted_payment_is_reversed_by_hand() -> None:
    p = payment()
    with pytest.raises(Refused) as refused:
        domain.execute(reversal_of(p), p, execution(Split(0, p.amount)), NOW)
    assert refused.value.code is FejlKode.INDBETALING_IKKE_ACCEPTERET
    refused_reversal = reversal_of(p, state=ReversalState.AFVIST)
    with pytest.raises(Refused) as again:
        domain.execute(refused_reversal, p, execution(Split(0, p.amount)), NOW)
    assert again.value.code is FejlKode.TILBAGEFOERSEL_AFVIST


def test_a_refused_reversal_leaves_the_payment_and_books_nothing() -> None:
    p = accepted(payment())
    r, _ = domain.execute(reversal_of(p), p, execution(Split(0, p.amount)), NOW)
    outcome = domain.answer_reversal(
        r, p, Answer(False, "IKKE_EJER", "Ikke ejer"), chart=CHART, now=NOW, today=TODAY
    )
    assert outcome.reversal.state is ReversalState.AFVIST
    assert outcome.reversal.error_code == "IKKE_EJER"
    assert outcome.payment == p
    assert (outcome.postings, outcome.repay, outcome.payback) == ((), None, None)


def test_an_accepted_reversal_books_back_pays_again_and_pays_back() -> None:
    p = accepted(payment(10_000))
    fixed = execution(Split(3_000, 7_000))
    r, _ = domain.execute(reversal_of(p), p, fixed, NOW)
    outcome = domain.answer_reversal(
        r, p, Answer(True, restance=12_000), chart=CHART, now=NOW, today=TODAY
    )
    assert outcome.reversal.state is ReversalState.UDFOERT
    assert outcome.payment.state is PaymentState.TILBAGEFOERT
    repay = outcome.repay
    assert repay is not None
    assert (repay.id, repay.transaction_uuid) == (
        fixed.repay_payment_id,
        fixed.repay_transaction_uuid,
    )
    assert (repay.claim_id, repay.amount, repay.state) == (p.claim_id, 3_000, PaymentState.AFSENDT)
    assert repay.repays_reversal_id == r.id
    # The pay-back waits for the new payment's answer (it may have to take its share too).
    assert outcome.payback is None
    assert [(x.kind, x.reference) for x in outcome.postings] == [(PostingKind.TILBAGEFOERSEL, p.id)]
    with pytest.raises(IllegalTransition):
        domain.answer_reversal(
            outcome.reversal, outcome.payment, Answer(True), chart=CHART, now=NOW, today=TODAY
        )

    again = domain.answer_payment(
        repay, Answer(True, restance=9_000), chart=CHART, now=NOW, today=TODAY
    ).payment
    paid = domain.answer_pay_again(
        outcome.reversal, outcome.payment, again, chart=CHART, now=NOW, today=TODAY
    )
    assert not paid.reversal.repay_refused
    assert paid.reversal.outcome == Split(3_000, 7_000)
    payback = paid.payback
    assert payback is not None
    assert (payback.id, payback.amount, payback.part_id) == (
        fixed.payback_id,
        7_000,
        p.payer_part_id,
    )
    assert [(x.kind, x.reference) for x in paid.postings] == [(PostingKind.TILBAGEBETALING, p.id)]
    assert [line.amount for line in paid.postings[0].lines] == [7_000, -7_000]
    assert domain.postings_of(outcome.payment, paid_back=True) == tuple(
        domain.posting_id(k, p.id)
        for k in (PostingKind.INDBETALING, PostingKind.TILBAGEFOERSEL, PostingKind.TILBAGEBETALING)
    )


@pytest.mark.parametrize("payback", [0, 7_000])
def test_a_refused_pay_again_is_paid_back_with_the_rest(payback: int) -> None:
    p = accepted(payment(3_000 + payback))
    fixed = execution(Split(3_000, payback))
    r, _ = domain.execute(reversal_of(p), p, fixed, NOW)
    outcome = domain.answer_reversal(
        r, p, Answer(True, restance=1_000), chart=CHART, now=NOW, today=TODAY
    )
    assert outcome.repay is not None
    refused = domain.answer_payment(
        outcome.repay,
        Answer(False, error_code="BELOEB_OVERSTIGER_RESTANCE", restance=1_000),
        chart=CHART,
        now=NOW,
        today=TODAY,
    ).payment
    paid = domain.answer_pay_again(
        outcome.reversal, outcome.payment, refused, chart=CHART, now=NOW, today=TODAY
    )
    assert paid.reversal.repay_refused
    assert paid.reversal.outcome == Split(0, p.amount)
    assert paid.reversal.execution == outcome.reversal.execution  # the split as it was asked
    assert paid.payback is not None and paid.payback.amount == p.amount
    assert [line.amount for line in paid.postings[0].lines] == [p.amount, -p.amount]
    assert [e.kind for e in paid.events] == [
        domain.EventKind.GENINDBETALING_AFVIST,
        domain.EventKind.TILBAGEBETALING,
    ]


def test_only_the_answered_pay_again_of_an_executed_reversal_pays_back() -> None:
    p = accepted(payment(10_000))
    r, _ = domain.execute(reversal_of(p), p, execution(Split(3_000, 7_000)), NOW)
    outcome = domain.answer_reversal(r, p, Answer(True), chart=CHART, now=NOW, today=TODAY)
    assert outcome.repay is not None
    for pay_again, reversal in [
        (outcome.repay, outcome.reversal),  # no answer yet
        (p, outcome.reversal),  # another payment
        (replace(outcome.repay, state=PaymentState.ACCEPTERET), r),  # a reversal not answered
    ]:
        with pytest.raises(IllegalTransition):
            domain.answer_pay_again(
                reversal, outcome.payment, pay_again, chart=CHART, now=NOW, today=TODAY
            )


def test_nothing_is_paid_again_or_back_when_its_share_is_zero() -> None:
    p = accepted(payment(10_000))
    r, _ = domain.execute(reversal_of(p), p, execution(None), NOW)
    outcome = domain.answer_reversal(
        r, p, Answer(True, restance=50_000), chart=CHART, now=NOW, today=TODAY
    )
    assert outcome.reversal.execution is not None
    assert outcome.reversal.execution.split == Split(10_000, 0)
    assert outcome.reversal.execution.automatic
    assert outcome.payback is None
    assert [x.kind for x in outcome.postings] == [PostingKind.TILBAGEFOERSEL]
    assert outcome.repay is not None


# --- the property ----------------------------------------------------------------------------


@dataclass
class Books:
    """The debitorsystem's claims (a model) and everything the fagsystem recorded."""

    restance: dict[int, int]
    payments: list[Payment] = field(default_factory=list)
    coverage: dict[UUID, int] = field(default_factory=dict)
    """The model's live coverages of fagsystem payments, per IndbetalingId."""
    reversed: set[UUID] = field(default_factory=set)
    postings: list[Posting] = field(default_factory=list)
    paybacks: list[domain.Payback] = field(default_factory=list)
    claim_of: dict[UUID, int] = field(default_factory=dict)
    clock: datetime = NOW

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def send(self, p: Payment) -> Payment:
        """The model answers a payment: accepted when it fits the Restance (R2)."""
        claim = self.claim_of[p.claim_id]
        fits = 0 < p.amount <= self.restance[claim]
        if fits:
            self.restance[claim] -= p.amount
            self.coverage[p.id] = p.amount
            answer = Answer(True, restance=self.restance[claim], coverage_id=uuid.uuid4())
        else:
            answer = Answer(False, "BELOEB_OVERSTIGER_RESTANCE", "", max(0, self.restance[claim]))
        change = domain.answer_payment(p, answer, chart=CHART, now=self.tick(), today=TODAY)
        self.postings += change.postings
        self.payments = [change.payment if x.id == p.id else x for x in self.payments]
        return change.payment


operation = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(1, 30_000)),
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(1, 30_000)),
    st.tuples(st.just("write_down"), st.integers(0, 2), st.integers(1, 30_000)),
    st.tuples(st.just("other"), st.integers(0, 2), st.integers(1, 30_000)),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.none()),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(0, 100)),
    st.tuples(st.just("refused_reversal"), st.integers(0, 50), st.none()),
)


@settings(max_examples=150, deadline=None)
@given(
    restances=st.lists(st.integers(1, 100_000), min_size=3, max_size=3),
    operations=st.lists(operation, min_size=12, max_size=40),
)
def test_reversals_never_free_more_than_was_paid_and_every_event_is_booked_once(
    restances: list[int], operations: list[tuple[str, int, int | None]]
) -> None:
    books = Books(restance=dict(enumerate(restances)))
    claim_ids = [uuid.uuid4() for _ in restances]
    books.claim_of = {c: n for n, c in enumerate(claim_ids)}
    events: Counter[PostingKind] = Counter()
    for name, target, amount in operations:
        if name == "pay":
            assert amount is not None
            p = payment(amount, claim_id=claim_ids[target], created_at=books.tick())
            books.payments.append(p)
            if books.send(p).state is PaymentState.ACCEPTERET:
                events[PostingKind.INDBETALING] += 1
        elif name in {"write_down", "other"}:
            assert amount is not None
            # another coverage never exceeds Restance; a write-down may over-cover the claim
            cap = max(0, books.restance[target]) if name == "other" else amount
            books.restance[target] -= min(amount, cap)
        else:
            live = [p for p in books.payments if p.state is PaymentState.ACCEPTERET]
            if not live:
                continue
            p = live[target % len(live)]
            split = None if amount is None else Split(p.amount * amount // 100, 0)
            if split is not None:
                split = Split(split.repay, p.amount - split.repay)
            r, _ = domain.execute(reversal_of(p), p, execution(split), books.tick())
            if name == "refused_reversal":
                outcome = domain.answer_reversal(
                    r, p, Answer(False, "IKKE_EJER", ""), chart=CHART, now=books.tick(), today=TODAY
                )
                assert outcome.payment == p and outcome.postings == ()
                continue
            claim = books.claim_of[p.claim_id]
            books.restance[claim] += books.coverage.pop(p.id)  # the model reverses in full
            restance_after = max(0, books.restance[claim])
            outcome = domain.answer_reversal(
                r,
                p,
                Answer(True, restance=restance_after),
                chart=CHART,
                now=books.tick(),
                today=TODAY,
            )
            done = outcome.reversal.execution
            assert done is not None and done.split is not None
            repaid, paid_back = done.split.repay, done.split.payback
            assert repaid >= 0 and paid_back >= 0
            assert repaid + paid_back == p.amount  # never more than was freed, nothing lost
            if split is None:
                assert repaid == min(p.amount, restance_after)
            books.payments = [outcome.payment if x.id == p.id else x for x in books.payments]
            books.postings += outcome.postings
            events[PostingKind.TILBAGEFOERSEL] += 1
            hypothesis.event("reversed " + ("automatically" if split is None else "by hand"))
            if outcome.payback is not None:
                books.paybacks.append(outcome.payback)
                events[PostingKind.TILBAGEBETALING] += 1
            if outcome.repay is not None:
                books.payments.append(outcome.repay)
                again = books.send(outcome.repay)
                if split is None:  # the automatic pay-again fits what the claim owes
                    assert again.state is PaymentState.ACCEPTERET
                if again.state is PaymentState.ACCEPTERET:
                    events[PostingKind.INDBETALING] += 1
        _check(books, events)


def _check(books: Books, events: Counter[PostingKind]) -> None:
    ids = [p.id for p in books.postings]
    assert len(ids) == len(set(ids))  # each event booked exactly once
    assert Counter(p.kind for p in books.postings) == events
    assert all(p.balanced for p in books.postings)
    for p in books.postings:
        assert p.id == domain.posting_id(p.kind, p.reference)
    # the books agree with the payments: what the debitorsystem holds, what NemKonto paid out
    assert balance(books.postings, "6010") == sum(books.coverage.values())
    assert balance(books.postings, "2950") == sum(p.amount for p in books.paybacks)
    assert balance(books.postings, "2901") == -(
        sum(books.coverage.values()) + sum(p.amount for p in books.paybacks)
    )
    for made in books.payments:  # the postings a payment shows are the ones booked
        paid_back = any(b.payment_id == made.id for b in books.paybacks)
        shown = set(domain.postings_of(made, paid_back))
        assert shown == {x.id for x in books.postings if x.reference == made.id}

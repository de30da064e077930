"""The three-way reconciliation as a pure function: any consistent world of payments,
reversals with pay-again and pay-back, coverages, postings and NemKonto requests agrees; any
single inconsistency injected into it is reported under the IndbetalingId it concerns."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from indbetaling.finance.domain import PostingType
from indbetaling.finance.reconciliation import (
    BookedPosting,
    DebtorCoverage,
    ExecutedReversal,
    FagsystemPayment,
    PaymentState,
    PayoutRequest,
    Sources,
    reconcile,
)

T = TypeVar("T")
HOSTED = (uuid.UUID(int=1), uuid.UUID(int=2))


@dataclass
class World:
    """A consistent world, built the way the system makes one, plus who relates to whom."""

    payments: list[FagsystemPayment] = field(default_factory=list)
    reversals: list[ExecutedReversal] = field(default_factory=list)
    coverages: list[DebtorCoverage] = field(default_factory=list)
    postings: list[BookedPosting] = field(default_factory=list)
    payouts: list[PayoutRequest] = field(default_factory=list)
    related: dict[UUID, set[UUID]] = field(default_factory=dict)
    """A reversed payment and its new payment each name the other (a mismatch in one may
    show in both)."""

    def sources(self) -> Sources:
        return Sources(self.payments, self.reversals, self.coverages, self.postings, self.payouts)

    def pay(self, fagsystem: UUID, amount: int, state: PaymentState) -> UUID:
        payment_id = uuid.uuid4()
        self.payments.append(FagsystemPayment(payment_id, fagsystem, state, amount))
        self.related.setdefault(payment_id, set())
        if state in (PaymentState.ACCEPTERET, PaymentState.TILBAGEFOERT):
            reversed_ = state is PaymentState.TILBAGEFOERT
            self.coverages.append(DebtorCoverage(payment_id, fagsystem, amount, reversed_))
            self.book(payment_id, PostingType.INDBETALING, amount)
        return payment_id

    def book(self, reference: UUID, kind: PostingType, amount: int) -> None:
        payout = amount if kind is PostingType.TILBAGEBETALING else 0
        settlement = 0 if kind is PostingType.TILBAGEBETALING else amount
        self.postings.append(BookedPosting(uuid.uuid4(), reference, kind, settlement, payout))

    def reverse(self, payment: FagsystemPayment, again_id: UUID | None, again: int) -> None:
        """`payment` was reversed (its coverage already is): `again` paid anew as `again_id`,
        the rest paid back."""
        payment_id, amount = payment.payment_id, payment.amount
        self.book(payment_id, PostingType.TILBAGEFOERSEL, -amount)
        if again_id:
            self.related[payment_id].add(again_id)
            self.related[again_id].add(payment_id)
        back = amount - again
        back_id = None
        if back:
            back_id = uuid.uuid4()
            self.book(payment_id, PostingType.TILBAGEBETALING, back)
            self.payouts.append(PayoutRequest(back_id, payment_id, back))
        self.reversals.append(
            ExecutedReversal(payment_id, payment.fagsystem_id, again, back, again_id, back_id)
        )


amounts = st.integers(min_value=1, max_value=10**9)
FIRST = [PaymentState.ACCEPTERET, PaymentState.AFVIST, PaymentState.TILBAGEFOERT]
AGAIN = [PaymentState.ACCEPTERET, PaymentState.TILBAGEFOERT]


def story(draw: st.DrawFn, world: World, fagsystem: UUID, amount: int, depth: int) -> UUID:
    """One payment and, when it is reversed, the payment of the freed money made again (which
    may be reversed in turn) and the pay-back of the rest."""
    choices = FIRST if depth == 0 else AGAIN if depth < 3 else AGAIN[:1]
    state = draw(st.sampled_from(choices))
    payment_id = world.pay(fagsystem, amount, state)
    if state is PaymentState.TILBAGEFOERT:
        again = draw(st.integers(min_value=0, max_value=amount))
        again_id = story(draw, world, fagsystem, again, depth + 1) if again else None
        world.reverse(FagsystemPayment(payment_id, fagsystem, state, amount), again_id, again)
    return payment_id


@st.composite
def worlds(draw: st.DrawFn) -> World:
    world = World()
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        story(draw, world, draw(st.sampled_from(HOSTED)), draw(amounts), 0)
    return world


# --- single inconsistencies, each returning the IndbetalingId it concerns -------------------

Mutation = Callable[[st.DrawFn, World], UUID | None]
DELTA = st.integers(min_value=1, max_value=10_000)


def _one(draw: st.DrawFn, items: list[T]) -> T | None:
    return draw(st.sampled_from(items)) if items else None


def drop_coverage(draw: st.DrawFn, w: World) -> UUID | None:
    c = _one(draw, w.coverages)
    if c is None:
        return None
    w.coverages.remove(c)
    return c.payment_id


def coverage_amount(draw: st.DrawFn, w: World) -> UUID | None:
    c = _one(draw, w.coverages)
    if c is None:
        return None
    w.coverages[w.coverages.index(c)] = dataclasses.replace(c, amount=c.amount + draw(DELTA))
    return c.payment_id


def coverage_state(draw: st.DrawFn, w: World) -> UUID | None:
    c = _one(draw, w.coverages)
    if c is None:
        return None
    w.coverages[w.coverages.index(c)] = dataclasses.replace(c, reversed=not c.reversed)
    return c.payment_id


def drop_posting(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, w.postings)
    if p is None:
        return None
    w.postings.remove(p)
    return p.reference


def posting_twice(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, w.postings)
    if p is None:
        return None
    w.postings.append(dataclasses.replace(p, posting_id=uuid.uuid4()))
    return p.reference


def posting_amount(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, w.postings)
    if p is None:
        return None
    d = draw(DELTA)
    changed = dataclasses.replace(p, settlement=p.settlement + d, payout=p.payout + d)
    w.postings[w.postings.index(p)] = changed
    return p.reference


def still_awaiting(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, w.payments)
    if p is None:
        return None
    w.payments[w.payments.index(p)] = dataclasses.replace(p, state=PaymentState.AFSENDT)
    return p.payment_id


def payment_amount(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, [p for p in w.payments if p.state is not PaymentState.AFVIST])
    if p is None:
        return None
    w.payments[w.payments.index(p)] = dataclasses.replace(p, amount=p.amount + draw(DELTA))
    return p.payment_id


def forget_payment(draw: st.DrawFn, w: World) -> UUID | None:
    """A fagsystem no longer lists a payment that left traces elsewhere."""
    p = _one(draw, [p for p in w.payments if p.state is not PaymentState.AFVIST])
    if p is None:
        return None
    w.payments.remove(p)
    return p.payment_id


def cover_rejected(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, [p for p in w.payments if p.state is PaymentState.AFVIST])
    if p is None:
        return None
    w.coverages.append(DebtorCoverage(p.payment_id, p.fagsystem_id, p.amount, False))
    return p.payment_id


def book_rejected(draw: st.DrawFn, w: World) -> UUID | None:
    p = _one(draw, [p for p in w.payments if p.state is PaymentState.AFVIST])
    if p is None:
        return None
    w.book(p.payment_id, PostingType.INDBETALING, p.amount)
    return p.payment_id


def stranger_coverage(draw: st.DrawFn, w: World) -> UUID | None:
    """A coverage made by a payment of a fagsystem the reconciliation does not host."""
    payment_id = uuid.uuid4()
    w.coverages.append(DebtorCoverage(payment_id, uuid.uuid4(), draw(amounts), draw(st.booleans())))
    return payment_id


def stranger_posting(draw: st.DrawFn, w: World) -> UUID | None:
    payment_id = uuid.uuid4()
    w.book(payment_id, draw(st.sampled_from(list(PostingType))), draw(amounts))
    return payment_id


def stranger_payout(draw: st.DrawFn, w: World) -> UUID | None:
    payment_id = uuid.uuid4()
    w.payouts.append(PayoutRequest(uuid.uuid4(), payment_id, draw(amounts)))
    return payment_id


def drop_payout(draw: st.DrawFn, w: World) -> UUID | None:
    r = _one(draw, w.payouts)
    if r is None:
        return None
    w.payouts.remove(r)
    return r.reference


def payout_amount(draw: st.DrawFn, w: World) -> UUID | None:
    r = _one(draw, w.payouts)
    if r is None:
        return None
    w.payouts[w.payouts.index(r)] = dataclasses.replace(r, amount=r.amount + draw(DELTA))
    return r.reference


def payout_twice(draw: st.DrawFn, w: World) -> UUID | None:
    r = _one(draw, w.payouts)
    if r is None:
        return None
    w.payouts.append(dataclasses.replace(r, request_id=uuid.uuid4()))
    return r.reference


def drop_reversal(draw: st.DrawFn, w: World) -> UUID | None:
    r = _one(draw, w.reversals)
    if r is None:
        return None
    w.reversals.remove(r)
    return r.payment_id


def reversal_split(draw: st.DrawFn, w: World) -> UUID | None:
    """The reversal says more was paid back than the payment freed."""
    r = _one(draw, w.reversals)
    if r is None:
        return None
    w.reversals[w.reversals.index(r)] = dataclasses.replace(r, pay_back=r.pay_back + draw(DELTA))
    return r.payment_id


MUTATIONS: list[Mutation] = [
    drop_coverage,
    coverage_amount,
    coverage_state,
    drop_posting,
    posting_twice,
    posting_amount,
    still_awaiting,
    payment_amount,
    forget_payment,
    cover_rejected,
    book_rejected,
    stranger_coverage,
    stranger_posting,
    stranger_payout,
    drop_payout,
    payout_amount,
    payout_twice,
    drop_reversal,
    reversal_split,
]


@settings(max_examples=300)
@given(worlds())
def test_a_consistent_world_agrees(world: World) -> None:
    result = reconcile(world.sources())
    assert result.agreed, result.deviations
    assert result.count == len({p.payment_id for p in world.payments})


@settings(max_examples=400)
@given(worlds(), st.sampled_from(MUTATIONS), st.data())
def test_any_single_inconsistency_is_named_with_its_payment(
    world: World, mutation: Mutation, data: st.DataObject
) -> None:
    target = mutation(data.draw, world)
    if target is None:  # nothing of that kind in this world to break
        assert reconcile(world.sources()).agreed
        return
    result = reconcile(world.sources())
    assert not result.agreed
    named = {d.payment_id for d in result.deviations}
    assert target in named, (mutation.__name__, result.deviations)
    assert named <= {target} | world.related.get(target, set())
    assert all(
        d.description and d.fagsystem and d.debitorsystem and d.finance for d in result.deviations
    )


def test_each_mismatch_is_named_in_danish_with_what_each_part_says() -> None:
    world = World()
    fs = HOSTED[0]
    accepted = world.pay(fs, 10_000, PaymentState.ACCEPTERET)
    world.book(accepted, PostingType.INDBETALING, 10_000)  # booked twice
    awaiting = uuid.uuid4()
    world.payments.append(FagsystemPayment(awaiting, fs, PaymentState.AFSENDT, 5_000))
    stranger_fagsystem = uuid.uuid4()
    stranger = uuid.uuid4()
    world.coverages.append(DebtorCoverage(stranger, stranger_fagsystem, 2_500, False))
    shared = uuid.uuid4()
    for owner in HOSTED:
        world.payments.append(FagsystemPayment(shared, owner, PaymentState.ACCEPTERET, 100))
        world.coverages.append(DebtorCoverage(shared, owner, 100, False))
    result = reconcile(world.sources())
    rows = {(d.payment_id, d.description): d for d in result.deviations}
    assert result.count == 4
    twice = rows[accepted, "Bogført 2 gange (INDBETALING)"]
    assert twice.fagsystem == "ACCEPTERET 100.00"
    assert twice.debitorsystem == "dækning 100.00"
    assert twice.finance == "INDBETALING 100.00; INDBETALING 100.00"
    waiting = rows[awaiting, "Indbetalingen afventer stadig svar fra debitorsystemet (AFSENDT)"]
    assert (waiting.debitorsystem, waiting.finance) == ("ingen dækning", "ingen postering")
    unknown = rows[
        stranger, "Dækning fra en indbetaling, som intet fagsystem i afstemningen kender"
    ]
    assert unknown.fagsystem == "ukendt"
    assert unknown.debitorsystem == f"dækning 25.00 (fagsystem {stranger_fagsystem})"
    assert (shared, "IndbetalingId'et bruges af flere fagsystemer") in rows
    assert len(result.deviations) == 4


def test_a_reversal_whose_split_does_not_add_up_is_named() -> None:
    world = World()
    fs = HOSTED[1]
    paid = world.pay(fs, 10_000, PaymentState.TILBAGEFOERT)
    again = world.pay(fs, 3_000, PaymentState.ACCEPTERET)
    payment = FagsystemPayment(paid, fs, PaymentState.TILBAGEFOERT, 10_000)
    world.reverse(payment, again, 3_000)
    assert reconcile(world.sources()).agreed
    (reversal,) = world.reversals
    world.reversals[0] = dataclasses.replace(reversal, pay_again=4_000)
    (deviation, amounts_differ) = reconcile(world.sources()).deviations
    assert deviation.payment_id == paid
    assert deviation.description == (
        "Genindbetal 40.00 og tilbagebetal 70.00 giver ikke indbetalingens 100.00"
    )
    assert amounts_differ.description == (
        f"Beløbene er forskellige: genindbetal 40.00, genindbetalingen {again} er på 30.00"
    )


def test_a_rejected_pay_again_leaves_the_freed_money_nowhere() -> None:
    world = World()
    fs = HOSTED[0]
    paid = world.pay(fs, 10_000, PaymentState.TILBAGEFOERT)
    again = world.pay(fs, 10_000, PaymentState.AFVIST)
    world.reverse(FagsystemPayment(paid, fs, PaymentState.TILBAGEFOERT, 10_000), again, 10_000)
    (deviation,) = reconcile(world.sources()).deviations
    assert deviation.payment_id == paid
    assert deviation.description.startswith(f"Genindbetalingen {again} blev afvist")


def test_nothing_to_compare_agrees() -> None:
    result = reconcile(Sources())
    assert result.agreed
    assert result.count == 0

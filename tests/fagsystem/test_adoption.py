"""Taking over payments the debitorsystem holds (the demo's dataset): each becomes the payment
the fagsystem would have made, with its reversal, pay-back and one balanced posting per event,
once, however often it is taken over."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fagsystem.payments_env import CVR, OTHER_CVR, PART, PaymentsEnv, env

__all__ = ["env"]
from indbetaling.fagsystem import adoption
from indbetaling.fagsystem.adoption import KnownPayment, KnownReversal
from indbetaling.fagsystem.domain import (
    Chart,
    PaymentState,
    PostingKind,
    Reason,
    ReversalSource,
    ReversalState,
    posting_id,
    postings_of,
)

FAGSYSTEM = uuid.UUID("0b1a4e55-6d2c-4f3e-8a9b-7c6d5e4f3a2b")
PAID_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def known(
    amount: int = 12_345,
    reversal: KnownReversal | None = None,
    cvr: str = CVR,
    unit: uuid.UUID | None = None,
) -> KnownPayment:
    return KnownPayment(
        payment_id=uuid.uuid4(),
        authority_cvr=cvr,
        claim_id=uuid.uuid4(),
        amount=amount,
        payment_date=date(2026, 3, 2),
        payer_part_id=PART,
        org_unit_id=unit or uuid.uuid4(),
        text="Betaling af daginstitution",
        coverage_id=uuid.uuid4(),
        restance_after=5_000,
        registered_at=PAID_AT,
        reversal=reversal,
    )


def reversed_by(reason: Reason, order_id: uuid.UUID | None = None) -> KnownReversal:
    return KnownReversal(reason, order_id, PAID_AT + timedelta(days=3))


def test_a_payment_not_reversed_is_accepted_and_booked_once() -> None:
    payment = known()
    taken = adoption.adopt(payment, FAGSYSTEM, Chart())
    assert taken.sent.state is PaymentState.AFSENDT
    after = taken.payment
    assert after.state is PaymentState.ACCEPTERET
    assert (after.id, after.amount, after.coverage_id, after.restance) == (
        payment.payment_id,
        payment.amount,
        payment.coverage_id,
        payment.restance_after,
    )
    assert [p.id for p in taken.postings] == [
        posting_id(PostingKind.INDBETALING, payment.payment_id)
    ]
    assert taken.postings[0].day == payment.payment_date
    assert taken.reversal is None and taken.payback is None


def test_a_payment_reversed_by_an_order_is_reversed_and_paid_back_in_full() -> None:
    order_id = uuid.uuid4()
    payment = known(reversal=reversed_by(Reason.TILBAGEFOERSELSORDRE, order_id))
    taken = adoption.adopt(payment, FAGSYSTEM, Chart())
    assert taken.payment.state is PaymentState.TILBAGEFOERT
    reversal = taken.reversal
    assert reversal is not None and reversal.execution is not None
    assert (reversal.source, reversal.order_id, reversal.state) == (
        ReversalSource.ORDRE,
        order_id,
        ReversalState.UDFOERT,
    )
    assert reversal.execution.split is not None
    assert (reversal.execution.split.repay, reversal.execution.split.payback) == (
        0,
        payment.amount,
    )
    assert taken.payback is not None
    assert (taken.payback.amount, taken.payback.part_id) == (payment.amount, PART)
    assert tuple(p.id for p in taken.postings) == postings_of(taken.payment, paid_back=True)
    assert all(p.balanced for p in taken.postings)


def test_a_mistaken_payment_was_reversed_by_the_case_worker() -> None:
    taken = adoption.adopt(known(reversal=reversed_by(Reason.FEJLREGISTRERING)), FAGSYSTEM, Chart())
    assert taken.reversal is not None
    assert taken.reversal.source is ReversalSource.SAGSBEHANDLER
    assert taken.reversal.reason is Reason.FEJLREGISTRERING


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    reason=st.none() | st.sampled_from(list(Reason)),
)
def test_every_adoption_balances_and_is_the_same_when_taken_again(
    amount: int, reason: Reason | None
) -> None:
    order_id = uuid.uuid4() if reason is Reason.TILBAGEFOERSELSORDRE else None
    payment = known(amount, None if reason is None else reversed_by(reason, order_id))
    taken = adoption.adopt(payment, FAGSYSTEM, Chart())
    assert taken == adoption.adopt(payment, FAGSYSTEM, Chart())
    assert all(p.balanced for p in taken.postings)
    assert len({p.id for p in taken.postings}) == len(taken.postings)
    assert tuple(p.id for p in taken.postings) == postings_of(
        taken.payment, paid_back=taken.payback is not None
    )
    if reason is not None:
        assert taken.payback is not None and taken.payback.amount == amount
        assert taken.reversal is not None and taken.reversal.reason is reason


def test_the_service_takes_over_its_own_payments_once(env: PaymentsEnv) -> None:
    service = env.service()
    assert not service.has_payments()
    accepted = known(unit=env.unit)
    ordered_back = known(
        reversal=reversed_by(Reason.TILBAGEFOERSELSORDRE, uuid.uuid4()), unit=env.unit
    )
    elsewhere = known(cvr=OTHER_CVR)  # an authority this fagsystem has no agreement with
    assert service.adopt([accepted, ordered_back, elsewhere]) == 2
    assert service.has_payments()
    booked = env.postings()
    assert service.adopt([accepted, ordered_back, elsewhere]) == 0
    assert env.postings() == booked
    assert len(booked) == 1 + 3
    payouts = [body for topic, body in env.outbox() if topic == "Betalingsanmodning"]
    assert [p["Beloeb"] for p in payouts] == ["123.45"]

    view = service.payment(CVR, ordered_back.payment_id)
    assert view.payment.state is PaymentState.TILBAGEFOERT
    assert view.postings == postings_of(view.payment, paid_back=True)
    assert view.active_reversal_id is not None
    reversal = service.reversal(CVR, view.active_reversal_id)
    assert reversal.state is ReversalState.UDFOERT
    assert service.payment(CVR, accepted.payment_id).payment.state is PaymentState.ACCEPTERET
    # Nothing taken over waits to be sent.
    assert service.due(everything=True) == []

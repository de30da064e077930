"""The payments master's use cases on SQLite and PostgreSQL, with a fake debitorsystem behind
the port: paying (R8), reversing, paying again and paying back (R4, R9), booking each once (R11),
reversal orders and both policies, and picking up unanswered work after a restart."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest

from fagsystem.payments_env import (
    CVR,
    OTHER_CVR,
    PART,
    PaymentsEnv,
    env,
    run,
    settled,
    sweep_until,
)
from indbetaling.db import read
from indbetaling.fagsystem import payments_store
from indbetaling.fagsystem.client import PaymentCall, ReversalReason
from indbetaling.fagsystem.domain import (
    FejlKode,
    PaymentState,
    Refused,
    ReversalPolicy,
    ReversalSource,
    ReversalState,
    Split,
    StepState,
)
from indbetaling.fagsystem.sender import PaymentSender
from indbetaling.fagsystem.service import PaymentService, ReversalRequest, Timing, retry_delay

__all__ = ["env"]


def state_of(env: PaymentsEnv, payment_id: uuid.UUID) -> PaymentState:
    with read(env.engine) as conn:
        p = payments_store.find_payment(conn, env.fagsystem_id, payment_id)
    assert p is not None
    return p.state


def pay(
    env: PaymentsEnv, service: PaymentService, claim: uuid.UUID, amount: int, key: str = ""
) -> Any:
    return run(service.pay(CVR, key or str(uuid.uuid4()), env.request(claim, amount)))


def paid(env: PaymentsEnv, service: PaymentService, amount: int = 60_000) -> Any:
    """An accepted payment of `amount` on a claim owing 100,000."""
    view = pay(env, service, env.fake.claim(100_000), amount)
    assert view.payment.state is PaymentState.ACCEPTERET
    return view.payment


def kinds(env: PaymentsEnv) -> list[tuple[str, str]]:
    return [(p["Posteringstype"], p["Reference"]) for p in env.postings()]


def test_a_payment_is_written_before_the_call_and_booked_once_when_accepted(
    env: PaymentsEnv,
) -> None:
    seen: list[tuple[PaymentState, uuid.UUID]] = []
    real_pay = env.fake.pay

    async def looking_pay(cvr: str, transaction: uuid.UUID, call: PaymentCall) -> Any:
        def stored() -> None:
            with read(env.engine) as conn:
                p = payments_store.find_payment(conn, env.fagsystem_id, call.payment_id)
            assert p is not None
            seen.append((p.state, p.transaction_uuid))

        await asyncio.to_thread(stored)
        return await real_pay(cvr, transaction, call)

    env.fake.pay = looking_pay  # type: ignore[method-assign,assignment]
    claim = env.fake.claim(100_000)
    view = pay(env, env.service(), claim, 12_550)
    p = view.payment
    assert seen == [(PaymentState.AFSENDT, p.transaction_uuid)]
    assert p.state is PaymentState.ACCEPTERET
    assert (p.restance, p.coverage_id) == (87_450, env.fake.coverages[p.id].id)
    assert [e.kind.value for e in view.events] == ["AFSENDT", "ACCEPTERET"]
    (posting,) = env.postings()
    assert list(view.postings) == [uuid.UUID(posting["PosteringId"])]
    assert posting["Posteringstype"] == "INDBETALING"
    assert posting["Reference"] == str(p.id)
    assert posting["MyndighedCVR"] == CVR
    lines = {line["Kontonummer"]: line["Beloeb"] for line in posting["Posteringslinjer"]}
    assert lines == {"6010": "125.50", "2901": "-125.50"}


def test_a_lost_answer_is_sent_again_with_the_same_transaction_and_covers_once(
    env: PaymentsEnv,
) -> None:
    """R8: the debitorsystem did the work but its answer was lost."""
    env.fake.lose = 1
    service = env.service()
    claim = env.fake.claim(100_000)
    view = pay(env, service, claim, 40_000)
    assert view.payment.state is PaymentState.AFSENDT  # no business answer yet
    assert view.postings == ()
    run(
        sweep_until(
            PaymentSender(service), lambda: state_of(env, view.payment.id).value != "AFSENDT"
        )
    )
    assert state_of(env, view.payment.id) is PaymentState.ACCEPTERET
    assert env.fake.calls[view.payment.transaction_uuid] == 2  # the same TransactionUUID
    assert len(env.fake.calls) == 1
    assert len(env.fake.live_coverages(claim)) == 1
    assert env.fake.restance[claim] == 60_000
    assert kinds(env) == [("INDBETALING", str(view.payment.id))]


def test_the_same_key_answers_the_same_payment_and_another_body_is_refused(
    env: PaymentsEnv,
) -> None:
    service = env.service()
    claim = env.fake.claim(100_000)
    key = str(uuid.uuid4())
    first = pay(env, service, claim, 10_000, key)
    again = pay(env, service, claim, 10_000, key)
    assert again.payment.id == first.payment.id
    assert again.payment.state is PaymentState.ACCEPTERET
    assert env.fake.restance[claim] == 90_000  # paid once
    with pytest.raises(Refused) as refused:
        pay(env, service, claim, 10_001, key)
    assert refused.value.code is FejlKode.TRANSAKTION_KONFLIKT
    assert env.count("payments") == 1


def test_what_the_fagsystem_judges_alone_is_refused_before_anything_is_stored(
    env: PaymentsEnv,
) -> None:
    service = env.service()
    claim = env.fake.claim(100_000)
    with pytest.raises(Refused) as no_agreement:
        run(service.pay(OTHER_CVR, str(uuid.uuid4()), env.request(claim, 100)))
    assert no_agreement.value.code is FejlKode.IKKE_ADGANG
    with pytest.raises(Refused) as unit:
        run(service.pay(CVR, str(uuid.uuid4()), env.request(claim, 100, org_unit_id=uuid.uuid4())))
    assert unit.value.code is FejlKode.ORGANISATIONSENHED_UKENDT
    assert env.count("payments") == 0
    assert env.fake.calls == {}


def test_an_overpayment_is_refused_by_the_debitorsystem_with_the_current_restance(
    env: PaymentsEnv,
) -> None:
    claim = env.fake.claim(30_000)
    view = pay(env, env.service(), claim, 30_001)
    assert view.payment.state is PaymentState.AFVIST
    assert (view.payment.error_code, view.payment.restance) == (
        "BELOEB_OVERSTIGER_RESTANCE",
        30_000,
    )
    assert view.postings == ()
    assert env.postings() == []


def test_a_case_worker_reverses_pays_part_again_and_pays_back_the_rest(env: PaymentsEnv) -> None:
    service = env.service()
    p = paid(env, service, 60_000)
    env.fake.write_down(p.claim_id, 50_000)  # now 100,000 - 60,000 - 50,000: over-covered
    reversal, new = service.create_reversal(
        CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER, text="Fejl i beløb")
    )
    assert new and reversal.state is ReversalState.AFVENTER
    done = run(service.execute(CVR, reversal.id, Split(50_000, 10_000)))
    assert done.state is ReversalState.UDFOERT
    assert done.restance_after == 50_000
    execution = done.execution
    assert execution is not None and execution.split == Split(50_000, 10_000)
    assert state_of(env, p.id) is PaymentState.TILBAGEFOERT
    assert env.fake.calls[execution.reverse_transaction_uuid] == 1
    repay = service.payment(CVR, execution.repay_payment_id)
    assert repay.payment.state is PaymentState.ACCEPTERET
    assert (repay.payment.claim_id, repay.payment.amount) == (p.claim_id, 50_000)
    assert repay.payment.transaction_uuid == execution.repay_transaction_uuid
    assert env.fake.restance[p.claim_id] == 0
    assert kinds(env) == [  # the pay-back once the new payment has its answer
        ("INDBETALING", str(p.id)),
        ("TILBAGEFOERSEL", str(p.id)),
        ("INDBETALING", str(repay.payment.id)),
        ("TILBAGEBETALING", str(p.id)),
    ]
    payouts = [body for topic, body in env.outbox() if topic == payments_store.PAYOUT_TOPIC]
    assert payouts == [
        {
            "BetalingsanmodningId": str(execution.payback_id),
            "MyndighedCVR": CVR,
            "PartId": PART,
            "Beloeb": "100.00",
            "Reference": str(p.id),
            "Tekst": f"Tilbagebetaling af indbetaling {p.id}",
        }
    ]
    original = service.payment(CVR, p.id)
    assert len(original.postings) == 3
    assert [e.kind.value for e in original.events] == [
        "AFSENDT",
        "ACCEPTERET",
        "TILBAGEFOERSEL_OPRETTET",
        "TILBAGEFOERSEL_AFSENDT",
        "TILBAGEFOERT",
        "GENINDBETALING",
        "TILBAGEBETALING",
    ]

    # R4: the same again changes nothing; another split is refused
    calls = sum(env.fake.calls.values())
    assert run(service.execute(CVR, reversal.id, Split(50_000, 10_000))) == done
    with pytest.raises(Refused) as other:
        run(service.execute(CVR, reversal.id, Split(60_000, 0)))
    assert other.value.code is FejlKode.TILBAGEFOERSEL_KONFLIKT
    assert sum(env.fake.calls.values()) == calls
    assert len(env.postings()) == 4
    again, new = service.create_reversal(
        CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER, text="igen")
    )
    assert (again.id, new) == (reversal.id, False)


def test_a_pay_again_the_debitorsystem_refuses_is_paid_back_instead(env: PaymentsEnv) -> None:
    service = env.service()
    p = paid(env, service, 60_000)
    env.fake.write_down(p.claim_id, 50_000)  # after the reversal the claim owes 50,000
    reversal, _ = service.create_reversal(
        CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER, text="Fejl i beløb")
    )
    done = run(service.execute(CVR, reversal.id, Split(55_000, 5_000)))
    run(settled(service))
    done = service.reversal(CVR, reversal.id)
    assert done.state is ReversalState.UDFOERT and done.repay_refused
    assert done.outcome == Split(0, 60_000)
    execution = done.execution
    assert execution is not None and execution.split == Split(55_000, 5_000)
    refused = service.payment(CVR, execution.repay_payment_id).payment
    assert (refused.state, refused.error_code) == (
        PaymentState.AFVIST,
        "BELOEB_OVERSTIGER_RESTANCE",
    )
    assert kinds(env) == [
        ("INDBETALING", str(p.id)),
        ("TILBAGEFOERSEL", str(p.id)),
        ("TILBAGEBETALING", str(p.id)),
    ]
    payouts = [body for topic, body in env.outbox() if topic == payments_store.PAYOUT_TOPIC]
    assert [(x["Beloeb"], x["Reference"]) for x in payouts] == [("600.00", str(p.id))]
    kinds_of_events = [e.kind.value for e in service.payment(CVR, p.id).events]
    assert kinds_of_events[-2:] == ["GENINDBETALING_AFVIST", "TILBAGEBETALING"]
    # The same execution again still answers the reversal as it is (R4).
    assert run(service.execute(CVR, reversal.id, Split(55_000, 5_000))) == done


def test_a_split_that_does_not_add_up_is_refused_and_changes_nothing(env: PaymentsEnv) -> None:
    service = env.service()
    p = paid(env, service, 60_000)
    reversal, _ = service.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER))
    for split in (Split(30_000, 29_999), Split(60_000, 1)):
        with pytest.raises(Refused) as refused:
            run(service.execute(CVR, reversal.id, split))
        assert refused.value.code is FejlKode.BELOEB_SUM_UGYLDIG
    assert service.reversal(CVR, reversal.id) == reversal
    assert state_of(env, p.id) is PaymentState.ACCEPTERET
    assert len(env.fake.calls) == 1  # the payment only


def test_a_payment_has_one_reversal_at_a_time(env: PaymentsEnv) -> None:
    service = env.service()
    p = paid(env, service)
    first, _ = service.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER))
    with pytest.raises(Refused) as refused:
        service.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.MANUEL_ADVIS))
    assert refused.value.code is FejlKode.TILBAGEFOERSEL_FINDES
    with pytest.raises(Refused) as order:
        service.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.ORDRE))
    assert order.value.code is FejlKode.KILDE_UGYLDIG
    with pytest.raises(Refused) as unknown:
        service.create_reversal(CVR, ReversalRequest(uuid.uuid4(), ReversalSource.SAGSBEHANDLER))
    assert unknown.value.code is FejlKode.INDBETALING_UKENDT
    assert [r.id for r in service.reversals(CVR).items] == [first.id]


def test_a_reversal_the_debitorsystem_refuses_leaves_the_payment_and_frees_it(
    env: PaymentsEnv,
) -> None:
    service = env.service()
    p = paid(env, service)
    order_id = uuid.uuid4()  # an order the debitorsystem never made
    reversal, _ = service.create_reversal(
        CVR, ReversalRequest(p.id, ReversalSource.MANUEL_ADVIS, order_id=order_id)
    )
    done = run(service.execute(CVR, reversal.id, Split(0, p.amount)))
    assert done.state is ReversalState.AFVIST
    assert done.error_code == "TILBAGEFOERSELSORDRE_UKENDT"
    assert state_of(env, p.id) is PaymentState.ACCEPTERET
    assert kinds(env) == [("INDBETALING", str(p.id))]
    assert env.count("paybacks") == 0
    with pytest.raises(Refused) as refused:
        run(service.execute(CVR, reversal.id, Split(0, p.amount)))
    assert refused.value.code is FejlKode.TILBAGEFOERSEL_AFVIST
    retry, new = service.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER))
    assert new and retry.id != reversal.id


def test_an_order_waits_for_the_case_worker_under_the_default_policy(env: PaymentsEnv) -> None:
    service = env.service()
    p = paid(env, service)
    order = env.order(p.id, overcoverage=10_000)
    assert env.receive(service, order)
    (reversal,) = service.reversals(CVR, state=ReversalState.AFVENTER).items
    assert (reversal.source, reversal.order_id) == (ReversalSource.ORDRE, order.order_id)
    assert (reversal.amount, reversal.overcoverage, reversal.step) == (p.amount, 10_000, None)
    assert service.due(everything=True) == []
    done = run(service.execute(CVR, reversal.id, Split(50_000, 10_000)))
    assert done.state is ReversalState.UDFOERT
    assert done.execution is not None
    assert env.fake.calls[done.execution.reverse_transaction_uuid] == 1


def test_the_automatic_policy_executes_an_order_on_its_own(env: PaymentsEnv) -> None:
    service = env.service(ReversalPolicy.AUTOMATISK)
    p = paid(env, service, 60_000)
    env.fake.write_down(p.claim_id, 50_000)  # 10,000 over-covered: 50,000 owed after reversal
    woken: list[bool] = []
    service.wake = lambda: woken.append(True)
    assert env.receive(service, env.order(p.id, overcoverage=10_000))
    assert woken == [True]
    sender = PaymentSender(service)
    (reversal,) = service.reversals(CVR).items
    run(sweep_until(sender, lambda: service.reversal(CVR, reversal.id).state.value != "AFVENTER"))
    done = service.reversal(CVR, reversal.id)
    assert done.state is ReversalState.UDFOERT
    assert done.execution is not None and done.execution.automatic
    assert done.execution.split == Split(50_000, 10_000)  # min(payment, Restance after)
    repay = service.payment(CVR, done.execution.repay_payment_id).payment
    assert (repay.state, repay.amount) == (PaymentState.ACCEPTERET, 50_000)
    assert env.fake.restance[p.claim_id] == 0
    assert [k for k, _ in kinds(env)] == [
        "INDBETALING",
        "TILBAGEFOERSEL",
        "INDBETALING",
        "TILBAGEBETALING",
    ]


def test_the_automatic_policy_pays_everything_back_when_nothing_is_owed(env: PaymentsEnv) -> None:
    service = env.service(ReversalPolicy.AUTOMATISK)
    p = paid(env, service, 60_000)
    env.fake.write_down(p.claim_id, 100_000)  # annulled: nothing owed after the reversal
    assert env.receive(service, env.order(p.id))
    (reversal,) = service.reversals(CVR).items
    run(
        sweep_until(
            PaymentSender(service),
            lambda: service.reversal(CVR, reversal.id).state.value != "AFVENTER",
        )
    )
    done = service.reversal(CVR, reversal.id)
    assert done.execution is not None and done.execution.split == Split(0, 60_000)
    assert [k for k, _ in kinds(env)] == ["INDBETALING", "TILBAGEFOERSEL", "TILBAGEBETALING"]
    assert env.count("payments") == 1


def test_an_order_for_an_unknown_or_another_authoritys_payment_is_not_taken(
    env: PaymentsEnv,
) -> None:
    service = env.service(ReversalPolicy.AUTOMATISK)
    p = paid(env, service)
    unknown = env.order(p.id)
    unknown = type(unknown)(**{**unknown.__dict__, "payment_id": uuid.uuid4()})
    assert not env.receive(service, unknown)
    elsewhere = env.order(p.id)
    elsewhere = type(elsewhere)(**{**elsewhere.__dict__, "authority_cvr": OTHER_CVR})
    assert not env.receive(service, elsewhere)
    other_fagsystem = env.service()
    other_fagsystem.config = type(other_fagsystem.config)(uuid.uuid4(), {CVR: frozenset()})
    assert not env.receive(other_fagsystem, env.order(p.id))
    assert env.count("reversals") == 0


def test_an_order_for_a_payment_with_a_pending_reversal_joins_it(env: PaymentsEnv) -> None:
    service = env.service()
    p = paid(env, service)
    mine, _ = service.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER))
    order = env.order(p.id, overcoverage=5_000)
    assert env.receive(service, order)
    (joined,) = service.reversals(CVR).items
    assert (joined.id, joined.order_id, joined.overcoverage) == (mine.id, order.order_id, 5_000)
    done = run(service.execute(CVR, mine.id, Split(0, p.amount)))
    assert done.state is ReversalState.UDFOERT  # sent with the order: TILBAGEFOERSELSORDRE


def test_after_a_restart_unanswered_payments_and_reversals_are_sent_again_at_once(
    env: PaymentsEnv,
) -> None:
    """A new service and sender on the same database (a restarted process) pick up what is
    still AFSENDT or waiting, at its first look, whatever its backoff said."""
    slow = env.service()
    slow.timing = Timing(answer_wait_seconds=5, backoff_base_seconds=600, backoff_cap_seconds=600)
    p = paid(env, slow)
    env.fake.lose = 2
    waiting = pay(env, slow, env.fake.claim(50_000), 20_000)
    reversal, _ = slow.create_reversal(CVR, ReversalRequest(p.id, ReversalSource.SAGSBEHANDLER))
    pending = run(slow.execute(CVR, reversal.id, Split(20_000, 40_000)))
    assert (waiting.payment.state, pending.state) == (PaymentState.AFSENDT, ReversalState.AFVENTER)
    assert pending.step is StepState.VENTER
    assert len(slow.due()) == 0  # backing off for ten minutes

    restarted = env.service()

    async def first_look() -> None:
        await PaymentSender(restarted).sweep(everything=True)
        await settled(restarted)

    run(first_look())
    assert state_of(env, waiting.payment.id) is PaymentState.ACCEPTERET
    assert env.fake.calls[waiting.payment.transaction_uuid] == 2
    done = restarted.reversal(CVR, reversal.id)
    assert done.state is ReversalState.UDFOERT
    assert done.execution is not None
    assert env.fake.calls[done.execution.reverse_transaction_uuid] == 2
    assert state_of(env, done.execution.repay_payment_id) is PaymentState.ACCEPTERET
    assert [k for k, _ in kinds(env)].count("TILBAGEFOERSEL") == 1
    assert len(env.postings()) == 5  # 2 payments, reversal, pay-back, pay-again


def test_two_processes_sending_the_same_payment_book_it_once(env: PaymentsEnv) -> None:
    env.fake.lose = 1
    first = env.service()
    view = pay(env, first, env.fake.claim(100_000), 10_000)
    assert view.payment.state is PaymentState.AFSENDT
    env.fake.delay = 0.05

    async def both() -> None:
        await asyncio.gather(
            first.send_payment(view.payment.id), env.service().send_payment(view.payment.id)
        )

    run(both())
    assert state_of(env, view.payment.id) is PaymentState.ACCEPTERET
    assert len(env.fake.live_coverages()) == 1
    assert kinds(env) == [("INDBETALING", str(view.payment.id))]
    assert env.count("payment_events") == 2


def test_payments_are_listed_newest_first_a_page_at_a_time(env: PaymentsEnv) -> None:
    service = env.service()
    claim = env.fake.claim(10**9)
    ids = [
        service.record_payment(CVR, str(uuid.uuid4()), env.request(claim, 100 + n))
        for n in range(5)
    ]
    other = env.fake.claim(10**9)
    service.record_payment(CVR, str(uuid.uuid4()), env.request(other, 1))
    seen: list[uuid.UUID] = []
    key = None
    while True:
        page = service.payments(CVR, claim_id=claim, key=key, size=2)
        seen += [v.payment.id for v in page.items]
        key = page.next_key
        if key is None:
            break
    assert seen == list(reversed(ids))
    first = service.payments(CVR, claim_id=claim, size=2)
    assert first.next_key is not None
    with pytest.raises(Refused) as refused:
        service.payments(CVR, claim_id=other, key=first.next_key, size=2)
    assert refused.value.code is FejlKode.FORTSAETTELSESNOEGLE_UGYLDIG
    with pytest.raises(Refused):
        service.payments(CVR, key="not-a-key")
    assert len(service.payments(CVR, part_id=PART).items) == 6
    assert service.payments(CVR, part_id="urn:oio:cpr-nr:0101909999").items == []
    assert len(service.payments(CVR, state=PaymentState.AFSENDT).items) == 6


def test_the_retry_delay_doubles_up_to_its_cap() -> None:
    timing = Timing(backoff_base_seconds=1, backoff_cap_seconds=60)
    rng = random.Random(1)
    for attempts, ceiling in [(0, 1), (1, 2), (3, 8), (6, 60), (100, 60)]:
        delay = retry_delay(attempts, timing, rng).total_seconds()
        assert ceiling / 2 <= delay <= ceiling


def test_the_reversal_reason_on_the_wire(env: PaymentsEnv) -> None:
    seen: list[tuple[ReversalReason, uuid.UUID | None]] = []
    real = env.fake.reverse

    async def looking(cvr: str, transaction: uuid.UUID, call: Any) -> Any:
        seen.append((call.reason, call.order_id))
        return await real(cvr, transaction, call)

    env.fake.reverse = looking  # type: ignore[method-assign,assignment]
    service = env.service()
    by_hand = paid(env, service)
    r, _ = service.create_reversal(CVR, ReversalRequest(by_hand.id, ReversalSource.SAGSBEHANDLER))
    run(service.execute(CVR, r.id, Split(0, by_hand.amount)))
    ordered = paid(env, service)
    order = env.order(ordered.id)
    env.receive(service, order)
    (waiting,) = service.reversals(CVR, state=ReversalState.AFVENTER).items
    run(service.execute(CVR, waiting.id, Split(0, ordered.amount)))
    assert seen == [
        (ReversalReason.FEJLREGISTRERING, None),
        (ReversalReason.TILBAGEFOERSELSORDRE, order.order_id),
    ]


def test_a_sender_runs_at_most_a_batch_of_sends_at_a_time(env: PaymentsEnv) -> None:
    recorder = env.service()
    claim = env.fake.claim(10**9)
    for _ in range(5):
        recorder.record_payment(CVR, str(uuid.uuid4()), env.request(claim, 100))
    env.fake.delay = 0.2
    service = env.service(
        timing=Timing(batch_size=2, backoff_base_seconds=0.01, backoff_cap_seconds=0.02)
    )
    sender = PaymentSender(service)

    async def sweeps() -> list[int]:
        running = [await sender.sweep(everything=True), await sender.sweep(everything=True)]
        await sweep_until(sender, lambda: env.fake.calls.total() == 5)
        return running

    assert run(sweeps()) == [2, 2]
    assert len(env.fake.live_coverages()) == 5

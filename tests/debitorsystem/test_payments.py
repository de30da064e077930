"""ForetagIndbetaling and ForetagIndbetalingNedregulering through the service, on both engines."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from prometheus_client import REGISTRY

from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import PaymentRequest, ReversalRequest

from .conftest import CVR, OTHER_CVR, PART, STRANGER, World, code

RESTANCE_EXCEEDED = "BELOEB_OVERSTIGER_RESTANCE"


def reverse(
    world: World,
    payment_id: uuid.UUID,
    *,
    fagsystem: uuid.UUID | None = None,
    reason: ReversalReason = ReversalReason.FEJLREGISTRERING,
    order_id: uuid.UUID | None = None,
    key: str | None = None,
) -> dict[str, object]:
    raw = world.service.reverse(
        fagsystem or world.fagsystem,
        CVR,
        key or str(uuid.uuid4()),
        ReversalRequest(payment_id, reason, order_id),
    )
    result: dict[str, object] = json.loads(raw)
    return result


def test_payment_lowers_restance_and_answers_it(world: World) -> None:
    claim = world.claim(100_000)
    answer = world.pay(claim, "250.50")
    assert code(answer) == "ACCEPTERET"
    assert answer["Restance"] == "749.50"
    assert world.service.claim(CVR, claim).restance == 74_950


def test_payment_above_restance_is_refused_with_current_restance(world: World) -> None:
    claim = world.claim(100_000)
    world.pay(claim, "900.00")
    answer = world.pay(claim, "100.01")
    assert code(answer) == "BELOEB_OVERSTIGER_RESTANCE"
    assert answer["Restance"] == "100.00"
    assert world.service.claim(CVR, claim).restance == 10_000


def test_exact_restance_closes_the_claim(world: World) -> None:
    claim = world.claim(100_000)
    assert code(world.pay(claim, "1000")) == "ACCEPTERET"
    assert world.service.claim(CVR, claim).status.value == "AFSLUTTET"
    assert code(world.pay(claim, "0.01")) == "FORDRING_IKKE_BETALBAR"


def test_invalid_amounts_are_refused(world: World) -> None:
    claim = world.claim()
    for bad in ["0", "-0.01", "0.001", "", "1e3", "NaN", "12345678901234.00"]:
        assert code(world.pay(claim, bad)) == "BELOEB_UGYLDIGT", bad
    assert world.service.claim(CVR, claim).restance == 100_000


def test_payer_must_be_liable(world: World) -> None:
    claim = world.claim()
    assert code(world.pay(claim, "10", payer=STRANGER)) == "PART_IKKE_HAEFTER"


def test_org_unit_must_be_in_assortment(world: World) -> None:
    claim = world.claim()
    assert code(world.pay(claim, "10", org_unit=uuid.uuid4())) == "ORGANISATIONSENHED_UKENDT"
    # the other fagsystem's unit is not this fagsystem's
    assert (
        code(world.pay(claim, "10", org_unit=world.other_org_unit)) == "ORGANISATIONSENHED_UKENDT"
    )


def test_unknown_and_foreign_claims_answer_alike(world: World) -> None:
    foreign = world.claim(cvr=OTHER_CVR)
    unknown = world.pay(uuid.uuid4(), "10")
    other = world.pay(foreign, "10", fagsystem=world.other_fagsystem, org_unit=world.other_org_unit)
    assert code(unknown) == code(other) == "FORDRING_UKENDT"
    assert unknown["Forretningskvittering"] == other["Forretningskvittering"]


def test_payment_period_limits_payability(world: World) -> None:
    claim = world.claim(payment_period_from=date(2026, 12, 1))
    assert code(world.pay(claim, "10")) == "FORDRING_IKKE_BETALBAR"


def test_replay_returns_the_same_bytes_even_after_state_moved(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    key = str(uuid.uuid4())
    request = PaymentRequest(
        payment_id, claim, "100", date(2026, 11, 26), PART, world.org_unit, None
    )
    first = world.service.pay(world.fagsystem, CVR, key, request)
    world.pay(claim, "50")
    again = world.service.pay(world.fagsystem, CVR, key, request)
    assert again == first
    assert json.loads(first)["Restance"] == "900.00"
    assert world.service.claim(CVR, claim).restance == 85_000


def test_same_key_other_request_is_a_transaction_conflict(world: World) -> None:
    claim = world.claim(100_000)
    key = str(uuid.uuid4())
    assert code(world.pay(claim, "100", key=key)) == "ACCEPTERET"
    assert code(world.pay(claim, "101", key=key)) == "TRANSAKTION_KONFLIKT"
    assert world.service.claim(CVR, claim).restance == 90_000


def test_same_payment_id_new_key(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    first = world.pay(claim, "100", payment_id=payment_id)
    again = world.pay(claim, "100", payment_id=payment_id)
    assert again == first
    assert code(world.pay(claim, "99", payment_id=payment_id)) == "INDBETALINGID_KONFLIKT"
    assert world.service.claim(CVR, claim).restance == 90_000


def test_rejected_payment_id_may_be_used_again(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    assert code(world.pay(claim, "2000", payment_id=payment_id)) == "BELOEB_OVERSTIGER_RESTANCE"
    assert code(world.pay(claim, "200", payment_id=payment_id)) == "ACCEPTERET"


def test_reversal_in_full_and_repeat(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    world.pay(claim, "300", payment_id=payment_id)
    first = reverse(world, payment_id)
    assert code(first) == "ACCEPTERET"
    assert first["Restance"] == "1000.00"
    assert code(reverse(world, payment_id)) == "ACCEPTERET"
    assert world.service.claim(CVR, claim).restance == 100_000


def test_only_owner_reverses(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    world.pay(claim, "300", payment_id=payment_id)
    assert code(reverse(world, payment_id, fagsystem=world.other_fagsystem)) == "IKKE_EJER"
    assert code(reverse(world, uuid.uuid4())) == "INDBETALING_UKENDT"
    assert world.service.claim(CVR, claim).restance == 70_000


def test_reversal_by_order_needs_a_real_order(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    world.pay(claim, "300", payment_id=payment_id)
    answer = reverse(
        world, payment_id, reason=ReversalReason.TILBAGEFOERSELSORDRE, order_id=uuid.uuid4()
    )
    assert code(answer) == "TILBAGEFOERSELSORDRE_UKENDT"
    change = world.service.write_down(CVR, claim, 90_000, "Fejl i takst")
    (order,) = change.orders
    assert order.payment_id == payment_id
    answer = reverse(
        world, payment_id, reason=ReversalReason.TILBAGEFOERSELSORDRE, order_id=order.id
    )
    assert code(answer) == "ACCEPTERET"
    (done,) = world.service.reversal_orders(CVR)
    assert done.state.value == "UDFOERT"


def test_old_answers_are_forgotten_but_the_payment_still_pays_once(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    key = str(uuid.uuid4())
    first = world.pay(claim, "100", payment_id=payment_id, key=key)
    world.clock[0] += timedelta(days=29)
    recent_key = str(uuid.uuid4())
    world.pay(claim, "5", key=recent_key)
    world.clock[0] += timedelta(days=2)
    assert world.service.forget_old_answers(timedelta(days=30)) == 1
    # the recent answer is kept: same key, other request is still a conflict
    assert code(world.pay(claim, "6", key=recent_key)) == "TRANSAKTION_KONFLIKT"
    # the forgotten key is free again, and the IndbetalingId still answers the original
    again = world.pay(claim, "100", payment_id=payment_id, key=key)
    assert again == first
    assert world.service.claim(CVR, claim).restance == 100_000 - 10_000 - 500
    with pytest.raises(ValueError, match="30"):
        world.service.forget_old_answers(timedelta(days=29))


def paid_count(outcome: str, fejlkode: str) -> float:
    labels = {"outcome": outcome, "fejlkode": fejlkode}
    return REGISTRY.get_sample_value("indbetaling_payments_total", labels) or 0.0


def test_metrics_count_every_answered_payment_by_outcome(world: World) -> None:
    """`/metrics` counts each ForetagIndbetaling answered by its ForretningsValideringsKode
    (CONTRACT §8); a replayed answer is an answer too."""
    claim = world.claim(principal=1_000)
    accepted, refused = paid_count("ACCEPTERET", ""), paid_count("AFVIST", RESTANCE_EXCEEDED)
    payment, transaction = uuid.uuid4(), str(uuid.uuid4())
    assert world.pay(claim, "4.00", payment_id=payment, key=transaction) == world.pay(
        claim, "4.00", payment_id=payment, key=transaction
    )
    assert code(world.pay(claim, "900.00")) == RESTANCE_EXCEEDED
    assert paid_count("ACCEPTERET", "") == accepted + 2
    assert paid_count("AFVIST", RESTANCE_EXCEEDED) == refused + 1

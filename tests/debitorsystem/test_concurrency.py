"""Races on a real database: concurrent payments, duplicate retries, reversal vs write-down."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TypeVar

from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import PaymentRequest, ReversalRequest

from .conftest import CVR, PART, World, code
from .test_ledger_properties import check_invariants

T = TypeVar("T")


def all_at_once(n: int, task: Callable[[int], T]) -> list[T]:
    """Run task(i) for i < n on n threads released together."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait()
        return task(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_sixteen_concurrent_payments_never_exceed_restance(world: World) -> None:
    claim = world.claim(100_000)  # 1000.00 DKK; 16 × 100.00 asked, 10 fit
    answers = all_at_once(16, lambda _i: world.pay(claim, "100.00"))
    accepted = [a for a in answers if code(a) == "ACCEPTERET"]
    assert len(accepted) == 10
    assert all(
        code(a) in {"BELOEB_OVERSTIGER_RESTANCE", "FORDRING_IKKE_BETALBAR"}
        for a in answers
        if a not in accepted
    )
    ledger = world.service.claim(CVR, claim)
    assert ledger.restance == 0
    assert len(ledger.coverages) == 10
    assert sorted(a["Restance"] for a in accepted) == [f"{n * 100}.00" for n in range(10)]


def test_ten_duplicates_of_one_transaction_make_one_payment(world: World) -> None:
    claim = world.claim(100_000)
    key = str(uuid.uuid4())
    request = PaymentRequest(
        uuid.uuid4(), claim, "123.45", date(2026, 11, 26), PART, world.org_unit, None
    )
    answers = all_at_once(10, lambda _i: world.service.pay(world.fagsystem, CVR, key, request))
    assert len(set(answers)) == 1
    assert code(json.loads(answers[0])) == "ACCEPTERET"
    ledger = world.service.claim(CVR, claim)
    assert len(ledger.coverages) == 1
    assert ledger.restance == 100_000 - 12_345


def test_same_payment_id_under_many_keys_pays_once(world: World) -> None:
    claim = world.claim(100_000)
    payment_id = uuid.uuid4()
    answers = all_at_once(8, lambda _i: world.pay(claim, "10.00", payment_id=payment_id))
    assert {code(a) for a in answers} == {"ACCEPTERET"}
    assert len({a["DaekningId"] for a in answers}) == 1
    assert world.service.claim(CVR, claim).restance == 99_000


def test_reversal_raced_against_write_down_leaves_a_consistent_ledger(world: World) -> None:
    for _round in range(5):
        claim = world.claim(100_000)
        older, newer = uuid.uuid4(), uuid.uuid4()
        world.pay(claim, "600.00", payment_id=older)
        world.pay(claim, "300.00", payment_id=newer)

        def act(i: int, claim: uuid.UUID = claim, older: uuid.UUID = older) -> object:
            if i == 0:
                return world.service.reverse(
                    world.fagsystem,
                    CVR,
                    str(uuid.uuid4()),
                    ReversalRequest(older, ReversalReason.FEJLREGISTRERING),
                )
            return world.service.write_down(CVR, claim, 50_000, "Rettet takst")

        all_at_once(2, act)
        ledger = world.service.claim(CVR, claim)
        check_invariants(ledger)
        assert ledger.owed == 50_000
        assert ledger.covered == 30_000
        assert ledger.restance == 20_000
        # whichever came first, no open order is left for a payment that is gone
        assert all(not o.is_open for o in ledger.orders if o.payment_id == older)

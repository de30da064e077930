"""A claim whose payment period opens or ends has its message sent then, by the debitorsystem's
background loop, once (CONTRACT §6), with the service's own clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from indbetaling import db
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.payability import announce_date_changes, run_payability_loop

from .conftest import World
from .test_messages import messages

OPENS, ENDS = date(2026, 12, 5), date(2026, 12, 20)


def at(world: World, day: date, hour: int = 0) -> None:
    """Set the service's clock to `hour` o'clock UTC of `day`."""
    world.clock[0] = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def told(world: World) -> list[tuple[Any, Any]]:
    return [
        (m["ObjektHandling"], m["FordringTilIndbetaling"]["FordringId"])  # type: ignore[index]
        for m in messages(world)
    ]


def test_a_period_that_opens_and_ends_is_told_on_those_days_once(world: World) -> None:
    claim = world.claim(10_000, payment_period_from=OPENS, payment_period_to=ENDS)
    always = world.claim(10_000)  # no period: the date alone never changes it
    assert told(world) == [("Oprettet", str(claim)), ("Oprettet", str(always))]
    service = world.service
    assert announce_date_changes(service) == 0
    at(world, date(2026, 12, 4), 22)  # 23:00 in Copenhagen: not yet the 5th
    assert announce_date_changes(service) == 0
    at(world, date(2026, 12, 4), 23)  # midnight in Copenhagen: the period opens
    assert announce_date_changes(service) == 1
    assert told(world)[2:] == [("Aendret", str(claim))]
    assert announce_date_changes(service) == 0  # a second run writes nothing
    assert world.pay(claim, "10.00")["Forretningskvittering"]["ForretningsValideringsKode"] == (
        "ACCEPTERET"
    )
    at(world, ENDS, 12)
    assert announce_date_changes(service) == 0
    at(world, date(2026, 12, 21), 12)  # the day after the period: no longer payable
    assert announce_date_changes(service) == 1
    assert announce_date_changes(service) == 0
    assert [h for h, _ in told(world)] == [
        "Oprettet",
        "Oprettet",
        "Aendret",
        "Aendret",
        "Afsluttet",
    ]
    last = messages(world)[-1]["FordringTilIndbetaling"]
    assert last["FordringId"] == str(claim)  # type: ignore[index]
    assert last["Restance"] == "90.00"  # type: ignore[index]


def test_a_claim_that_stopped_being_payable_by_a_payment_is_not_told_again(
    world: World,
) -> None:
    claim = world.claim(10_000, payment_period_to=ENDS)
    world.pay(claim, "100.00")  # Afsluttet, by the payment
    before = told(world)
    at(world, date(2026, 12, 21), 12)
    assert announce_date_changes(world.service) == 0
    assert told(world) == before


def test_many_claims_are_told_across_batches(world: World) -> None:
    claims = {world.claim(1_000, payment_period_from=OPENS) for _ in range(7)}
    at(world, OPENS, 12)
    assert announce_date_changes(world.service, batch=3) == 7
    assert {c for h, c in told(world) if h == "Aendret"} == {str(c) for c in claims}
    assert announce_date_changes(world.service, batch=3) == 0


def test_a_claim_of_which_nothing_was_noted_is_noted_without_a_message(world: World) -> None:
    claim = world.claim(10_000, payment_period_from=OPENS)
    with db.write(world.service.engine) as conn:  # as if made before the debitorsystem noted it
        conn.execute(
            store.announced_payability.delete().where(
                store.announced_payability.c.claim_id == claim
            )
        )
    at(world, OPENS, 12)
    before = told(world)
    assert announce_date_changes(world.service) == 0
    assert told(world) == before
    with db.read(world.service.engine) as conn:
        assert store.announced_payabilities(conn, [claim]) == {claim: True}


def test_the_background_loop_tells_it_without_any_other_change(world: World) -> None:
    claim = world.claim(10_000, payment_period_from=OPENS)
    at(world, OPENS, 12)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_payability_loop, args=(stop, world.service), kwargs={"interval_seconds": 0.05}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while ("Aendret", str(claim)) not in told(world):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)  # several more rounds
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert told(world).count(("Aendret", str(claim))) == 1

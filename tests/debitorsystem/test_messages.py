"""Every change to a claim writes its FordringTilIndbetaling message in the same transaction."""

from __future__ import annotations

import json

from indbetaling import db, outbox
from indbetaling.debitorsystem import store

from .conftest import CVR, World, code


def messages(world: World) -> list[dict[str, object]]:
    with db.read(world.service.engine) as conn:
        return [json.loads(m.payload) for m in outbox.pending(conn, store.outbox, limit=1000)]


def test_claim_life_is_told_in_order(world: World) -> None:
    claim = world.claim(10_000)
    world.pay(claim, "40.00")
    world.pay(claim, "60.00")
    handlings = [
        (m["ObjektHandling"], m["FordringTilIndbetaling"]["Restance"])  # type: ignore[index]
        for m in messages(world)
    ]
    assert handlings == [("Oprettet", "100.00"), ("Aendret", "60.00"), ("Afsluttet", "0.00")]
    assert len({m["BeskedId"] for m in messages(world)}) == 3


def test_refused_changes_write_no_message(world: World) -> None:
    claim = world.claim(10_000)
    before = len(messages(world))
    assert code(world.pay(claim, "100.01")) == "BELOEB_OVERSTIGER_RESTANCE"
    assert code(world.pay(claim, "0")) == "BELOEB_UGYLDIGT"
    assert len(messages(world)) == before


def test_annulment_tells_that_the_claim_is_no_longer_payable(world: World) -> None:
    claim = world.claim(10_000)
    world.service.annul(CVR, claim, "Fejloprettet")
    last = messages(world)[-1]
    assert last["ObjektHandling"] == "Afsluttet"
    assert last["FordringTilIndbetaling"]["Status"] == "ANNULLERET"  # type: ignore[index]

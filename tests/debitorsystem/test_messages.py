"""Every change to a claim writes its FordringTilIndbetaling message in the same transaction."""

from __future__ import annotations

import json
from datetime import date

from indbetaling import besked, db, outbox
from indbetaling.besked_afsend import envelope_from_outbox
from indbetaling.debitorsystem import store
from indbetaling.idempotency import canonical_json

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


def _envelope_of(message: dict[str, object]) -> besked.Envelope:
    """The message as the relay sends it, read back as the Beskedfordeler reads it (KOMBIT's
    envelope schema and the FordringTilIndbetaling rules, a Restance ≥ 0 among them)."""
    outgoing = envelope_from_outbox(
        outbox.OutboxMessage(seq=1, message_id="m", topic="t", payload=canonical_json(message))
    )
    return besked.parse_envelope(outgoing.xml)


def test_a_write_down_below_what_was_paid_is_told_as_afsluttet_with_restance_0(
    world: World,
) -> None:
    claim = world.claim(100_000)
    assert code(world.pay(claim, "600.00")) == "ACCEPTERET"
    world.service.write_down(CVR, claim, 50_000, "Takst rettet")  # over-covered by 100.00
    last = messages(world)[-1]
    assert last["ObjektHandling"] == "Afsluttet"
    assert last["FordringTilIndbetaling"]["Restance"] == "0.00"  # type: ignore[index]
    assert last["FordringTilIndbetaling"]["Status"] == "AFSLUTTET"  # type: ignore[index]
    envelope = _envelope_of(last)
    assert envelope.claim is not None
    assert envelope.claim.restance == 0
    assert envelope.filter_data.actions == {besked.ObjectAction.AFSLUTTET.value}


def test_an_over_covered_claim_that_was_not_payable_is_told_as_afsluttet(world: World) -> None:
    claim = world.claim(100_000, payment_period_from=date(2027, 1, 1))  # not payable yet
    world.service.register_other_coverage(CVR, claim, 60_000)
    world.service.write_down(CVR, claim, 50_000, None)
    last = messages(world)[-1]
    assert last["ObjektHandling"] == "Afsluttet"
    assert last["FordringTilIndbetaling"]["Restance"] == "0.00"  # type: ignore[index]
    _envelope_of(last)
    # a further write-down changes nothing on the wire, so nothing more is told
    count = len(messages(world))
    world.service.write_down(CVR, claim, 1_000, None)
    assert len(messages(world)) == count

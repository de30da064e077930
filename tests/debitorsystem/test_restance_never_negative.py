"""A Restance on the wire is never negative (CONTRACT §6): over random histories of payments,
reversals, write-downs, annulments and other coverages, every answer, the staff's claim view and
every FordringTilIndbetaling message show Restance ≥ 0, and every message is one the
Beskedfordeler accepts (KOMBIT's envelope); an over-covered claim shows 0.00 and is told as
`Afsluttet`. Run through the service on SQLite (the fast tier); the rules are the same SQL-free
domain on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indbetaling import besked, db, outbox
from indbetaling.besked_afsend import envelope_from_outbox
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.api import ledger_json
from indbetaling.debitorsystem.domain import Rejected, ReversalReason
from indbetaling.debitorsystem.service import ReversalRequest
from indbetaling.money import format_ore

from .conftest import CVR, World, WorldFactory

amounts = st.integers(min_value=1, max_value=1_500)  # whole kroner
steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), amounts),
        st.tuples(st.just("other"), amounts),
        st.tuples(st.just("write_down"), amounts),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=9)),
        st.tuples(st.just("annul"), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)


def _restance_ok(answer: dict[str, Any]) -> None:
    if "Restance" in answer:
        assert not answer["Restance"].startswith("-"), answer


def _messages_since(world: World, seen: int) -> list[dict[str, Any]]:
    with db.read(world.service.engine) as conn:
        pending = outbox.pending(conn, store.outbox, limit=10_000)
    return [json.loads(m.payload) for m in pending[seen:]]


def _step(world: World, claim: uuid.UUID, paid: list[uuid.UUID], op: str, n: int) -> None:
    service = world.service
    try:
        if op == "pay":
            payment_id = uuid.uuid4()
            answer = world.pay(claim, f"{n}.00", payment_id=payment_id)
            _restance_ok(answer)
            if "DaekningId" in answer:
                paid.append(payment_id)
        elif op == "other":
            service.register_other_coverage(CVR, claim, n * 100)
        elif op == "write_down":
            service.write_down(CVR, claim, n * 100, "Nedsat")
        elif op == "annul":
            service.annul(CVR, claim, "Fejloprettet")
        elif paid:
            request = ReversalRequest(paid[n % len(paid)], ReversalReason.ANDET)
            raw = service.reverse(world.fagsystem, CVR, str(uuid.uuid4()), request)
            _restance_ok(json.loads(raw))
    except Rejected:
        pass


def test_no_answer_view_or_message_shows_a_negative_restance(make_world: WorldFactory) -> None:
    world = make_world("sqlite")  # one database; every example makes a claim of its own

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(history=steps)
    def run(history: list[tuple[str, int]]) -> None:
        claim = world.claim(100_000)
        paid: list[uuid.UUID] = []
        seen = len(_messages_since(world, 0))
        for op, n in history:
            _step(world, claim, paid, op, n)
            ledger = world.service.claim(CVR, claim)
            shown = ledger_json(ledger)["Fordring"]["Restance"]
            assert shown == format_ore(max(0, ledger.restance))
            new = _messages_since(world, seen)
            assert len(new) <= 1  # one change, at most one message
            seen += len(new)
            for message in new:
                outgoing = envelope_from_outbox(
                    outbox.OutboxMessage(seen, "m", "t", json.dumps(message).encode())
                )
                envelope = besked.parse_envelope(outgoing.xml)  # refuses a negative Restance
                assert envelope.claim is not None
                assert envelope.claim.restance == max(0, ledger.restance)
                if ledger.restance < 0:
                    assert message["ObjektHandling"] == "Afsluttet"

    run()

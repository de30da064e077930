"""Collections staff close reversal orders that wait for manual handling, page through orders,
and resolve over-coverage that came from other coverages (ANDEN), which no fagsystem reverses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from indbetaling import db
from indbetaling.debitorsystem import domain, manual, store
from indbetaling.debitorsystem.domain import (
    Claim,
    ClaimLedger,
    CoverageSource,
    FejlKode,
    OrderState,
    Rejected,
)
from indbetaling.fordring import LiableParty

from .conftest import CVR, OTHER_CVR, PART, World
from .test_staff_api import api, assert_problem

__all__ = ["api"]

Api = tuple[TestClient, World, dict[str, str]]
BASE = f"/api/v1/myndigheder/{CVR}"


def over_covered_order(world: World) -> domain.ReversalOrder:
    """A claim of 1000.00 paid 600.00, written down by 500.00: its payment is ordered back."""
    claim = world.claim(100_000)
    world.pay(claim, "600.00")
    (order,) = world.service.write_down(CVR, claim, 50_000, "Takst nedsat").orders
    return order


def to_manual(world: World, order: domain.ReversalOrder) -> None:
    """What the relay does when the owner refuses the order: MANUEL, with the reason."""
    now = world.clock[0]
    with db.write(world.service.engine) as conn:
        (claimed,) = store.claim_due_orders(
            conn, now=now, lease_until=now + timedelta(seconds=15), limit=1
        )
        assert store.record_delivery(
            conn,
            order.id,
            claimed.attempt,
            state=OrderState.MANUEL,
            next_attempt_at=None,
            error="Fagsystemet afviste ordren: INDBETALING_UKENDT",
            now=now,
        )


def test_staff_close_an_order_waiting_for_manual_handling_with_who_and_why(api: Api) -> None:
    client, world, headers = api
    order = over_covered_order(world)
    to_manual(world, order)
    closed = client.post(
        f"{BASE}/tilbagefoerselsordrer/{order.id}/lukning",
        headers=headers,
        json={"Begrundelse": "Beløbet er udbetalt til borgeren via NemKonto"},
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["Tilstand"] == "LUKKET"
    assert body["LukketAf"] == "Opkrævningen"  # the staff token's name
    assert body["Begrundelse"] == "Beløbet er udbetalt til borgeren via NemKonto"
    assert datetime.fromisoformat(body["Lukketidspunkt"]) == world.clock[0]
    waiting = client.get(
        f"{BASE}/tilbagefoerselsordrer", headers=headers, params={"Tilstand": "MANUEL"}
    )
    assert waiting.json() == []
    done = client.get(
        f"{BASE}/tilbagefoerselsordrer", headers=headers, params={"Tilstand": "LUKKET"}
    )
    assert [o["TilbagefoerselsOrdreId"] for o in done.json()] == [str(order.id)]
    again = client.post(
        f"{BASE}/tilbagefoerselsordrer/{order.id}/lukning",
        headers=headers,
        json={"Begrundelse": "igen"},
    )
    assert_problem(again, 409, "TILBAGEFOERSELSORDRE_IKKE_MANUEL")
    assert client.get(f"{BASE}/fordringer/{order.claim_id}", headers=headers).json()[
        "TilbagefoerselsOrdrer"
    ][0]["Begrundelse"] == ("Beløbet er udbetalt til borgeren via NemKonto")


def test_an_order_not_waiting_for_manual_handling_cannot_be_closed(api: Api) -> None:
    client, world, headers = api
    order = over_covered_order(world)  # OPRETTET: the relay is still to send it
    refused = client.post(
        f"{BASE}/tilbagefoerselsordrer/{order.id}/lukning",
        headers=headers,
        json={"Begrundelse": "for tidligt"},
    )
    assert_problem(refused, 409, "TILBAGEFOERSELSORDRE_IKKE_MANUEL")
    listed = client.get(f"{BASE}/tilbagefoerselsordrer", headers=headers).json()
    assert [(o["Tilstand"], o["LukketAf"]) for o in listed] == [("OPRETTET", None)]
    unknown = client.post(
        f"{BASE}/tilbagefoerselsordrer/{uuid.uuid4()}/lukning",
        headers=headers,
        json={"Begrundelse": "findes ikke"},
    )
    assert_problem(unknown, 404, "TILBAGEFOERSELSORDRE_UKENDT")
    without_reason = client.post(
        f"{BASE}/tilbagefoerselsordrer/{order.id}/lukning", headers=headers, json={}
    )
    assert without_reason.status_code == 422
    blank = client.post(
        f"{BASE}/tilbagefoerselsordrer/{order.id}/lukning",
        headers=headers,
        json={"Begrundelse": "   "},
    )
    assert_problem(blank, 422, "UGYLDIG_FORESPOERGSEL")


def test_another_authoritys_order_is_unknown_to_staff(api: Api) -> None:
    client, world, _ = api
    order = over_covered_order(world)
    to_manual(world, order)
    other = world.service.issue_staff_token(OTHER_CVR, "Andeby")
    refused = client.post(
        f"/api/v1/myndigheder/{OTHER_CVR}/tilbagefoerselsordrer/{order.id}/lukning",
        headers={"Authorization": f"Bearer {other}"},
        json={"Begrundelse": "ikke vores"},
    )
    assert_problem(refused, 404, "TILBAGEFOERSELSORDRE_UKENDT")
    with pytest.raises(Rejected):
        world.service.close_order(OTHER_CVR, order.id, "Andeby", "ikke vores")


def test_staff_page_through_orders_newest_first_with_a_key_bound_to_the_query(
    api: Api,
) -> None:
    client, world, headers = api
    made = []
    for n in range(5):
        made.append(over_covered_order(world))
        if n % 2:  # two orders made at one instant: ordered by id within it
            world.clock[0] += timedelta(seconds=1)
    expected = [str(o.id) for o in sorted(made, key=lambda o: (o.created_at, o.id), reverse=True)]
    seen: list[str] = []
    params: dict[str, Any] = {"Antal": 2}
    pages = 0
    while True:
        page = client.get(f"{BASE}/tilbagefoerselsordrer", headers=headers, params=params)
        assert page.status_code == 200, page.text
        seen += [o["TilbagefoerselsOrdreId"] for o in page.json()]
        pages += 1
        key = page.headers.get("FortsaettelsesNoegle")
        if key is None:
            break
        params = {"Antal": 2, "FortsaettelsesNoegle": key}
    assert (seen, pages) == (expected, 3)
    first = client.get(f"{BASE}/tilbagefoerselsordrer", headers=headers, params={"Antal": 2})
    key = first.headers["FortsaettelsesNoegle"]
    other_query = client.get(
        f"{BASE}/tilbagefoerselsordrer",
        headers=headers,
        params={"Antal": 2, "Tilstand": "MANUEL", "FortsaettelsesNoegle": key},
    )
    assert_problem(other_query, 422, "UGYLDIG_FORESPOERGSEL")
    garbage = client.get(
        f"{BASE}/tilbagefoerselsordrer",
        headers=headers,
        params={"FortsaettelsesNoegle": "bm90LWEta2V5"},
    )
    assert_problem(garbage, 422, "UGYLDIG_FORESPOERGSEL")
    for size in (0, 1001):
        too = client.get(f"{BASE}/tilbagefoerselsordrer", headers=headers, params={"Antal": size})
        assert too.status_code == 422


def test_over_coverage_from_other_coverages_is_listed_and_resolved_by_staff(api: Api) -> None:
    client, world, headers = api
    service = world.service
    by_bank = world.claim(100_000)
    service.register_other_coverage(CVR, by_bank, 80_000)
    service.write_down(CVR, by_bank, 50_000, "Takst nedsat")  # 300.00 over, no payment to order
    answered = over_covered_order(world)  # over-covered too, but an open order answers it
    listed = client.get(f"{BASE}/overdaekninger", headers=headers)
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()
    coverage_id = entry["AndreDaekninger"][0]["DaekningId"]
    assert entry == {
        "FordringId": str(by_bank),
        "Overdaekning": "300.00",
        "UbesvaretOverdaekning": "300.00",
        "AndreDaekninger": [{"DaekningId": coverage_id, "Beloeb": "800.00"}],
    }
    resolved = client.post(
        f"{BASE}/fordringer/{by_bank}/daekninger/{coverage_id}/tilbagefoersel",
        headers=headers,
        json={"Begrundelse": "Bankindbetalingen er sendt retur"},
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["Fordring"]["Restance"] == "500.00"  # owed again, as before the bank payment
    assert [d["Tilbagefoert"] for d in body["Daekninger"]] == [True]
    assert client.get(f"{BASE}/overdaekninger", headers=headers).json() == []
    with db.read(service.engine) as conn:
        row = conn.execute(
            select(store.reversals).where(store.reversals.c.coverage_id == uuid.UUID(coverage_id))
        ).one()
    assert (row.staff_name, row.text, row.reason) == (
        "Opkrævningen",
        "Bankindbetalingen er sendt retur",
        store.STAFF_REVERSAL_REASON,
    )
    again = client.post(
        f"{BASE}/fordringer/{by_bank}/daekninger/{coverage_id}/tilbagefoersel",
        headers=headers,
        json={"Begrundelse": "igen"},
    )
    assert_problem(again, 409, "DAEKNING_TILBAGEFOERT")
    payment = service.claim(CVR, answered.claim_id).coverages[0]
    not_ours = client.post(
        f"{BASE}/fordringer/{answered.claim_id}/daekninger/{payment.id}/tilbagefoersel",
        headers=headers,
        json={"Begrundelse": "forkert"},
    )
    assert_problem(not_ours, 409, "DAEKNING_ER_INDBETALING")
    unknown = client.post(
        f"{BASE}/fordringer/{by_bank}/daekninger/{uuid.uuid4()}/tilbagefoersel",
        headers=headers,
        json={"Begrundelse": "findes ikke"},
    )
    assert_problem(unknown, 404, "DAEKNING_UKENDT")


def test_an_other_coverage_of_a_claim_that_is_not_over_covered_is_not_reversed(
    api: Api,
) -> None:
    client, world, headers = api
    claim = world.claim(100_000)
    coverage = world.service.register_other_coverage(CVR, claim, 10_000).ledger.coverages[0]
    refused = client.post(
        f"{BASE}/fordringer/{claim}/daekninger/{coverage.id}/tilbagefoersel",
        headers=headers,
        json={"Begrundelse": "ingen grund"},
    )
    assert_problem(refused, 409, "INGEN_UBESVARET_OVERDAEKNING")
    assert world.service.claim(CVR, claim).restance == 90_000


def test_the_over_coverage_list_pages_by_claim(api: Api) -> None:
    client, world, headers = api
    claims = set()
    for _ in range(5):
        claim = world.claim(10_000)
        world.service.register_other_coverage(CVR, claim, 10_000)
        world.service.annul(CVR, claim, "Fejloprettet")
        claims.add(str(claim))
    seen: list[str] = []
    params: dict[str, Any] = {"Antal": 2}
    while True:
        page = client.get(f"{BASE}/overdaekninger", headers=headers, params=params)
        assert page.status_code == 200, page.text
        seen += [e["FordringId"] for e in page.json()]
        key = page.headers.get("FortsaettelsesNoegle")
        if key is None:
            break
        params = {"Antal": 2, "FortsaettelsesNoegle": key}
    assert seen == sorted(claims)


# --- the money rules of resolving, on the pure ledger ---------------------------------------

OWNER = uuid.UUID("00000000-0000-4000-8000-000000000001")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
Step = tuple[str, int]
steps = st.lists(
    st.tuples(st.sampled_from(["pay", "other", "write_down"]), st.integers(1, 60_000)),
    max_size=12,
)


def ledger_after(principal: int, plan: list[Step]) -> ClaimLedger:
    claim = Claim(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        authority_cvr=CVR,
        account_type_code="KONTO.BORGER",
        claim_type_code="KRAV.DAGTILBUD",
        principal=principal,
        due_date=date(2026, 12, 1),
        last_timely_payment_date=date(2026, 12, 10),
        payment_period_from=None,
        payment_period_to=None,
        liable_parties=(LiableParty(PART, "PRIMAER"),),
    )
    ledger = ClaimLedger(claim)
    for kind, amount in plan:
        try:
            if kind == "pay":
                payment = domain.Payment(
                    uuid.uuid4(), claim.id, amount, date(2026, 11, 26), PART, uuid.uuid4(), None
                )
                ledger, _ = domain.pay(
                    ledger,
                    payment,
                    owner_id=OWNER,
                    today=date(2026, 11, 26),
                    coverage_id=uuid.uuid4(),
                )
            elif kind == "other":
                ledger, _ = domain.register_other_coverage(ledger, amount, coverage_id=uuid.uuid4())
            else:
                ledger, _, _ = domain.write_down(
                    ledger,
                    amount,
                    write_down_id=uuid.uuid4(),
                    text=None,
                    now=NOW,
                    new_id=uuid.uuid4,
                )
        except Rejected:
            pass
    return ledger


@settings(max_examples=300, deadline=None)
@given(principal=st.integers(1, 100_000), plan=steps)
def test_resolving_other_coverage_moves_restance_by_its_amount_once_and_never_eats_ordered_over_coverage(  # noqa: E501
    principal: int, plan: list[Step]
) -> None:
    ledger = ledger_after(principal, plan)
    for coverage in [c for c in ledger.coverages if c.source is CoverageSource.OTHER]:
        unanswered = domain.unanswered_overcoverage(ledger)
        ordered = ledger.overcoverage - unanswered
        try:
            after, reversed_coverage = manual.reverse_other_coverage(ledger, coverage.id)
        except Rejected as r:
            assert r.code is FejlKode.INGEN_UBESVARET_OVERDAEKNING
            assert unanswered == 0 or coverage.amount > unanswered
            continue
        assert unanswered > 0
        assert reversed_coverage.reversed
        assert after.restance == ledger.restance + coverage.amount
        assert after.covered == ledger.covered - coverage.amount
        # what the open orders answer is still over-coverage: no owner reverses a payment owed
        assert after.overcoverage >= ordered
        assert domain.unanswered_overcoverage(after) <= unanswered
        with pytest.raises(Rejected) as twice:
            manual.reverse_other_coverage(after, coverage.id)
        assert twice.value.code is FejlKode.DAEKNING_TILBAGEFOERT
        ledger = after
    # no open order and no other coverage left to resolve: what remains is answered or none
    assert all(c.reversed for c in ledger.coverages if c.source is CoverageSource.OTHER) or (
        domain.unanswered_overcoverage(ledger) == 0 or any(o.is_open for o in ledger.orders)
    )

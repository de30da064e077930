"""SoegFordringTilIndbetaling: only the authority's payable claims, filters, stable paging."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from indbetaling.debitorsystem.service import InvalidRequest, SearchRequest
from indbetaling.fordring import LiableParty

from .conftest import CO_PART, CVR, OTHER_CVR, PART, World


def ids(answer: dict[str, object]) -> list[str]:
    return [c["FordringId"] for c in answer["FordringTilIndbetaling"]]  # type: ignore[attr-defined]


def test_finds_only_payable_claims_of_the_calling_authority(world: World) -> None:
    payable = world.claim(10_000)
    paid = world.claim(10_000)
    world.pay(paid, "100.00")
    annulled = world.claim(10_000)
    world.service.annul(CVR, annulled, None)
    future = world.claim(10_000, payment_period_from=date(2027, 1, 1))
    foreign = world.claim(10_000, cvr=OTHER_CVR)
    found = world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART))
    assert ids(found) == [str(payable)]
    (view,) = found["FordringTilIndbetaling"]
    assert view["Restance"] == "100.00"
    assert view["Status"] == "AKTIV"
    assert {h["PartId"] for h in view["Haefterkreds"]["Haefter"]} == {PART, CO_PART}
    for hidden in (paid, annulled, future, foreign):
        by_id = world.service.search(world.fagsystem, CVR, SearchRequest(claim_id=hidden))
        assert ids(by_id) == []


def test_filters_by_account_and_types(world: World) -> None:
    a = world.claim(10_000, claim_type_code="KRAV.SFO")
    b = world.claim(10_000, claim_type_code="KRAV.MADORDNING")
    by_account = world.service.search(world.fagsystem, CVR, SearchRequest(account_id=world.account))
    assert sorted(ids(by_account)) == sorted([str(a), str(b)])
    by_type = world.service.search(
        world.fagsystem, CVR, SearchRequest(part_id=PART, claim_type_code="KRAV.MADORDNING")
    )
    assert ids(by_type) == [str(b)]
    by_account_type = world.service.search(
        world.fagsystem, CVR, SearchRequest(part_id=PART, account_type_code="ANDET")
    )
    assert ids(by_account_type) == []
    only_co = world.claim(10_000, parties=(LiableParty(CO_PART, "PRIMAER"),))
    assert str(only_co) not in ids(
        world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART))
    )


def test_paging_is_stable_and_complete(world: World) -> None:
    made = sorted(str(world.claim(10_000)) for _ in range(7))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        answer = world.service.search(
            world.fagsystem, CVR, SearchRequest(part_id=PART, max_count=3, cursor=cursor)
        )
        seen += ids(answer)
        pages += 1
        cursor = answer.get("FortsaettelsesNoegle")  # type: ignore[assignment]
        if cursor is None:
            break
    assert seen == made
    assert pages == 3


def test_a_cursor_is_bound_to_its_query(world: World) -> None:
    for _ in range(3):
        world.claim(10_000)
    first = world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART, max_count=1))
    cursor = str(first["FortsaettelsesNoegle"])
    with pytest.raises(InvalidRequest, match="anden søgning"):
        world.service.search(
            world.fagsystem, CVR, SearchRequest(part_id=CO_PART, max_count=1, cursor=cursor)
        )
    with pytest.raises(InvalidRequest, match="ugyldig"):
        world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART, cursor="x!"))


@pytest.mark.parametrize(
    "request_",
    [
        SearchRequest(),
        SearchRequest(part_id=PART, max_count=0),
        SearchRequest(part_id=PART, max_count=1001),
        SearchRequest(part_id="urn:oio:cpr-nr:12"),
    ],
)
def test_bad_searches_are_refused(world: World, request_: SearchRequest) -> None:
    with pytest.raises(InvalidRequest):
        world.service.search(world.fagsystem, CVR, request_)


def test_unknown_ids_find_nothing(world: World) -> None:
    world.claim(10_000)
    answer = world.service.search(world.fagsystem, CVR, SearchRequest(claim_id=uuid.uuid4()))
    assert ids(answer) == []
    assert "FortsaettelsesNoegle" not in answer

"""The sortiment (seed §1.3, §2.3.3; R10): account and claim types are KLA classes from the list
the project ships; a fagsystem's sortiment per authority names the types and ORG units it may
use; a search's type filter outside the caller's sortiment finds nothing."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from indbetaling import db, kla
from indbetaling.db import make_engine, migrate
from indbetaling.debitorsystem import demo, store
from indbetaling.debitorsystem.demo_rows import ACCOUNT_TYPES, CLAIM_TYPES, DEMO_TYPES
from indbetaling.debitorsystem.domain import FejlKode, Rejected
from indbetaling.debitorsystem.service import SearchRequest

from .conftest import CVR, OTHER_CVR, PART, World, code
from .test_staff_api import api, assert_problem

__all__ = ["api"]

Api = Any
BASE = f"/api/v1/myndigheder/{CVR}"


def found(
    world: World,
    fagsystem: uuid.UUID,
    *,
    claim_type_code: str | None = None,
    account_type_code: str | None = None,
) -> list[str]:
    request = SearchRequest(
        part_id=PART, claim_type_code=claim_type_code, account_type_code=account_type_code
    )
    answer = world.service.search(fagsystem, CVR, request)
    return [v["FordringId"] for v in answer["FordringTilIndbetaling"]]


def test_the_shipped_list_has_both_facets_and_knows_a_class_by_its_facet() -> None:
    accounts = kla.keys(kla.Facet.ACCOUNT_TYPE)
    claims = kla.keys(kla.Facet.CLAIM_TYPE)
    assert "KONTO.BORGER" in accounts
    assert "KRAV.DAGTILBUD" in claims
    assert not set(accounts) & set(claims)
    assert kla.is_class("KRAV.DAGTILBUD", kla.Facet.CLAIM_TYPE)
    assert not kla.is_class("KRAV.DAGTILBUD", kla.Facet.ACCOUNT_TYPE)
    assert not kla.is_class("KRAV.UKENDT")
    assert all(c.title for c in kla.classes().values())
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"contracts/*.csv"' in pyproject  # the list ships with the package


def test_unknown_types_are_refused_when_accounts_and_claims_are_made(api: Api) -> None:
    client, world, headers = api
    before = len(
        world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART))[
            "FordringTilIndbetaling"
        ]
    )
    for bad in ("KONTO.UKENDT", "KRAV.DAGTILBUD"):  # unknown, or a class of the other facet
        refused = client.post(
            f"{BASE}/debitorkonti", headers=headers, json={"DebitorkontoTypeKode": bad}
        )
        assert_problem(refused, 422, "DEBITORKONTOTYPE_UKENDT")
    claim = {
        "DebitorkontoId": str(world.account),
        "Hovedstol": "100.00",
        "Forfaldsdato": "2026-12-01",
        "SidsteRettidigeBetalingsdato": "2026-12-10",
        "Haefterkreds": [{"PartId": PART, "HaefterRolle": "PRIMAER"}],
    }
    for bad in ("KRAV.A", "KONTO.BORGER"):
        refused = client.post(
            f"{BASE}/fordringer", headers=headers, json={**claim, "KravtypeKode": bad}
        )
        assert_problem(refused, 422, "KRAVTYPE_UKENDT")
    made = client.post(
        f"{BASE}/fordringer", headers=headers, json={**claim, "KravtypeKode": "KRAV.SFO"}
    )
    assert made.status_code == 201, made.text
    after = world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART))
    assert len(after["FordringTilIndbetaling"]) == before + 1


def test_a_sortiment_names_only_known_classes(world: World) -> None:
    fagsystem = uuid.uuid4()
    with pytest.raises(Rejected) as refused:
        world.service.register_fagsystem(
            fagsystem, "Ny", {CVR: [uuid.uuid4()]}, types={CVR: ["KRAV.SFO", "KRAV.FINDES_IKKE"]}
        )
    assert refused.value.code is FejlKode.KLASSE_UKENDT
    assert "KRAV.FINDES_IKKE" in refused.value.text
    with pytest.raises(Rejected):  # nothing was registered
        world.service.assortment(CVR, fagsystem)


def test_a_type_filter_outside_the_callers_sortiment_finds_nothing(world: World) -> None:
    sfo = world.claim(10_000, claim_type_code="KRAV.SFO")
    food = world.claim(10_000, claim_type_code="KRAV.MADORDNING")
    narrow = uuid.uuid4()
    world.service.register_fagsystem(
        narrow, "Skolesystemet", {CVR: [uuid.uuid4()]}, types={CVR: ["KONTO.BORGER", "KRAV.SFO"]}
    )
    assert found(world, narrow, claim_type_code="KRAV.SFO") == [str(sfo)]
    assert found(world, narrow, claim_type_code="KRAV.MADORDNING") == []
    assert found(world, world.fagsystem, claim_type_code="KRAV.MADORDNING") == [str(food)]
    assert sorted(found(world, narrow, account_type_code="KONTO.BORGER")) == sorted(
        [str(sfo), str(food)]
    )
    world.service.set_assortment(CVR, narrow, [], ["KRAV.SFO"])  # no longer the account type
    assert found(world, narrow, account_type_code="KONTO.BORGER") == []
    assert found(world, narrow, claim_type_code="KRAV.SFO") == [str(sfo)]
    # without a type filter the authority's payable claims are found, as before
    assert sorted(found(world, narrow)) == sorted([str(sfo), str(food)])


def test_a_sortiment_is_per_authority(world: World) -> None:
    fagsystem = uuid.uuid4()
    world.service.register_fagsystem(
        fagsystem, "Kun Andeby", {OTHER_CVR: [uuid.uuid4()]}, types={OTHER_CVR: ["KRAV.SFO"]}
    )
    world.claim(10_000, claim_type_code="KRAV.SFO")
    assert found(world, fagsystem, claim_type_code="KRAV.SFO") == []
    assert world.service.assortment(CVR, fagsystem) == ([], [])
    assert world.service.assortment(OTHER_CVR, fagsystem)[1] == ["KRAV.SFO"]


def test_a_payment_from_an_org_unit_outside_the_sortiment_is_refused(world: World) -> None:
    claim = world.claim(10_000)
    kept = uuid.uuid4()
    world.service.set_assortment(CVR, world.fagsystem, [kept], ["KRAV.DAGTILBUD"])
    assert code(world.pay(claim, "10.00")) == FejlKode.ORGANISATIONSENHED_UKENDT.value
    assert code(world.pay(claim, "10.00", org_unit=kept)) == "ACCEPTERET"
    # the other fagsystem's ORG unit is in its own sortiment, not in this one's
    assert code(world.pay(claim, "10.00", org_unit=world.other_org_unit)) == (
        FejlKode.ORGANISATIONSENHED_UKENDT.value
    )


def test_staff_set_and_read_a_fagsystems_sortiment(api: Api) -> None:
    client, world, headers = api
    unit = uuid.uuid4()
    url = f"{BASE}/fagsystemer/{world.other_fagsystem}/sortiment"
    put = client.put(
        url,
        headers=headers,
        json={"Organisationsenheder": [str(unit)], "Typer": ["KRAV.SFO", "KONTO.BORGER"]},
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "Organisationsenheder": [str(unit)],
        "Typer": ["KONTO.BORGER", "KRAV.SFO"],
    }
    assert client.get(url, headers=headers).json() == put.json()
    bad = client.put(url, headers=headers, json={"Organisationsenheder": [], "Typer": ["KRAV.NEJ"]})
    assert_problem(bad, 422, "KLASSE_UKENDT")
    assert client.get(url, headers=headers).json() == put.json()  # unchanged
    unknown = client.get(f"{BASE}/fagsystemer/{uuid.uuid4()}/sortiment", headers=headers)
    assert_problem(unknown, 404, "FAGSYSTEM_UKENDT")
    # another authority's sortiment of the same fagsystem is untouched
    assert world.service.assortment(OTHER_CVR, world.other_fagsystem)[0] == [world.other_org_unit]


def test_the_demo_uses_shipped_classes_and_its_fagsystems_may_use_them(tmp_path: Path) -> None:
    assert all(kla.is_class(t, kla.Facet.ACCOUNT_TYPE) for t in ACCOUNT_TYPES)
    assert all(
        kla.is_class(c[0], kla.Facet.CLAIM_TYPE) for types in CLAIM_TYPES.values() for c in types
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    migrate(engine, "debitorsystem")
    plan = demo.make_plan(5, 300, today=date(2026, 11, 26))
    demo.generate(engine, plan, batch_size=300, workers=0)
    with db.read(engine) as conn:
        used = {r[0] for r in conn.execute(select(store.accounts.c.type_code).distinct())} | {
            r[0] for r in conn.execute(select(store.claims.c.claim_type_code).distinct())
        }
        assert used <= set(DEMO_TYPES)
        for f in plan.fagsystems:
            for cvr in f.org_units:
                assert set(store.assortment_of(conn, f.id, cvr)[1]) == set(DEMO_TYPES)
        assert conn.execute(select(func.count()).select_from(store.assortment_types)).scalar()
    engine.dispose()

"""The debitorsystem's coverages for reconciliation (`GET …/myndigheder/{cvr}/daekninger`): every
coverage of the authority in order of arrival, paged, for its own staff and for the auditor;
other authorities' staff and strangers are refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indbetaling import http_errors, paging
from indbetaling.debitorsystem.api import coverage_router
from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import ReversalRequest

from .conftest import CVR, OTHER_CVR, World, code
from .test_staff_api import assert_problem

AUDITOR = "revisorens-token"


@pytest.fixture
def api(world: World) -> tuple[TestClient, World]:
    app = FastAPI()
    http_errors.install(app)
    app.include_router(coverage_router(world.service, auditor_token=AUDITOR))
    return TestClient(app, raise_server_exceptions=False), world


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def listing(client: TestClient, cvr: str, token: str, **params: Any) -> Any:
    response = client.get(
        f"/api/v1/myndigheder/{cvr}/daekninger", headers=bearer(token), params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_staff_and_auditor_see_every_coverage_of_the_authority(
    api: tuple[TestClient, World],
) -> None:
    client, world = api
    claim = world.claim(100_000)
    kept, reversed_ = uuid.uuid4(), uuid.uuid4()
    assert code(world.pay(claim, "300.00", payment_id=kept)) == "ACCEPTERET"
    assert (
        code(
            world.pay(
                claim,
                "200.00",
                payment_id=reversed_,
                fagsystem=world.other_fagsystem,
                org_unit=world.other_org_unit,
            )
        )
        == "ACCEPTERET"
    )
    undo = ReversalRequest(reversed_, ReversalReason.FEJLREGISTRERING)
    world.service.reverse(world.other_fagsystem, CVR, str(uuid.uuid4()), undo)
    world.service.register_other_coverage(CVR, claim, 5_000)
    elsewhere = world.claim(100_000, cvr=OTHER_CVR)
    assert (
        code(
            world.pay(
                elsewhere,
                "10.00",
                fagsystem=world.other_fagsystem,
                org_unit=world.other_org_unit,
                cvr=OTHER_CVR,
            )
        )
        == "ACCEPTERET"
    )

    staff = world.service.issue_staff_token(CVR, "Opkrævningen")
    body = listing(client, CVR, staff)
    assert "FortsaettelsesNoegle" not in body
    paid, undone, other = body["Daekninger"]
    assert paid == {
        "DaekningId": paid["DaekningId"],
        "FordringId": str(claim),
        "Kilde": "INDBETALING",
        "Beloeb": "300.00",
        "IndbetalingId": str(kept),
        "FagsystemId": str(world.fagsystem),
        "Tilbagefoert": False,
    }
    assert (undone["IndbetalingId"], undone["Beloeb"], undone["Tilbagefoert"]) == (
        str(reversed_),
        "200.00",
        True,
    )
    assert undone["FagsystemId"] == str(world.other_fagsystem)
    assert (other["Kilde"], other["Beloeb"], other["IndbetalingId"], other["FagsystemId"]) == (
        "ANDEN",
        "50.00",
        None,
        None,
    )
    assert listing(client, CVR, AUDITOR) == body
    (theirs,) = listing(client, OTHER_CVR, AUDITOR)["Daekninger"]
    assert (theirs["FordringId"], theirs["Beloeb"]) == (str(elsewhere), "10.00")


def test_other_authorities_staff_and_strangers_are_refused(api: tuple[TestClient, World]) -> None:
    client, world = api
    theirs = world.service.issue_staff_token(OTHER_CVR, "Andeby opkrævning")
    path = f"/api/v1/myndigheder/{CVR}/daekninger"
    assert_problem(client.get(path, headers=bearer(theirs)), 403, "IKKE_ADGANG")
    assert_problem(client.get(path, headers=bearer("nogen-andens")), 401, "IKKE_AUTENTIFICERET")
    assert_problem(client.get(path), 401, "IKKE_AUTENTIFICERET")
    assert_problem(
        client.get(path, headers={"Authorization": f"Basic {AUDITOR}"}), 401, "IKKE_AUTENTIFICERET"
    )
    unknown = client.get("/api/v1/myndigheder/99999999/daekninger", headers=bearer(AUDITOR))
    assert_problem(unknown, 404, "MYNDIGHED_UKENDT")
    assert_problem(
        client.get("/api/v1/myndigheder/1234/daekninger", headers=bearer(AUDITOR)),
        422,
        "UGYLDIG_FORESPOERGSEL",
    )


def test_without_an_auditor_token_only_staff_read(world: World) -> None:
    app = FastAPI()
    http_errors.install(app)
    app.include_router(coverage_router(world.service, auditor_token=None))
    client = TestClient(app, raise_server_exceptions=False)
    path = f"/api/v1/myndigheder/{CVR}/daekninger"
    assert_problem(client.get(path, headers=bearer("")), 401, "IKKE_AUTENTIFICERET")
    assert_problem(client.get(path, headers=bearer(AUDITOR)), 401, "IKKE_AUTENTIFICERET")


def test_pages_follow_the_order_of_arrival_and_new_coverages_come_last(
    api: tuple[TestClient, World],
) -> None:
    client, world = api
    claims = [world.claim(100_000) for _ in range(3)]
    for n in range(7):
        assert code(world.pay(claims[n % 3], f"{n + 1}.00")) == "ACCEPTERET"
    first = listing(client, CVR, AUDITOR, Antal=3)
    assert [d["Beloeb"] for d in first["Daekninger"]] == ["1.00", "2.00", "3.00"]
    assert code(world.pay(claims[0], "8.00")) == "ACCEPTERET"  # arrives while paging
    second = listing(
        client, CVR, AUDITOR, Antal=3, FortsaettelsesNoegle=first["FortsaettelsesNoegle"]
    )
    third = listing(
        client, CVR, AUDITOR, Antal=3, FortsaettelsesNoegle=second["FortsaettelsesNoegle"]
    )
    assert [d["Beloeb"] for d in second["Daekninger"] + third["Daekninger"]] == [
        "4.00",
        "5.00",
        "6.00",
        "7.00",
        "8.00",
    ]
    assert "FortsaettelsesNoegle" not in third
    path = f"/api/v1/myndigheder/{OTHER_CVR}/daekninger"
    key = {"FortsaettelsesNoegle": first["FortsaettelsesNoegle"]}
    assert_problem(
        client.get(path, headers=bearer(AUDITOR), params=key), 422, "UGYLDIG_FORESPOERGSEL"
    )
    forged = [paging.make_key(("daekninger", CVR), [n]) for n in ("-1", "1.5", "٣", "9" * 19)]
    for bad in ("x", "eyJxIjoxfQ", "A" * 401, *forged):
        path = f"/api/v1/myndigheder/{CVR}/daekninger"
        answer = client.get(path, headers=bearer(AUDITOR), params={"FortsaettelsesNoegle": bad})
        assert_problem(answer, 422, "UGYLDIG_FORESPOERGSEL")
    for size in ("0", "1001", "abc"):
        answer = client.get(path, headers=bearer(AUDITOR), params={"Antal": size})
        assert_problem(answer, 422, "UGYLDIG_FORESPOERGSEL")

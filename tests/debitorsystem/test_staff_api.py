"""The collections staff REST API: accounts, claims, write-downs, annulments, other coverages,
reversal orders; tenancy and tokens; bad input answered 4xx and changing nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indbetaling import http_errors
from indbetaling.debitorsystem.api import staff_router
from indbetaling.debitorsystem.service import SearchRequest

from .conftest import CVR, OTHER_CVR, PART, World, code


@pytest.fixture
def api(world: World) -> tuple[TestClient, World, dict[str, str]]:
    app = FastAPI()
    http_errors.install(app)
    app.include_router(staff_router(world.service))
    token = world.service.issue_staff_token(CVR, "Opkrævningen")
    client = TestClient(app, raise_server_exceptions=False)
    return client, world, {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, fejlkode: str) -> None:
    """The one error shape: a problem document with FejlKode and FejlTekst."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == http_errors.PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["FejlKode"] == fejlkode
    assert body["FejlTekst"] == body["detail"]
    assert body["FejlTekst"]


def new_claim(
    client: TestClient, headers: dict[str, str], account: uuid.UUID, principal: str = "1000.00"
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/myndigheder/{CVR}/fordringer",
        headers=headers,
        json={
            "DebitorkontoId": str(account),
            "KravtypeKode": "KRAV.DAGTILBUD",
            "Hovedstol": principal,
            "Forfaldsdato": "2026-12-01",
            "SidsteRettidigeBetalingsdato": "2026-12-10",
            "Haefterkreds": [{"PartId": PART, "HaefterRolle": "PRIMAER"}],
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_claim_life_through_the_api(api: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = api
    account = client.post(
        f"/api/v1/myndigheder/{CVR}/debitorkonti",
        headers=headers,
        json={"DebitorkontoTypeKode": "KONTO.BORGER"},
    )
    assert account.status_code == 201
    account_id = uuid.UUID(account.json()["DebitorkontoId"])
    claim = new_claim(client, headers, account_id)
    claim_id = uuid.UUID(claim["Fordring"]["FordringId"])
    assert claim["Fordring"]["Restance"] == "1000.00"
    assert claim["Fordring"]["Status"] == "AKTIV"

    payment_id = uuid.uuid4()
    assert code(world.pay(claim_id, "800.00", payment_id=payment_id)) == "ACCEPTERET"
    base = f"/api/v1/myndigheder/{CVR}/fordringer/{claim_id}"
    other = client.post(f"{base}/daekninger", headers=headers, json={"Beloeb": "100"})
    assert other.status_code == 201
    assert other.json()["Fordring"]["Restance"] == "100.00"

    down = client.post(
        f"{base}/nedreguleringer",
        headers=headers,
        json={"Beloeb": "400.00", "Tekst": "Takst rettet"},
    )
    assert down.status_code == 200
    body = down.json()
    assert body["Fordring"]["Restance"] == "0.00"  # over-covered: never negative on the wire
    assert body["Fordring"]["Status"] == "AFSLUTTET"
    (order,) = body["TilbagefoerselsOrdrer"]
    assert order["IndbetalingId"] == str(payment_id)
    assert order["Overdaekning"] == "300.00"
    assert order["Tilstand"] == "OPRETTET"

    listed = client.get(f"/api/v1/myndigheder/{CVR}/tilbagefoerselsordrer", headers=headers)
    assert [o["TilbagefoerselsOrdreId"] for o in listed.json()] == [order["TilbagefoerselsOrdreId"]]

    annulled = client.post(f"{base}/annullering", headers=headers, json={})
    assert annulled.status_code == 200
    assert annulled.json()["Fordring"]["Status"] == "ANNULLERET"
    again = client.post(f"{base}/annullering", headers=headers, json={})
    assert again.status_code == 409
    assert_problem(again, 409, "FORDRING_IKKE_BETALBAR")


@pytest.mark.parametrize(
    "amount", ["0", "-1", "0.001", "1e3", "NaN", "", "12345678901234", "abc", "1,50"]
)
def test_bad_amounts_are_refused_and_change_nothing(
    api: tuple[TestClient, World, dict[str, str]], amount: str
) -> None:
    client, world, headers = api
    claim_id = world.claim(100_000)
    base = f"/api/v1/myndigheder/{CVR}/fordringer/{claim_id}"
    for path in ("nedreguleringer", "daekninger"):
        response = client.post(f"{base}/{path}", headers=headers, json={"Beloeb": amount})
        assert response.status_code == 422, (path, amount, response.text)
        assert response.json()["FejlKode"] in {"BELOEB_UGYLDIGT", "UGYLDIG_FORESPOERGSEL"}
        assert_problem(response, 422, response.json()["FejlKode"])
    assert world.service.claim(CVR, claim_id).restance == 100_000


def test_write_down_beyond_principal_is_refused(
    api: tuple[TestClient, World, dict[str, str]],
) -> None:
    client, world, headers = api
    claim_id = world.claim(100_000)
    response = client.post(
        f"/api/v1/myndigheder/{CVR}/fordringer/{claim_id}/nedreguleringer",
        headers=headers,
        json={"Beloeb": "1000.01"},
    )
    assert_problem(response, 422, "BELOEB_UGYLDIGT")


def test_tokens_and_tenancy(api: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = api
    claim_id = world.claim(100_000)
    foreign = world.claim(100_000, cvr=OTHER_CVR)
    path = f"/api/v1/myndigheder/{CVR}/fordringer/{claim_id}"
    missing = client.get(path)
    assert_problem(missing, 401, "IKKE_AUTENTIFICERET")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert_problem(
        client.get(path, headers={"Authorization": "Bearer nope"}), 401, "IKKE_AUTENTIFICERET"
    )
    assert client.get(path, headers=headers).status_code == 200
    # another authority's claim through our path: unknown, as if it did not exist
    unknown = client.get(f"/api/v1/myndigheder/{CVR}/fordringer/{foreign}", headers=headers)
    assert_problem(unknown, 404, "FORDRING_UKENDT")
    # our token on the other authority's path: refused
    other = client.get(f"/api/v1/myndigheder/{OTHER_CVR}/fordringer/{foreign}", headers=headers)
    assert_problem(other, 403, "IKKE_ADGANG")
    refused = client.post(
        f"/api/v1/myndigheder/{OTHER_CVR}/fordringer/{foreign}/annullering",
        headers=headers,
        json={},
    )
    assert refused.status_code == 403
    assert world.service.claim(OTHER_CVR, foreign).status.value == "AKTIV"


def test_bad_claims_are_refused(api: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = api
    body = {
        "DebitorkontoId": str(world.account),
        "KravtypeKode": "KRAV.DAGTILBUD",
        "Hovedstol": "100",
        "Forfaldsdato": "2026-12-01",
        "SidsteRettidigeBetalingsdato": "2026-12-10",
        "Haefterkreds": [{"PartId": "1234", "HaefterRolle": "PRIMAER"}],
    }
    url = f"/api/v1/myndigheder/{CVR}/fordringer"
    bad_party = client.post(url, headers=headers, json=body)
    assert_problem(bad_party, 422, "UGYLDIG_FORESPOERGSEL")
    assert "PartId" in bad_party.json()["FejlTekst"]
    unknown_account = client.post(
        url,
        headers=headers,
        json={
            **body,
            "DebitorkontoId": str(uuid.uuid4()),
            "Haefterkreds": [{"PartId": PART, "HaefterRolle": "PRIMAER"}],
        },
    )
    assert_problem(unknown_account, 404, "FORDRING_UKENDT")
    not_json = client.post(
        url, headers={**headers, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert_problem(not_json, 422, "UGYLDIG_FORESPOERGSEL")
    found = world.service.search(world.fagsystem, CVR, SearchRequest(part_id=PART))
    assert found["FordringTilIndbetaling"] == []

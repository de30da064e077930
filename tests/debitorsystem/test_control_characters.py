"""Control characters are refused at the edge, on both wires alike and on both databases: a NUL
(which PostgreSQL refuses and SQLite stores) or another control character in a payment's or a
reversal's `Tekst`, in a search's codes, or in the staff's texts and codes is a clear 4xx (REST: a
422 problem; SOAP: a Client fault) and nothing is stored. Tab, line feed and carriage return are
allowed in free texts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import func, select

from debitorsystem.conftest import CVR, PART, World
from debitorsystem.wire_env import GATEWAY_SOAP, WireEnv, code, live_server, wire_env
from indbetaling import db, http_errors
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.api import staff_router
from serviceplatform.soap_client import kombit_headers

__all__ = ["live_server", "wire_env"]  # fixtures

MARK = "MARKER-TEKST"
CONTROLS = ["a\x00b", "\x1b[31m", "\x7f", "a\x85b", "\x9f"]


def _problem_422(answer: Any) -> str:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == http_errors.PROBLEM_MEDIA_TYPE
    body = answer.json()
    assert body["FejlKode"] == "UGYLDIG_FORESPOERGSEL"
    assert "ulovligt tegn" in body["FejlTekst"], body
    return str(body["FejlTekst"])


def _soap(env: WireEnv, operation: str, replacement: bytes, **body: object) -> httpx.Response:
    """The envelope zeep makes, with `MARK` replaced by raw XML (a character reference, or a
    byte no XML may hold), posted through the gateway."""
    client = env.soap.client()
    message = client.create_message(
        client.service, operation, **body, _soapheaders=kombit_headers(CVR, uuid.uuid4())
    )
    data = etree.tostring(message).replace(MARK.encode(), replacement)
    return httpx.post(
        f"{env.base_url}{GATEWAY_SOAP}",
        content=data,
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "Authorization": f"Bearer {env.token('fagsystem')}",
        },
        timeout=60,
    )


def _client_fault(answer: httpx.Response) -> None:
    assert 400 <= answer.status_code < 500, answer.text
    assert b"faultcode>soap:Client" in answer.content, answer.text
    assert b"Traceback" not in answer.content


def test_rest_refuses_control_characters_and_stores_nothing(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    rest = wire_env.rest
    for bad in CONTROLS:
        payment = wire_env.payment(claim, "10.00", Tekst=bad)
        text = _problem_422(
            rest.post("foretag-indbetaling", {"Indbetaling": payment}, str(uuid.uuid4()))
        )
        assert "Tekst" in text
        for field in ("KravtypeKode", "DebitorkontoTypeKode"):
            search = {"FordringId": str(claim), field: f"KRAV{bad}"}
            assert field in _problem_422(rest.post("soeg-fordring-til-indbetaling", search))
    paid = wire_env.payment(claim, "10.00")
    assert code(rest.pay(paid)) == "ACCEPTERET"
    reversal = {"IndbetalingId": paid["IndbetalingId"], "AarsagKode": "ANDET", "Tekst": "a\x00"}
    _problem_422(rest.post("foretag-indbetaling-nedregulering", reversal, str(uuid.uuid4())))
    assert wire_env.coverages(claim) == 1
    assert not wire_env.world.service.claim(CVR, claim).coverages[0].reversed
    # a code with a tab is refused, a text with tab and line breaks is not
    tab = {"FordringId": str(claim), "KravtypeKode": "KRAV\tDAGTILBUD"}
    _problem_422(rest.post("soeg-fordring-til-indbetaling", tab))
    assert code(rest.pay(wire_env.payment(claim, "1.00", Tekst="Linje 1\r\n\tLinje 2"))) == (
        "ACCEPTERET"
    )


def test_soap_refuses_control_characters_and_stores_nothing(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    for raw in (b"&#x85;", b"a&#x9f;b", b"&#x7f;", b"&#0;", b"a\x00b", b"&#x1b;"):
        payment = wire_env.payment(claim, "10.00", Tekst=MARK)
        _client_fault(_soap(wire_env, "ForetagIndbetaling", raw, Indbetaling=payment))
        search = {"FordringId": str(claim), "KravtypeKode": MARK}
        _client_fault(_soap(wire_env, "SoegFordringTilIndbetaling", raw, **search))
    assert wire_env.coverages(claim) == 0
    payment = wire_env.payment(claim, "10.00", Tekst=MARK)
    allowed = _soap(wire_env, "ForetagIndbetaling", b"Linje 1&#13;&#10;&#9;x", Indbetaling=payment)
    assert allowed.status_code == 200, allowed.text
    assert wire_env.coverages(claim) == 1


def _rows(world: World) -> tuple[int, ...]:
    with db.read(world.service.engine) as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (store.accounts, store.claims, store.write_downs, store.outbox)
        )


@pytest.fixture
def staff(world: World) -> tuple[TestClient, dict[str, str]]:
    app = FastAPI()
    http_errors.install(app)
    app.include_router(staff_router(world.service))
    token = world.service.issue_staff_token(CVR, "Opkrævningen")
    return TestClient(app, raise_server_exceptions=False), {"Authorization": f"Bearer {token}"}


def test_staff_texts_and_codes_refuse_control_characters(
    world: World, staff: tuple[TestClient, dict[str, str]]
) -> None:
    client, headers = staff
    base = f"/api/v1/myndigheder/{CVR}"
    claim = world.claim(100_000)
    before, rows = world.service.claim(CVR, claim), _rows(world)
    for bad in CONTROLS:
        down = {"Beloeb": "10.00", "Tekst": f"Nedsat{bad}"}
        _problem_422(
            client.post(f"{base}/fordringer/{claim}/nedreguleringer", headers=headers, json=down)
        )
        _problem_422(
            client.post(
                f"{base}/fordringer/{claim}/annullering", headers=headers, json={"Tekst": bad}
            )
        )
        account = {"DebitorkontoTypeKode": f"KONTO{bad}"}
        _problem_422(client.post(f"{base}/debitorkonti", headers=headers, json=account))
        new_claim = {
            "DebitorkontoId": str(world.account),
            "KravtypeKode": f"KRAV{bad}",
            "Hovedstol": "10.00",
            "Forfaldsdato": "2026-12-01",
            "SidsteRettidigeBetalingsdato": "2026-12-10",
            "Haefterkreds": [{"PartId": PART, "HaefterRolle": "PRIMAER"}],
        }
        _problem_422(client.post(f"{base}/fordringer", headers=headers, json=new_claim))
        role = {
            **new_claim,
            "KravtypeKode": "KRAV",
            "Haefterkreds": [{"PartId": PART, "HaefterRolle": bad}],
        }
        _problem_422(client.post(f"{base}/fordringer", headers=headers, json=role))
    assert world.service.claim(CVR, claim) == before
    assert _rows(world) == rows
    down = {"Beloeb": "10.00", "Tekst": "Takst rettet\n\tjf. afgørelse"}
    assert (
        client.post(
            f"{base}/fordringer/{claim}/nedreguleringer", headers=headers, json=down
        ).status_code
        == 200
    )

"""Both wires take ids in one form only, the canonical 8-4-4-4-12 hex digits SOAP's schema has:
REST refuses a FordringId (or any other id, the Idempotency-Key too) written with braces, as
`urn:uuid:` or without hyphens, as SOAP does, and nothing is stored; the staff API likewise."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import zeep.exceptions
from fastapi import FastAPI
from fastapi.testclient import TestClient

from debitorsystem.conftest import CVR, PART, World
from debitorsystem.wire_env import WireEnv, code, live_server, wire_env
from indbetaling import http_errors
from indbetaling.debitorsystem.api import staff_router

__all__ = ["live_server", "wire_env"]  # fixtures


def _other_forms(value: uuid.UUID) -> list[str]:
    text = str(value)
    return [f"{{{text}}}", f"urn:uuid:{text}", value.hex, f" {text}", f"{text}\n"]


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["FejlKode"] == "UGYLDIG_FORESPOERGSEL"


@pytest.mark.parametrize(
    "field",
    ["FordringId", "IndbetalingId", "IndbetalendeOrganisationsenhedId", "Idempotency-Key"],
)
def test_rest_takes_a_payments_ids_in_the_canonical_form_only(
    wire_env: WireEnv, field: str
) -> None:
    claim = wire_env.world.claim()
    payment = wire_env.payment(claim, "10.00")
    for form in _other_forms(uuid.UUID(payment.get(field, str(uuid.uuid4())))):
        if field == "Idempotency-Key":
            if form != form.strip():
                continue  # no HTTP client sends a header with surrounding white space
            answer = wire_env.rest.post("foretag-indbetaling", {"Indbetaling": payment}, form)
        else:
            body = {"Indbetaling": {**payment, field: form}}
            answer = wire_env.rest.post("foretag-indbetaling", body, str(uuid.uuid4()))
        _refused(answer)
    assert wire_env.coverages(claim) == 0
    # either case is the canonical form, as in the schema
    upper = {**payment, field: payment[field].upper()} if field in payment else payment
    assert code(wire_env.rest.pay(upper, str(uuid.uuid4()).upper())) == "ACCEPTERET"


def test_rest_takes_search_and_reversal_ids_in_the_canonical_form_only(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    payment = wire_env.payment(claim, "10.00")
    assert code(wire_env.rest.pay(payment)) == "ACCEPTERET"
    rest = wire_env.rest
    for form in _other_forms(claim):
        _refused(rest.post("soeg-fordring-til-indbetaling", {"FordringId": form}))
    for form in _other_forms(wire_env.world.account):
        _refused(rest.post("soeg-fordring-til-indbetaling", {"DebitorkontoId": form}))
    for form in _other_forms(uuid.UUID(payment["IndbetalingId"])):
        reversal = {"IndbetalingId": form, "AarsagKode": "ANDET"}
        _refused(rest.post("foretag-indbetaling-nedregulering", reversal, str(uuid.uuid4())))
    for form in _other_forms(uuid.uuid4()):
        reversal = {
            "IndbetalingId": payment["IndbetalingId"],
            "AarsagKode": "TILBAGEFOERSELSORDRE",
            "TilbagefoerselsOrdreId": form,
        }
        _refused(rest.post("foretag-indbetaling-nedregulering", reversal, str(uuid.uuid4())))
    assert wire_env.restance(claim) == 99_000


def test_soap_refuses_the_same_forms(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    for form in _other_forms(claim)[:3]:
        with pytest.raises(zeep.exceptions.Fault) as fault:
            wire_env.soap.pay(wire_env.payment(claim, "10.00", FordringId=form))
        assert fault.value.code in {"soap:Client", "Client"}, fault.value
    assert wire_env.coverages(claim) == 0


def test_the_staff_api_takes_ids_in_the_canonical_form_only(world: World) -> None:
    app = FastAPI()
    http_errors.install(app)
    app.include_router(staff_router(world.service))
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {world.service.issue_staff_token(CVR, 'Opkrævningen')}"}
    base = f"/api/v1/myndigheder/{CVR}"
    claim = world.claim()

    def new_claim(account: str) -> dict[str, Any]:
        return {
            "DebitorkontoId": account,
            "KravtypeKode": "KRAV",
            "Hovedstol": "10.00",
            "Forfaldsdato": "2026-12-01",
            "SidsteRettidigeBetalingsdato": "2026-12-10",
            "Haefterkreds": [{"PartId": PART, "HaefterRolle": "PRIMAER"}],
        }

    for form in _other_forms(world.account):
        _refused(client.post(f"{base}/fordringer", headers=headers, json=new_claim(form)))
    for form in _other_forms(world.fagsystem):
        owner = {"DebitorkontoTypeKode": "KONTO", "EjerFagsystemId": form}
        _refused(client.post(f"{base}/debitorkonti", headers=headers, json=owner))
    for form in _other_forms(claim)[:3]:
        _refused(client.get(f"{base}/fordringer/{form}", headers=headers))
        down = {"Beloeb": "1.00"}
        _refused(
            client.post(f"{base}/fordringer/{form}/nedreguleringer", headers=headers, json=down)
        )
    assert world.service.claim(CVR, claim).restance == 100_000
    assert client.get(f"{base}/fordringer/{str(claim).upper()}", headers=headers).status_code == 200

"""Who may call: 401 without a valid token, 403 without an agreement or for another authority."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import jwt
import pytest
import zeep.exceptions
from cryptography.hazmat.primitives.asymmetric import ec

from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID
from serviceplatform.harness import CVR_A, CVR_B, CVR_OTHER, OPERATOR_TOKEN, Platform
from serviceplatform.soap_client import kombit_headers, zeep_client

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
DEBITOR = "/service/OIR/DebitorIndbetalingAfsend/1"
NS = "http://oir.serviceplatformen.dk/xml/schemas/DebitorIndbetaling/1/"


def envelope(cvr: str = CVR_A, body: str | None = None, headers: str | None = None) -> bytes:
    if headers is None:
        headers = (
            '<rh:RequestHeader xmlns:rh="http://kombit.dk/xml/schemas/RequestHeader/1/">'
            f"<rh:TransactionUUID>{uuid.uuid4()}</rh:TransactionUUID></rh:RequestHeader>"
            '<ac:AuthorityContext xmlns:ac="http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/">'
            f"<ac:MunicipalityCVR>{cvr}</ac:MunicipalityCVR></ac:AuthorityContext>"
        )
    if body is None:
        body = (
            f'<SoegFordringTilIndbetalingRequest xmlns="{NS}">'
            "<MaksimaltAntal>3</MaksimaltAntal></SoegFordringTilIndbetalingRequest>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap:Header>{headers}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def post(sp: Platform, data: bytes, token: str | None, path: str = DEBITOR) -> httpx.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{sp.base_url}{path}", content=data, headers=headers, timeout=60)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_valid_token_with_an_agreement_is_forwarded(sp: Platform) -> None:
    answer = post(sp, envelope(), sp.token("fagsystem_1", CVR_A))
    assert answer.status_code == 200, answer.text
    assert len(sp.debitor_a.calls) == 1


def test_missing_expired_and_forged_tokens_get_401(sp: Platform) -> None:
    good = sp.token("fagsystem_1", CVR_A)
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged = {
        "no token": None,
        "garbage": "not.a.token",
        "signed by another key": jwt.encode(claims, other_key, "ES256", headers={"kid": kid}),
        "alg none": _b64({"alg": "none", "typ": "JWT", "kid": kid}) + "." + payload + ".",
        "tampered payload": header + "." + _b64({**claims, "cvr": CVR_B}) + "." + signature,
        "other service": sp.token_without_agreement(
            "fagsystem_1", CVR_A, TILBAGEFOER_ORDRE_ENTITY_ID
        ),
    }
    for what, token in forged.items():
        answer = post(sp, envelope(), token)
        assert answer.status_code == 401, what
        assert b"faultcode" in answer.content
        assert answer.headers["www-authenticate"].startswith("Bearer")
    sp.clock.now += 3600 + 60
    assert post(sp, envelope(), good).status_code == 401
    assert sp.forwarded_calls() == 0


def test_the_token_service_refuses_a_scope_without_agreement(sp: Platform) -> None:
    for system, cvr in [("stranger", CVR_A), ("fagsystem_1", CVR_OTHER)]:
        s = sp.systems[system]
        answer = httpx.post(
            f"{sp.base_url}/sts/token",
            data={
                "grant_type": "client_credentials",
                "client_id": s.client_id,
                "client_secret": s.client_secret,
                "scope": f"entityid:{DEBITOR_INDBETALING_ENTITY_ID},anvenderkontekst:{cvr}",
            },
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_scope"
        assert "serviceaftale" in answer.json()["error_description"]
    # wrong credentials are named as such first: no hint about agreements to a stranger
    wrong = httpx.post(
        f"{sp.base_url}/sts/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sp.systems["stranger"].client_id,
            "client_secret": "forkert",
            "scope": f"entityid:{DEBITOR_INDBETALING_ENTITY_ID},anvenderkontekst:{CVR_A}",
        },
    )
    assert wrong.json()["error"] == "invalid_client"


def test_an_ended_agreement_gets_403_fault(sp: Platform) -> None:
    token = sp.token_without_agreement("stranger", CVR_A)
    answer = post(sp, envelope(), token)
    assert answer.status_code == 403
    assert b"serviceaftale" in answer.content
    assert sp.forwarded_calls() == 0


def test_authority_context_must_match_the_token(sp: Platform) -> None:
    client = zeep_client(f"{sp.base_url}{DEBITOR}?wsdl", sp.token("fagsystem_1", CVR_A))
    with pytest.raises(zeep.exceptions.Fault) as refused:
        client.service.SoegFordringTilIndbetaling(
            MaksimaltAntal=1, _soapheaders=kombit_headers(CVR_B)
        )
    assert "MunicipalityCVR" in refused.value.message
    answer = post(sp, envelope(CVR_B), sp.token("fagsystem_1", CVR_A))
    assert answer.status_code == 403
    assert sp.forwarded_calls() == 0


def test_a_provider_refuses_calls_that_bypass_the_gateway(sp: Platform) -> None:
    answer = post(sp, envelope(), None, "/dummy/a/soap")
    assert answer.status_code == 401
    assert b"Serviceplatformen" in answer.content
    assert sp.debitor_a.calls == []


def test_the_audit_log_keeps_every_call_with_cpr_masked(sp: Platform) -> None:
    token = sp.token("fagsystem_1", CVR_A)
    client = zeep_client(f"{sp.base_url}{DEBITOR}?wsdl", token)
    transaction = uuid.uuid4()
    client.service.SoegFordringTilIndbetaling(
        PartId="urn:oio:cpr-nr:0101011234",
        _soapheaders=kombit_headers(
            CVR_A,
            transaction,
            OnBehalfOfUser="sagsbehandler 0101011234",
            CallersServiceCallIdentifier="call-1",
        ),
    )
    post(sp, envelope(), sp.token_without_agreement("stranger", CVR_A))
    post(sp, envelope(), None)
    audit = f"{sp.base_url}/serviceplatform/api/v1/audit"
    assert httpx.get(audit).status_code == 401
    assert httpx.get(audit, headers={"Authorization": "Bearer guess"}).status_code == 401
    assert (
        httpx.get(
            audit, headers={"Authorization": f"Bearer {sp.token('fagsystem_1', CVR_A)}"}
        ).status_code
        == 401
    )
    rows = httpx.get(audit, headers=OPERATOR).json()
    assert [r["http_status"] for r in rows] == [401, 403, 200]
    unauthenticated, forbidden, ok = rows
    assert ok["it_system_id"] == str(sp.systems["fagsystem_1"].id)
    assert ok["authority_cvr"] == CVR_A
    assert ok["operation"] == "SoegFordringTilIndbetaling"
    assert ok["transaction_uuid"] == str(transaction)
    assert ok["outcome"] == "ACCEPTERET"
    assert ok["entity_id"] == DEBITOR_INDBETALING_ENTITY_ID
    assert ok["on_behalf_of_user"] == "sagsbehandler 010101-XXXX"
    assert ok["callers_service_call_identifier"] == "call-1"
    assert ok["duration_ms"] >= 0
    assert forbidden["outcome"] == "FORBIDDEN"
    assert forbidden["it_system_id"] == str(sp.systems["stranger"].id)
    assert unauthenticated["outcome"] == "UNAUTHENTICATED"
    assert unauthenticated["it_system_id"] is None
    assert "0101011234" not in json.dumps(rows)
    only_a = httpx.get(
        audit, headers=OPERATOR, params={"it_system_id": str(sp.systems["stranger"].id)}
    ).json()
    assert [r["outcome"] for r in only_a] == ["FORBIDDEN"]

"""DebitorIndbetalingAfsend over SOAP, with zeep as the client, through the gateway."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import jwt
import pytest
import zeep.exceptions
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from debitorsystem.conftest import CVR, OTHER_CVR
from debitorsystem.wire_env import (
    GATEWAY_SOAP,
    PROVIDER_SOAP,
    WireEnv,
    code,
    live_server,
    provider_headers,
    wire_env,
)
from debitorsystem.wire_scenarios import WireScenarios
from indbetaling.fordring import LiableParty
from serviceplatform.soap_client import kombit_headers

__all__ = ["live_server", "wire_env"]  # fixtures

NS = "http://oir.serviceplatformen.dk/xml/schemas/DebitorIndbetaling/1/"


class TestSoap(WireScenarios):
    wire_name = "soap"


def _envelope(env: WireEnv, operation: str, transaction: uuid.UUID, **body: object) -> bytes:
    """The envelope zeep would send: to post it ourselves with the headers a test needs."""
    client = env.soap.client()
    message = client.create_message(
        client.service, operation, **body, _soapheaders=kombit_headers(CVR, transaction)
    )
    return bytes(etree.tostring(message))


def _post(
    env: WireEnv, data: bytes, headers: dict[str, str], path: str = GATEWAY_SOAP
) -> httpx.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8", **headers}
    return httpx.post(f"{env.base_url}{path}", content=data, headers=headers, timeout=60)


def _assert_fault(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert b"faultcode>soap:Client" in answer.content
    assert b"Traceback" not in answer.content


def test_a_replay_is_byte_identical_even_after_the_claim_moved(wire_env: WireEnv) -> None:
    claim, key = wire_env.world.claim(), str(uuid.uuid4())
    payment = wire_env.payment(claim, "100.00")
    first = wire_env.soap.raw("ForetagIndbetaling", key, Indbetaling=payment)
    assert code(wire_env.soap.pay(wire_env.payment(claim, "1.00"))) == "ACCEPTERET"
    assert wire_env.soap.raw("ForetagIndbetaling", key, Indbetaling=payment) == first
    assert b"<Restance>900.00</Restance>" in first
    reversal_key = str(uuid.uuid4())
    reversal = {"IndbetalingId": payment["IndbetalingId"], "AarsagKode": "ANDET"}
    reversed_once = wire_env.soap.raw("ForetagIndbetalingNedregulering", reversal_key, **reversal)
    again = wire_env.soap.raw("ForetagIndbetalingNedregulering", reversal_key, **reversal)
    assert again == reversed_once
    assert wire_env.restance(claim) == 99_900


def test_soap_and_rest_render_the_same_stored_answer(wire_env: WireEnv) -> None:
    claim, key = wire_env.world.claim(), str(uuid.uuid4())
    payment = wire_env.payment(claim, "1000.01")
    over_soap = wire_env.soap.pay(payment, key)
    over_rest = wire_env.rest.post("foretag-indbetaling", {"Indbetaling": payment}, key)
    assert over_rest.status_code == 200
    assert over_rest.json() == over_soap
    assert code(over_soap) == "BELOEB_OVERSTIGER_RESTANCE"
    assert over_soap["Restance"] == "1000.00"


def test_search_pages_with_fortsaettelsesnoegle(wire_env: WireEnv) -> None:
    made = {str(wire_env.world.claim(10_000 * (i + 1))) for i in range(5)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        fields = {"PartId": "urn:oio:cpr-nr:0101801234", "MaksimaltAntal": 2}
        if cursor:
            fields["FortsaettelsesNoegle"] = cursor
        answer = wire_env.soap.search(**fields)
        pages += 1
        seen += [c["FordringId"] for c in answer["FordringTilIndbetaling"]]
        cursor = answer.get("FortsaettelsesNoegle")
        if cursor is None:
            break
        with pytest.raises(zeep.exceptions.Fault) as other_query:
            wire_env.soap.search(FordringId=seen[0], FortsaettelsesNoegle=cursor)
        assert "anden søgning" in other_query.value.message
    assert pages == 3
    assert len(seen) == 5
    assert set(seen) == made


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"MaksimaltAntal": 5}, "Angiv mindst én"),
        ({"PartId": "urn:oio:cvr-nr:12345678", "FortsaettelsesNoegle": "x!"}, "ugyldig"),
        ({"PartId": "urn:oio:cpr-nr:01018012345"}, "skemaet"),
        ({"FordringId": "not-a-uuid"}, "skemaet"),
    ],
)
def test_a_malformed_search_is_a_client_fault(
    wire_env: WireEnv, fields: dict[str, object], text: str
) -> None:
    with pytest.raises(zeep.exceptions.Fault) as refused:
        wire_env.soap.search(**fields)
    assert refused.value.code.endswith("Client")
    assert text in refused.value.message


def test_callers_without_a_valid_token_or_agreement_are_refused(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    good = wire_env.token("fagsystem")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid})

    def pay(token: str | None, cvr_in_header: str = CVR) -> httpx.Response:
        data = _envelope(
            wire_env, "ForetagIndbetaling", uuid.uuid4(), Indbetaling=wire_env.payment(claim)
        )
        data = data.replace(f">{CVR}<".encode(), f">{cvr_in_header}<".encode())
        return _post(wire_env, data, {"Authorization": f"Bearer {token}"} if token else {})

    _assert_fault(pay(None), 401)
    _assert_fault(pay(forged), 401)
    _assert_fault(pay(wire_env.token_without_agreement("stranger")), 403)
    _assert_fault(pay(good, cvr_in_header=OTHER_CVR), 403)
    wire_env.clock.now += 3600 + 60
    _assert_fault(pay(good), 401)
    assert wire_env.coverages(claim) == 0


def test_the_provider_refuses_calls_that_bypass_the_gateway(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    data = _envelope(
        wire_env, "ForetagIndbetaling", uuid.uuid4(), Indbetaling=wire_env.payment(claim)
    )
    _assert_fault(_post(wire_env, data, {}, PROVIDER_SOAP), 401)
    key = ec.generate_private_key(ec.SECP256R1())
    caller = jwt.decode(wire_env.caller_assertion("fagsystem"), options={"verify_signature": False})
    forged = {"X-Serviceplatform-Caller": jwt.encode(caller, key, "ES256", {"kid": "platform"})}
    _assert_fault(_post(wire_env, data, forged, PROVIDER_SOAP), 401)
    other_cvr = provider_headers(wire_env) | {
        "X-Serviceplatform-Caller": wire_env.caller_assertion("fagsystem", OTHER_CVR)
    }
    _assert_fault(_post(wire_env, data, other_cvr, PROVIDER_SOAP), 403)
    assert wire_env.coverages(claim) == 0
    accepted = _post(wire_env, data, provider_headers(wire_env), PROVIDER_SOAP)
    assert accepted.status_code == 200
    assert wire_env.coverages(claim) == 1


def _hostile(secret_file: Path, claim: uuid.UUID, org_unit: uuid.UUID) -> dict[str, bytes]:
    headers = (
        '<rh:RequestHeader xmlns:rh="http://kombit.dk/xml/schemas/RequestHeader/1/">'
        f"<rh:TransactionUUID>{uuid.uuid4()}</rh:TransactionUUID></rh:RequestHeader>"
        '<ac:AuthorityContext xmlns:ac="http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/">'
        f"<ac:MunicipalityCVR>{CVR}</ac:MunicipalityCVR></ac:AuthorityContext>"
    )

    def payment(tekst: str, namespace: str = NS) -> str:
        return (
            f'<ForetagIndbetalingRequest xmlns="{namespace}"><Indbetaling>'
            f"<IndbetalingId>{uuid.uuid4()}</IndbetalingId><FordringId>{claim}</FordringId>"
            "<Beloeb>10.00</Beloeb><Betalingsdato>2026-11-26</Betalingsdato>"
            "<IndbetalerPartId>urn:oio:cpr-nr:0101801234</IndbetalerPartId>"
            f"<IndbetalendeOrganisationsenhedId>{org_unit}</IndbetalendeOrganisationsenhedId>"
            f"<Tekst>{tekst}</Tekst></Indbetaling></ForetagIndbetalingRequest>"
        )

    def envelope(body: str, head: str = headers, doctype: str = "") -> bytes:
        return (
            f'<?xml version="1.0"?>{doctype}'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            f"<soap:Header>{head}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
        ).encode()

    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    return {
        "xxe": envelope(
            payment("&xxe;"), doctype=f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
        ),
        "entity bomb": envelope(payment("&lol9;"), doctype=f"<!DOCTYPE x [{laughs}]>"),
        "not xml": b"IndbetalingId=1&Beloeb=10.00",
        "wrong namespace": envelope(payment("x", "urn:wrong")),
        "missing headers": envelope(payment("x"), head=""),
        "truncated": envelope(payment("x"))[:-40],
        "soap 1.2": envelope(payment("x")).replace(
            b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
        ),
        "schema-invalid": envelope(payment("x" * 201)),
    }


@pytest.mark.parametrize("target", ["gateway", "provider"])
def test_hostile_input_changes_nothing(wire_env: WireEnv, tmp_path: Path, target: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPHEMMELIGT-INDHOLD")
    claim = wire_env.world.claim()
    path, headers = (
        (GATEWAY_SOAP, {"Authorization": f"Bearer {wire_env.token('fagsystem')}"})
        if target == "gateway"
        else (PROVIDER_SOAP, provider_headers(wire_env))
    )
    for case, data in _hostile(secret, claim, wire_env.world.org_unit).items():
        answer = _post(wire_env, data, headers, path)
        assert 400 <= answer.status_code < 500, (case, answer.text)
        assert b"<faultcode>soap:" in answer.content, case
        assert b"Traceback" not in answer.content, case
        assert b"TOPHEMMELIGT" not in answer.content, case
        assert b"lollollol" not in answer.content, case
    assert wire_env.coverages(claim) == 0
    assert wire_env.restance(claim) == 100_000


@pytest.mark.parametrize("target", ["gateway", "provider"])
def test_a_50_mb_body_is_refused_before_it_is_read(wire_env: WireEnv, target: str) -> None:
    path, headers = (
        (GATEWAY_SOAP, {"Authorization": f"Bearer {wire_env.token('fagsystem')}"})
        if target == "gateway"
        else (PROVIDER_SOAP, provider_headers(wire_env))
    )
    size, chunk = 50 * 1024 * 1024, b"<" * (1 << 20)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk

    async def send(streamed: bool) -> httpx.Response:
        transport = httpx.ASGITransport(app=wire_env.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            content = chunks() if streamed else chunk * (size // len(chunk))
            return await client.post(path, content=content, headers=headers)

    for streamed in (False, True):
        _assert_fault(anyio.run(send, streamed), 413)


def test_other_liable_parties_roles_and_periods_come_through(wire_env: WireEnv) -> None:
    from datetime import date

    claim = wire_env.world.claim(
        parties=(LiableParty("urn:oio:cvr-nr:12345678", "SELSKAB"),),
        payment_period_from=date(2026, 11, 1),
        payment_period_to=date(2026, 12, 31),
    )
    (seen,) = wire_env.soap.search(FordringId=str(claim))["FordringTilIndbetaling"]
    assert seen["BetalingsperiodeFra"] == "2026-11-01"
    assert seen["BetalingsperiodeTil"] == "2026-12-31"
    assert seen["Haefterkreds"] == {
        "Haefter": [{"PartId": "urn:oio:cvr-nr:12345678", "HaefterRolle": "SELSKAB"}]
    }


def test_a_clients_access_token_is_not_a_caller_assertion(wire_env: WireEnv) -> None:
    # `stranger` has no service agreement: the gateway would refuse it (403)
    claim = wire_env.world.claim()
    data = _envelope(
        wire_env, "ForetagIndbetaling", uuid.uuid4(), Indbetaling=wire_env.payment(claim)
    )
    own_token = {"X-Serviceplatform-Caller": wire_env.token_without_agreement("stranger")}
    _assert_fault(_post(wire_env, data, own_token, PROVIDER_SOAP), 401)

"""Hostile input is answered with a Client fault, is never forwarded and never yields a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from serviceplatform.harness import CVR_A, Platform
from serviceplatform.test_access import DEBITOR, NS, envelope, post

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<SoegFordringTilIndbetalingRequest xmlns="' + NS.encode() + b'"><KravtypeKode>&xxe;'
    b"</KravtypeKode></SoegFordringTilIndbetalingRequest></soap:Body></soap:Envelope>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<x>&lol9;</x></soap:Body></soap:Envelope>"
)
CASES = {
    "xxe": XXE,
    "billion laughs": LAUGHS,
    "not xml": b"PartId=urn:oio:cpr-nr:0101011234&Beloeb=100",
    "empty": b"",
    "truncated": envelope()[:-30],
    "wrong namespace": envelope(body='<SoegFordringTilIndbetalingRequest xmlns="urn:wrong"/>'),
    "missing headers": envelope(headers=""),
    "missing authority": envelope(
        headers='<rh:RequestHeader xmlns:rh="http://kombit.dk/xml/schemas/RequestHeader/1/">'
        "<rh:TransactionUUID>3f2a8c1e-0000-4000-8000-000000000001</rh:TransactionUUID>"
        "</rh:RequestHeader>"
    ),
    "transaction not a uuid": envelope(
        headers='<rh:RequestHeader xmlns:rh="http://kombit.dk/xml/schemas/RequestHeader/1/">'
        "<rh:TransactionUUID>abc</rh:TransactionUUID></rh:RequestHeader>"
        '<ac:AuthorityContext xmlns:ac="http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/">'
        f"<ac:MunicipalityCVR>{CVR_A}</ac:MunicipalityCVR></ac:AuthorityContext>"
    ),
    "schema-invalid amount": envelope(
        body=f'<ForetagIndbetalingRequest xmlns="{NS}"><Indbetaling>'
        "<IndbetalingId>3f2a8c1e-0000-4000-8000-000000000001</IndbetalingId>"
        "<FordringId>3f2a8c1e-0000-4000-8000-000000000002</FordringId><Beloeb>1e3</Beloeb>"
        "<Betalingsdato>2024-01-01</Betalingsdato>"
        "<IndbetalerPartId>urn:oio:cpr-nr:0101011234</IndbetalerPartId>"
        "<IndbetalendeOrganisationsenhedId>3f2a8c1e-0000-4000-8000-000000000003"
        "</IndbetalendeOrganisationsenhedId></Indbetaling></ForetagIndbetalingRequest>"
    ),
    "soap 1.2": envelope().replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_gets_a_client_fault_and_is_not_forwarded(sp: Platform, case: str) -> None:
    answer = post(sp, CASES[case], sp.token("fagsystem_1", CVR_A))
    assert 400 <= answer.status_code < 500, answer.text
    assert b"faultcode>soap:" in answer.content
    assert b"Traceback" not in answer.content
    assert b"root:" not in answer.content  # nothing of /etc/passwd
    assert b"lollollol" not in answer.content
    assert b"0101011234" not in answer.content
    assert sp.forwarded_calls() == 0


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"<" * size
        sent += size


def test_a_50_mb_body_is_refused_before_parsing(sp: Platform) -> None:
    token = sp.token("fagsystem_1", CVR_A)
    transport = httpx.ASGITransport(app=sp.app)

    async def send(content: bytes | Iterator[bytes]) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            headers = {"Authorization": f"Bearer {token}"}
            if isinstance(content, bytes):
                return await client.post(DEBITOR, content=content, headers=headers)

            async def stream() -> Iterator[bytes]:  # type: ignore[misc]
                for chunk in content:
                    yield chunk

            return await client.post(DEBITOR, content=stream(), headers=headers)

    import anyio

    for content in (b"<" * (50 * 1024 * 1024), _chunks(50 * 1024 * 1024)):
        answer = anyio.run(send, content)
        assert answer.status_code == 413
        assert b"faultcode>soap:Client" in answer.content
    assert sp.forwarded_calls() == 0


def test_wsdl_needs_no_token_but_calls_do(sp: Platform) -> None:
    assert httpx.get(f"{sp.base_url}{DEBITOR}?wsdl").status_code == 200
    assert post(sp, envelope(), None).status_code == 401

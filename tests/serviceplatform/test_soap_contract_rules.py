"""SOAP 1.1 as the WSDL says: the SOAPAction must name the body's operation, and a header block
marked mustUnderstand that we do not know gets a MustUnderstand fault; at the gateway and at a
provider alike, and nothing refused is forwarded or handled."""

from __future__ import annotations

import uuid

import httpx
import pytest

from indbetaling.caller import CALLER_HEADER, Caller, sign_caller
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from serviceplatform.harness import CVR_A, Platform
from serviceplatform.test_access import DEBITOR, NS, envelope

PROVIDER = "/dummy/a/soap"
ACTIONS = "http://oir.serviceplatformen.dk/service/debitorindbetalingafsend/1/"
SEARCH_ACTION = ACTIONS + "SoegFordringTilIndbetaling"
PAYMENT_ACTION = ACTIONS + "ForetagIndbetaling"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
RH = "http://kombit.dk/xml/schemas/RequestHeader/1/"
AC = "http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/"
CC = "http://serviceplatformen.dk/xml/schemas/CallContext/1/"


def _payment() -> bytes:
    return envelope(
        body=f'<ForetagIndbetalingRequest xmlns="{NS}"><Indbetaling>'
        f"<IndbetalingId>{uuid.uuid4()}</IndbetalingId><FordringId>{uuid.uuid4()}</FordringId>"
        "<Beloeb>100.00</Beloeb><Betalingsdato>2024-01-01</Betalingsdato>"
        "<IndbetalerPartId>urn:oio:cvr-nr:12345678</IndbetalerPartId>"
        f"<IndbetalendeOrganisationsenhedId>{uuid.uuid4()}</IndbetalendeOrganisationsenhedId>"
        "</Indbetaling></ForetagIndbetalingRequest>"
    )


def _headers(must_understand: str = "1", extra: str = "") -> str:
    mu = f'soap:mustUnderstand="{must_understand}"'
    return (
        f'<rh:RequestHeader xmlns:rh="{RH}" {mu}>'
        f"<rh:TransactionUUID>{uuid.uuid4()}</rh:TransactionUUID></rh:RequestHeader>"
        f'<ac:AuthorityContext xmlns:ac="{AC}" {mu}>'
        f"<ac:MunicipalityCVR>{CVR_A}</ac:MunicipalityCVR></ac:AuthorityContext>"
        f'<cc:CallContext xmlns:cc="{CC}" {mu}><cc:OnBehalfOfUser>x</cc:OnBehalfOfUser>'
        f"</cc:CallContext>{extra}"
    )


def _send(sp: Platform, where: str, data: bytes, action: str | None) -> httpx.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = action
    if where == "gateway":
        path = DEBITOR
        headers["Authorization"] = f"Bearer {sp.token('fagsystem_1', CVR_A)}"
    else:
        path = PROVIDER
        key = sp.platform.signing_key()
        caller = Caller(it_system_id=sp.systems["fagsystem_1"].id, authority_cvr=CVR_A)
        headers[CALLER_HEADER] = sign_caller(
            caller, DEBITOR_INDBETALING_ENTITY_ID, key.private_key, key.kid
        )
    return httpx.post(f"{sp.base_url}{path}", content=data, headers=headers, timeout=60)


WHERE = pytest.mark.parametrize("where", ["gateway", "provider"])


@WHERE
def test_a_payment_with_the_search_action_is_refused_and_nothing_is_done(
    sp: Platform, where: str
) -> None:
    for action in (f'"{SEARCH_ACTION}"', SEARCH_ACTION, '"urn:something-else"'):
        answer = _send(sp, where, _payment(), action)
        assert answer.status_code == 400, answer.text
        assert b"<faultcode>soap:Client</faultcode>" in answer.content
        assert b"SOAPAction" in answer.content
    assert sp.forwarded_calls() == 0


@WHERE
def test_the_operations_own_action_or_none_is_accepted(sp: Platform, where: str) -> None:
    for action in (f'"{PAYMENT_ACTION}"', PAYMENT_ACTION, '""', "", None):
        answer = _send(sp, where, _payment(), action)
        assert answer.status_code == 200, (action, answer.text)
    answer = _send(sp, where, envelope(), f'"{SEARCH_ACTION}"')
    assert answer.status_code == 200, answer.text
    assert len(sp.debitor_a.calls) == 6


@WHERE
def test_an_unknown_mandatory_header_gets_a_must_understand_fault(sp: Platform, where: str) -> None:
    unknown = (
        '<x:Security xmlns:x="urn:example:security" soap:mustUnderstand="1">'
        "<x:Token>t</x:Token></x:Security>"
    )
    answer = _send(sp, where, envelope(headers=_headers(extra=unknown)), f'"{SEARCH_ACTION}"')
    assert answer.status_code == 400, answer.text
    assert b"<faultcode>soap:MustUnderstand</faultcode>" in answer.content
    assert b"urn:example:security" in answer.content
    assert sp.forwarded_calls() == 0


@WHERE
def test_known_mandatory_headers_and_optional_or_foreign_unknown_ones_are_fine(
    sp: Platform, where: str
) -> None:
    optional = '<x:Hint xmlns:x="urn:example" soap:mustUnderstand="0">h</x:Hint>'
    unmarked = '<x:Note xmlns:x="urn:example">n</x:Note>'
    for_another = (
        '<x:Hop xmlns:x="urn:example" soap:mustUnderstand="1" '
        'soap:actor="urn:example:another-node">h</x:Hop>'
    )
    for extra in ("", optional, unmarked, for_another):
        answer = _send(sp, where, envelope(headers=_headers("1", extra)), f'"{SEARCH_ACTION}"')
        assert answer.status_code == 200, (extra, answer.text)
    assert len(sp.debitor_a.calls) == 4

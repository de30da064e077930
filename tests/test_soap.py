"""The shared SOAP machinery: hardened parsing, the contract codec and the Beloeb rules."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from indbetaling.contracts import DEBITOR_INDBETALING_WSDL, TILBAGEFOER_ORDRE_WSDL
from indbetaling.money import InvalidAmount, parse_amount
from indbetaling.soap import SoapContract, SoapFault, parse_xml, read_envelope

NS = "http://oir.serviceplatformen.dk/xml/schemas/DebitorIndbetaling/1/"
CONTRACT = SoapContract(DEBITOR_INDBETALING_WSDL)
REVERSAL_CONTRACT = SoapContract(TILBAGEFOER_ORDRE_WSDL)


def test_contracts_know_their_operations() -> None:
    assert {name: op.request for name, op in CONTRACT.operations.items()} == {
        "SoegFordringTilIndbetaling": f"{{{NS}}}SoegFordringTilIndbetalingRequest",
        "ForetagIndbetaling": f"{{{NS}}}ForetagIndbetalingRequest",
        "ForetagIndbetalingNedregulering": f"{{{NS}}}ForetagIndbetalingNedreguleringRequest",
    }
    reversal = SoapContract(TILBAGEFOER_ORDRE_WSDL)
    assert list(reversal.operations) == ["AfsendTilbagefoerOrdre"]
    assert reversal.operations["AfsendTilbagefoerOrdre"].response == (
        f"{{{NS}}}AfsendTilbagefoerOrdreResponse"
    )


@pytest.mark.parametrize(
    "document",
    [
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b"<!doctype x><x/>",
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'.encode(
            "utf-16"
        ),
        b"<x>",
        b"",
        b"   ",
        b"\xff\xfe\x00garbage",
    ],
)
def test_hostile_or_broken_xml_is_a_client_fault(document: bytes) -> None:
    with pytest.raises(SoapFault) as fault:
        parse_xml(document)
    assert fault.value.code == "Client"
    assert fault.value.http_status == 400
    assert "root:" not in fault.value.text


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(SoapFault) as fault:
        parse_xml(b"<x>" + b"a" * 2000 + b"</x>", limit=1000)
    assert fault.value.http_status == 413


def test_envelope_needs_exactly_one_body_element() -> None:
    soap = "http://schemas.xmlsoap.org/soap/envelope/"
    with pytest.raises(SoapFault, match="exactly one element"):
        read_envelope(
            f'<s:Envelope xmlns:s="{soap}"><s:Body><a/><b/></s:Body></s:Envelope>'.encode()
        )
    with pytest.raises(SoapFault, match="Envelope"):
        read_envelope(b"<Envelope><Body><a/></Body></Envelope>")
    parsed = read_envelope(
        f'<s:Envelope xmlns:s="{soap}"><s:Body><a/></s:Body></s:Envelope>'.encode()
    )
    assert parsed.body.tag == "a"
    assert parsed.headers == ()


def test_responses_encode_and_decode_back() -> None:
    answer = {
        "Forretningskvittering": {
            "ForretningsValideringsKode": "AFVIST",
            "FejlListe": {
                "Fejl": [{"FejlKode": "BELOEB_OVERSTIGER_RESTANCE", "FejlTekst": "For meget"}]
            },
        },
        "Restance": "12.30",
    }
    element = CONTRACT.encode(f"{{{NS}}}ForetagIndbetalingResponse", answer)
    text = etree.tostring(element)
    assert b"\n" not in text
    decoded = CONTRACT.decode(etree.fromstring(text))
    assert decoded["Restance"] == Decimal("12.30")
    assert decoded["Forretningskvittering"]["FejlListe"]["Fejl"][0]["FejlKode"] == (
        "BELOEB_OVERSTIGER_RESTANCE"
    )


def test_keys_in_any_order_and_empty_lists_encode_in_schema_order() -> None:
    """Stored answers have sorted keys; the codec writes the schema's order, no empty items."""
    answer = {
        "Restance": "0.00",
        "DaekningId": "0b1c2d3e-4f50-4617-8899-aabbccddeeff",
        "Forretningskvittering": {"ForretningsValideringsKode": "ACCEPTERET"},
    }
    element = CONTRACT.encode(f"{{{NS}}}ForetagIndbetalingResponse", answer)
    assert [etree.QName(child).localname for child in element] == [
        "Forretningskvittering",
        "DaekningId",
        "Restance",
    ]
    search = CONTRACT.encode(
        f"{{{NS}}}SoegFordringTilIndbetalingResponse",
        {
            "FordringTilIndbetaling": [],
            "Forretningskvittering": {"ForretningsValideringsKode": "ACCEPTERET"},
        },
    )
    assert [etree.QName(child).localname for child in search] == ["Forretningskvittering"]


def test_invalid_responses_are_not_encoded() -> None:
    with pytest.raises(ValueError, match=r"UKENDT_KODE"):
        CONTRACT.encode(
            f"{{{NS}}}AfsendTilbagefoerOrdreResponse",
            {
                "Forretningskvittering": {
                    "ForretningsValideringsKode": "AFVIST",
                    "FejlListe": {"Fejl": [{"FejlKode": "UKENDT_KODE", "FejlTekst": "x"}]},
                }
            },
        )


def _payment_xsd_accepts(text: str) -> bool:
    """Whether a payment with this Beloeb passes the XSD, the way a request on the wire would."""
    request = etree.fromstring(
        f'<ForetagIndbetalingRequest xmlns="{NS}"><Indbetaling>'
        "<IndbetalingId>3f2a8c1e-0000-4000-8000-000000000001</IndbetalingId>"
        "<FordringId>3f2a8c1e-0000-4000-8000-000000000002</FordringId>"
        "<Beloeb></Beloeb><Betalingsdato>2024-01-01</Betalingsdato>"
        "<IndbetalerPartId>urn:oio:cvr-nr:12345678</IndbetalerPartId>"
        "<IndbetalendeOrganisationsenhedId>3f2a8c1e-0000-4000-8000-000000000003"
        "</IndbetalendeOrganisationsenhedId></Indbetaling></ForetagIndbetalingRequest>"
    )
    return _accepts(CONTRACT, request, f"{{{NS}}}Indbetaling/{{{NS}}}Beloeb", text)


def _order_xsd_accepts(text: str) -> bool:
    """Whether a reversal order with this Beloeb passes the XSD (the strict amount type)."""
    request = etree.fromstring(
        f'<AfsendTilbagefoerOrdreRequest xmlns="{NS}"><TilbagefoerselsOrdre>'
        "<TilbagefoerselsOrdreId>3f2a8c1e-0000-4000-8000-000000000001</TilbagefoerselsOrdreId>"
        "<IndbetalingId>3f2a8c1e-0000-4000-8000-000000000002</IndbetalingId>"
        "<FordringId>3f2a8c1e-0000-4000-8000-000000000003</FordringId>"
        "<MyndighedCVR>12345678</MyndighedCVR><Beloeb></Beloeb>"
        "<Overdaekning>1.00</Overdaekning><AarsagKode>NEDREGULERING</AarsagKode>"
        "<Dannelsestidspunkt>2024-01-01T10:00:00Z</Dannelsestidspunkt>"
        "</TilbagefoerselsOrdre></AfsendTilbagefoerOrdreRequest>"
    )
    return _accepts(
        REVERSAL_CONTRACT, request, f"{{{NS}}}TilbagefoerselsOrdre/{{{NS}}}Beloeb", text
    )


def _accepts(contract: SoapContract, request: etree._Element, path: str, text: str) -> bool:
    beloeb = request.find(path)
    assert beloeb is not None
    beloeb.text = text
    try:
        contract.decode(request)
    except SoapFault:
        return False
    return True


def _is_xs_decimal(text: str) -> bool:
    """The lexical space of xs:decimal (after its whitespace collapse): no exponent, no NaN."""
    return re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text.strip(" \t\n\r")) is not None


def _money_accepts(text: str) -> bool:
    try:
        parse_amount(text)
    except InvalidAmount:
        return False
    return True


AMOUNT_TEXT = st.one_of(
    st.from_regex(r"\A[ ]?[+-]?[0-9]{0,16}(\.[0-9]{0,4})?[ ]?\Z"),
    st.sampled_from(["1e3", "NaN", "INF", "-0.01", "0.001", "", ".", "0", "0.00", "-0"]),
    st.decimals(min_value=-(10**14), max_value=10**14, places=3).map(str),
)


@given(AMOUNT_TEXT)
def test_strict_beloeb_in_the_xsd_and_money_parse_amount_agree(text: str) -> None:
    assert _order_xsd_accepts(text) == _money_accepts(text)


@given(AMOUNT_TEXT)
def test_a_payments_beloeb_reaches_the_service_whenever_it_is_a_decimal(text: str) -> None:
    # the service answers AFVIST BELOEB_UGYLDIGT for the decimals money.parse_amount refuses
    assert _payment_xsd_accepts(text) == _is_xs_decimal(text)
    if _money_accepts(text):
        assert _payment_xsd_accepts(text)


@pytest.mark.parametrize("text", ["1e3", "NaN", "-0.01", "0.001", "", "0", "10000000000000"])
def test_beloeb_refuses_what_the_contract_refuses(text: str) -> None:
    assert not _order_xsd_accepts(text)
    assert not _money_accepts(text)


@pytest.mark.parametrize("text", ["1e3", "NaN", "INF", "", "."])
def test_a_payments_beloeb_must_be_a_decimal(text: str) -> None:
    assert not _payment_xsd_accepts(text)


@pytest.mark.parametrize("text", ["-0.01", "0.001", "0", "10000000000000"])
def test_a_payments_wrong_decimal_is_left_to_the_service(text: str) -> None:
    assert _payment_xsd_accepts(text)
    assert not _money_accepts(text)


@pytest.mark.parametrize("text", ["0.01", "1.000", "9999999999999.99", "100"])
def test_beloeb_accepts_what_the_contract_accepts(text: str) -> None:
    assert _order_xsd_accepts(text)
    assert _payment_xsd_accepts(text)
    assert _money_accepts(text)

"""zeep against the gateway: WSDL served as used, routing by authority, reverse routing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
import zeep.exceptions
from lxml import etree

from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID
from serviceplatform.harness import CVR_A, CVR_B, Platform
from serviceplatform.soap_client import kombit_headers, zeep_client

DEBITOR = "/service/OIR/DebitorIndbetalingAfsend/1"
TILBAGEFOER = "/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1"


def test_wsdl_is_served_without_token_with_the_address_the_client_used(sp: Platform) -> None:
    for host in (sp.base_url, sp.base_url.replace("127.0.0.1", "localhost")):
        answer = httpx.get(f"{host}{DEBITOR}?wsdl")
        assert answer.status_code == 200
        wsdl = etree.fromstring(answer.content)
        ns = {"soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
        assert wsdl.xpath("//soap:address/@location", namespaces=ns) == [f"{host}{DEBITOR}"]
        client = zeep_client(f"{host}{DEBITOR}?wsdl")
        assert set(client.service._operations) == {
            "SoegFordringTilIndbetaling",
            "ForetagIndbetaling",
            "ForetagIndbetalingNedregulering",
        }
        assert client.service._binding_options["address"] == f"{host}{DEBITOR}"


def test_only_the_imported_schemas_are_served(sp: Platform) -> None:
    ok = httpx.get(f"{sp.base_url}{DEBITOR}?xsd=DebitorIndbetaling.xsd")
    assert ok.status_code == 200
    assert b"ForetagIndbetalingRequest" in ok.content
    for name in ("../settings.py", "/etc/passwd", "beskedfordeler/Beskedkuvert.xsd"):
        assert httpx.get(f"{sp.base_url}{DEBITOR}", params={"xsd": name}).status_code == 404


def test_calls_are_routed_by_authority_to_that_authoritys_debitorsystem(sp: Platform) -> None:
    caller = sp.systems["fagsystem_1"]
    for cvr, instance in ((CVR_A, sp.debitor_a), (CVR_B, sp.debitor_b)):
        client = zeep_client(f"{sp.base_url}{DEBITOR}?wsdl", sp.token("fagsystem_1", cvr))
        transaction = uuid.uuid4()
        answer = client.service.SoegFordringTilIndbetaling(
            PartId="urn:oio:cpr-nr:0101011234",
            MaksimaltAntal=5,
            _soapheaders=kombit_headers(cvr, transaction),
        )
        assert answer.Forretningskvittering.ForretningsValideringsKode == "ACCEPTERET"
        (claim,) = answer.FordringTilIndbetaling
        assert claim.DebitorkontoTypeKode == instance.name
        assert claim.MyndighedCVR == cvr
        assert claim.DebitorkontoId == str(caller.id)  # the provider knows who called
        assert claim.KravtypeKode == str(transaction)
        assert claim.Restance == Decimal("100.00")
        (operation, request, call), *_ = instance.calls
        assert operation == "SoegFordringTilIndbetaling"
        assert request == {"PartId": "urn:oio:cpr-nr:0101011234", "MaksimaltAntal": 5}
        assert call.caller.authority_cvr == cvr
    assert len(sp.debitor_a.calls) == len(sp.debitor_b.calls) == 1


def test_business_answers_come_back_unchanged(sp: Platform) -> None:
    client = zeep_client(f"{sp.base_url}{DEBITOR}?wsdl", sp.token("fagsystem_2", CVR_A))
    answer = client.service.ForetagIndbetaling(
        Indbetaling={
            "IndbetalingId": str(uuid.uuid4()),
            "FordringId": str(uuid.uuid4()),
            "Beloeb": Decimal("250.50"),
            "Betalingsdato": "2024-03-01",
            "IndbetalerPartId": "urn:oio:cvr-nr:12345678",
            "IndbetalendeOrganisationsenhedId": str(uuid.uuid4()),
        },
        _soapheaders=kombit_headers(CVR_A),
    )
    assert answer.Forretningskvittering.ForretningsValideringsKode == "AFVIST"
    assert answer.Forretningskvittering.FejlListe.Fejl[0].FejlKode == "BELOEB_OVERSTIGER_RESTANCE"
    assert answer.Restance == Decimal("249.50")
    assert sp.debitor_a.calls[0][1]["Indbetaling"]["Beloeb"] == Decimal("250.50")


def _reversal_order() -> dict[str, object]:
    return {
        "TilbagefoerselsOrdreId": str(uuid.uuid4()),
        "IndbetalingId": str(uuid.uuid4()),
        "FordringId": str(uuid.uuid4()),
        "MyndighedCVR": CVR_A,
        "Beloeb": Decimal("100.00"),
        "Overdaekning": Decimal("40.00"),
        "AarsagKode": "NEDREGULERING",
        "Dannelsestidspunkt": "2024-03-01T10:00:00Z",
    }


def _reversal_service(sp: Platform, cvr: str, fagsystem: uuid.UUID) -> object:
    token = sp.token("debitor_a" if cvr == CVR_A else "debitor_b", cvr, TILBAGEFOER_ORDRE_ENTITY_ID)
    client = zeep_client(f"{sp.base_url}{TILBAGEFOER}?wsdl", token)
    return client.create_service(
        "{http://oir.serviceplatformen.dk/service/indbetalingtilbagefoerordreafsend/1/}"
        "IndbetalingTilbagefoerOrdreAfsendBinding",
        f"{sp.base_url}{TILBAGEFOER}/{fagsystem}",
    )


def test_reversal_orders_reach_the_fagsystem_named_in_the_path(sp: Platform) -> None:
    service = _reversal_service(sp, CVR_A, sp.systems["fagsystem_1"].id)
    order = _reversal_order()
    answer = service.AfsendTilbagefoerOrdre(  # type: ignore[attr-defined]
        TilbagefoerselsOrdre=order, _soapheaders=kombit_headers(CVR_A)
    )
    # one child in the response: zeep hands back the Forretningskvittering itself
    assert answer.ForretningsValideringsKode == "MODTAGET"
    (received,) = sp.fagsystem_1.calls
    assert received["request"]["TilbagefoerselsOrdre"]["Overdaekning"] == Decimal("40.00")
    assert received["caller"].it_system_id == sp.systems["debitor_a"].id
    assert sp.fagsystem_2.calls == []


def test_reversal_orders_need_the_fagsystems_agreement_with_that_authority(sp: Platform) -> None:
    # fagsystem_2 provides the reversal service for CVR_B only
    service = _reversal_service(sp, CVR_A, sp.systems["fagsystem_2"].id)
    with pytest.raises(zeep.exceptions.Fault) as refused:
        service.AfsendTilbagefoerOrdre(  # type: ignore[attr-defined]
            TilbagefoerselsOrdre=_reversal_order(), _soapheaders=kombit_headers(CVR_A)
        )
    assert refused.value.code.endswith("Client")
    assert "udbyder" in refused.value.message
    assert sp.forwarded_calls() == 0


def test_rest_mirror_is_routed_by_the_tokens_authority(sp: Platform) -> None:
    for cvr, name in ((CVR_A, "a"), (CVR_B, "b")):
        token = sp.token("fagsystem_1", cvr)
        answer = httpx.post(
            f"{sp.base_url}/api/v1/debitorindbetaling/indbetalinger?x=1",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"},
            json={"Beloeb": "1.00"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["instance"] == name
        assert body["path"] == "indbetalinger"
        assert body["query"] == "x=1"
        assert body["cvr"] == cvr
        assert body["it_system"] == str(sp.systems["fagsystem_1"].id)
        assert body["idempotency_key"] == "k-1"
        assert body["authorization"] is None  # the caller's token stays at the gateway
    token = sp.token("fagsystem_1", CVR_A)
    mismatch = httpx.get(
        f"{sp.base_url}/api/v1/debitorindbetaling/fordringer",
        headers={"Authorization": f"Bearer {token}", "X-Myndighed-CVR": CVR_B},
    )
    assert mismatch.status_code == 403
    assert httpx.get(f"{sp.base_url}/api/v1/debitorindbetaling/fordringer").status_code == 401
    assert len(sp.debitor_a.rest_calls) + len(sp.debitor_b.rest_calls) == 2

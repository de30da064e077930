"""The fagsystem's receiver of reversal orders, called with zeep through the real gateway."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zeep.exceptions
from sqlalchemy import func, select

from fagsystem.harness import ReversalWorld, reversal_world
from indbetaling.db import read
from indbetaling.fagsystem import store
from indbetaling.fagsystem.reversal_orders import SERVICE_PATH, pending_orders
from serviceplatform.harness import live_server
from serviceplatform.soap_client import kombit_headers, zeep_client

__all__ = ["live_server", "reversal_world"]

CVR = "29189846"
OTHER_CVR = "55133018"
GATEWAY_PATH = "/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1"
BINDING = (
    "{http://oir.serviceplatformen.dk/service/indbetalingtilbagefoerordreafsend/1/}"
    "IndbetalingTilbagefoerOrdreAfsendBinding"
)


def order(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "TilbagefoerselsOrdreId": str(uuid.uuid4()),
        "IndbetalingId": str(uuid.uuid4()),
        "FordringId": str(uuid.uuid4()),
        "MyndighedCVR": CVR,
        "Beloeb": Decimal("600.00"),
        "Overdaekning": Decimal("100.25"),
        "AarsagKode": "NEDREGULERING",
        "Tekst": "Takst nedsat",
        "Dannelsestidspunkt": "2026-11-26T10:00:00Z",
    }
    fields.update(changes)
    return fields


@pytest.fixture
def fagsystem(reversal_world: ReversalWorld) -> uuid.UUID:
    fagsystem_id = uuid.uuid4()
    reversal_world.add_debitorsystem(CVR)
    reversal_world.add_fagsystem(fagsystem_id, CVR)
    return fagsystem_id


def service(world: ReversalWorld, fagsystem_id: uuid.UUID, cvr: str = CVR) -> Any:
    client = zeep_client(f"{world.base_url}{GATEWAY_PATH}?wsdl", world.token(cvr))
    return client.create_service(BINDING, f"{world.base_url}{GATEWAY_PATH}/{fagsystem_id}")


def send(
    svc: Any, fields: dict[str, Any], cvr: str = CVR, transaction: uuid.UUID | None = None
) -> Any:
    return svc.AfsendTilbagefoerOrdre(
        TilbagefoerselsOrdre=fields, _soapheaders=kombit_headers(cvr, transaction)
    )


def stored_count(world: ReversalWorld) -> int:
    with read(world.fagsystem_engine) as conn:
        return int(
            conn.execute(select(func.count()).select_from(store.reversal_orders)).scalar_one()
        )


def test_an_order_is_kept_as_a_pending_reversal(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    fields = order()
    transaction = uuid.uuid4()
    answer = send(service(reversal_world, fagsystem), fields, transaction=transaction)
    assert answer.ForretningsValideringsKode == "MODTAGET"
    (kept,) = pending_orders(reversal_world.fagsystem_engine, fagsystem)
    assert kept.order_id == uuid.UUID(fields["TilbagefoerselsOrdreId"])
    assert kept.payment_id == uuid.UUID(fields["IndbetalingId"])
    assert kept.claim_id == uuid.UUID(fields["FordringId"])
    assert (kept.amount, kept.overcoverage) == (60_000, 10_025)
    assert (kept.reason, kept.text, kept.authority_cvr) == ("NEDREGULERING", "Takst nedsat", CVR)
    assert kept.created_at.isoformat() == "2026-11-26T10:00:00+00:00"
    assert kept.sender_id == reversal_world.debitorsystem_id
    assert kept.transaction_uuid == transaction
    assert kept.fagsystem_id == fagsystem
    assert reversal_world.receivers[fagsystem].pending_orders() == [kept]
    assert pending_orders(reversal_world.fagsystem_engine, uuid.uuid4()) == []


def test_the_same_order_again_is_received_again_and_stored_once(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    svc = service(reversal_world, fagsystem)
    fields = order(AarsagKode="ANNULLERING", Tekst=None)
    transaction = uuid.uuid4()
    asked: list[uuid.UUID] = []

    def knows(payment: uuid.UUID) -> bool:
        asked.append(payment)
        return True

    reversal_world.knows[fagsystem] = knows
    for key in (transaction, transaction, uuid.uuid4()):
        assert send(svc, fields, transaction=key).ForretningsValideringsKode == "MODTAGET"
    (kept,) = pending_orders(reversal_world.fagsystem_engine)
    assert kept.transaction_uuid == transaction  # the first one's, nothing new stored
    assert kept.text is None
    assert asked == [uuid.UUID(fields["IndbetalingId"])]  # a repeat needs no lookup
    assert stored_count(reversal_world) == 1


def test_an_order_id_again_with_other_content_is_refused_and_changes_nothing(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    svc = service(reversal_world, fagsystem)
    fields = order()
    send(svc, fields)
    answer = send(svc, {**fields, "Beloeb": Decimal("600.01")})
    assert answer.ForretningsValideringsKode == "AFVIST"
    assert answer.FejlListe.Fejl[0].FejlKode == "TRANSAKTION_KONFLIKT"
    (kept,) = pending_orders(reversal_world.fagsystem_engine)
    assert kept.amount == 60_000


def test_an_order_for_an_unknown_payment_is_refused_and_not_kept(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    known = uuid.uuid4()
    reversal_world.knows[fagsystem] = lambda payment: payment == known
    svc = service(reversal_world, fagsystem)
    answer = send(svc, order())
    assert answer.ForretningsValideringsKode == "AFVIST"
    (fejl,) = answer.FejlListe.Fejl
    assert fejl.FejlKode == "INDBETALING_UKENDT"
    assert "indbetalingen" in fejl.FejlTekst
    assert stored_count(reversal_world) == 0
    assert send(svc, order(IndbetalingId=str(known))).ForretningsValideringsKode == "MODTAGET"
    assert stored_count(reversal_world) == 1


def test_an_order_for_another_authority_than_the_calls_is_a_client_fault(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    with pytest.raises(zeep.exceptions.Fault) as refused:
        send(service(reversal_world, fagsystem), order(MyndighedCVR=OTHER_CVR))
    assert refused.value.code.endswith("Client")
    assert "MyndighedCVR" in refused.value.message
    assert stored_count(reversal_world) == 0


def test_the_receiver_takes_only_calls_through_the_gateway(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    direct = zeep_client(f"{reversal_world.endpoint_url(fagsystem)}?wsdl")
    svc = direct.create_service(BINDING, reversal_world.endpoint_url(fagsystem))
    with pytest.raises(zeep.exceptions.Fault) as refused:
        send(svc, order())
    assert "Serviceplatformen" in refused.value.message
    assert stored_count(reversal_world) == 0


def test_hostile_and_schema_invalid_orders_change_nothing(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    url = f"{reversal_world.base_url}{GATEWAY_PATH}/{fagsystem}"
    headers = {
        "Authorization": f"Bearer {reversal_world.token(CVR)}",
        "Content-Type": "text/xml; charset=utf-8",
    }
    bad_amount = _envelope(order(Beloeb="-1.00"))
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    for body in (bad_amount, xxe, b"not xml"):
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert b"faultcode" in answer.content
        assert b"Traceback" not in answer.content
    assert stored_count(reversal_world) == 0


def _envelope(fields: dict[str, Any]) -> bytes:
    parts = "".join(f"<di:{k}>{v}</di:{k}>" for k, v in fields.items() if v is not None)
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:di="http://oir.serviceplatformen.dk/xml/schemas/DebitorIndbetaling/1/">'
        "<soap:Header>"
        '<rh:RequestHeader xmlns:rh="http://kombit.dk/xml/schemas/RequestHeader/1/">'
        f"<rh:TransactionUUID>{uuid.uuid4()}</rh:TransactionUUID></rh:RequestHeader>"
        '<ac:AuthorityContext xmlns:ac="http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/">'
        f"<ac:MunicipalityCVR>{CVR}</ac:MunicipalityCVR></ac:AuthorityContext>"
        "</soap:Header><soap:Body><di:AfsendTilbagefoerOrdreRequest><di:TilbagefoerselsOrdre>"
        f"{parts}</di:TilbagefoerselsOrdre></di:AfsendTilbagefoerOrdreRequest></soap:Body>"
        "</soap:Envelope>"
    ).encode()


def test_the_wsdl_is_served_at_the_fagsystems_endpoint(
    reversal_world: ReversalWorld, fagsystem: uuid.UUID
) -> None:
    endpoint = reversal_world.endpoint_url(fagsystem)
    assert endpoint.endswith(f"/fagsystem/{fagsystem}{SERVICE_PATH}")
    client = zeep_client(f"{endpoint}?wsdl")
    assert set(client.service._operations) == {"AfsendTilbagefoerOrdre"}

"""The fagsystem's receiver of reversal orders, called with zeep through the real gateway."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zeep.exceptions
from sqlalchemy import func, select

from fagsystem.fakes import FakeDebitorsystem
from fagsystem.harness import ReversalWorld, reversal_world
from fagsystem.payments_env import PaymentsEnv, run, sweep_until
from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.db import read
from indbetaling.fagsystem import store
from indbetaling.fagsystem.domain import (
    Payment,
    ReversalPolicy,
    ReversalSource,
    ReversalState,
    Split,
    StepState,
)
from indbetaling.fagsystem.reversal_orders import SERVICE_PATH, pending_orders
from indbetaling.fagsystem.sender import PaymentSender
from indbetaling.fagsystem.service import ReversalRequest, Work
from indbetaling.money import format_ore
from indbetaling.serviceplatform.domain import Role
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


def via_gateway(world: ReversalWorld, fagsystem_id: uuid.UUID, cvr: str = CVR) -> Any:
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
    answer = send(via_gateway(reversal_world, fagsystem), fields, transaction=transaction)
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
    svc = via_gateway(reversal_world, fagsystem)
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
    svc = via_gateway(reversal_world, fagsystem)
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
    svc = via_gateway(reversal_world, fagsystem)
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
        send(via_gateway(reversal_world, fagsystem), order(MyndighedCVR=OTHER_CVR))
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


# --- with the fagsystem's own payments behind the receiver -----------------------------------


@pytest.fixture
def payments(reversal_world: ReversalWorld) -> PaymentsEnv:
    """A hosted fagsystem whose receiver hands orders to its payments service."""
    env = PaymentsEnv(reversal_world.fagsystem_engine, FakeDebitorsystem())
    reversal_world.add_debitorsystem(CVR)
    reversal_world.add_fagsystem(env.fagsystem_id, CVR, intake=env.service())
    return env


def order_for(env: PaymentsEnv, payment: Payment) -> dict[str, Any]:
    return order(
        TilbagefoerselsOrdreId=str(env.fake.order(payment.id)),
        IndbetalingId=str(payment.id),
        FordringId=str(payment.claim_id),
        Beloeb=Decimal(format_ore(payment.amount)),
    )


def test_an_order_for_a_payment_it_made_becomes_a_reversal_from_the_order(
    reversal_world: ReversalWorld, payments: PaymentsEnv
) -> None:
    service = payments.service()
    paid = run(
        service.pay(CVR, str(uuid.uuid4()), payments.request(payments.fake.claim(10**5), 60_000))
    )
    fields = order_for(payments, paid.payment)
    svc = via_gateway(reversal_world, payments.fagsystem_id)
    for _ in range(2):  # a repeat is received again and changes nothing
        assert send(svc, fields).ForretningsValideringsKode == "MODTAGET"
    (reversal,) = service.reversals(CVR).items
    assert (reversal.source, reversal.state) == (ReversalSource.ORDRE, ReversalState.AFVENTER)
    assert reversal.order_id == uuid.UUID(fields["TilbagefoerselsOrdreId"])
    assert (reversal.payment_id, reversal.amount, reversal.overcoverage) == (
        paid.payment.id,
        60_000,
        10_025,
    )
    (pending,) = pending_orders(reversal_world.fagsystem_engine, payments.fagsystem_id)
    assert pending.order_id == reversal.order_id
    done = run(service.execute(CVR, reversal.id, Split(0, 60_000)))
    assert done.state is ReversalState.UDFOERT
    assert pending_orders(reversal_world.fagsystem_engine) == []  # the order is carried out


def test_an_order_for_a_payment_it_does_not_know_is_refused_through_the_gateway(
    reversal_world: ReversalWorld, payments: PaymentsEnv
) -> None:
    service = payments.service()
    paid = run(
        service.pay(CVR, str(uuid.uuid4()), payments.request(payments.fake.claim(10**5), 100))
    )
    svc = via_gateway(reversal_world, payments.fagsystem_id)
    for unknown in (uuid.uuid4(), paid.payment.id):
        fields = order(IndbetalingId=str(unknown), MyndighedCVR=CVR)
        if unknown == paid.payment.id:  # its own payment, but in another authority
            reversal_world.add_debitorsystem(OTHER_CVR)
            reversal_world.platform.add_agreement(
                payments.fagsystem_id, OTHER_CVR, TILBAGEFOER_ORDRE_ENTITY_ID, Role.PROVIDER
            )
            svc = via_gateway(reversal_world, payments.fagsystem_id, OTHER_CVR)
            fields["MyndighedCVR"] = OTHER_CVR
            answer = send(svc, fields, cvr=OTHER_CVR)
        else:
            answer = send(svc, fields)
        assert answer.ForretningsValideringsKode == "AFVIST"
        (fejl,) = answer.FejlListe.Fejl
        assert fejl.FejlKode == "INDBETALING_UKENDT"
    assert stored_count(reversal_world) == 0
    assert service.reversals(CVR).items == []


def test_the_automatic_policy_starts_on_the_order_it_received(
    reversal_world: ReversalWorld,
) -> None:
    env = PaymentsEnv(reversal_world.fagsystem_engine, FakeDebitorsystem())
    automatic = env.service(ReversalPolicy.AUTOMATISK)
    reversal_world.add_debitorsystem(CVR)
    reversal_world.add_fagsystem(env.fagsystem_id, CVR, intake=automatic)
    paid = run(automatic.pay(CVR, str(uuid.uuid4()), env.request(env.fake.claim(10**5), 60_000)))
    env.fake.write_down(paid.payment.claim_id, 50_000)
    send(via_gateway(reversal_world, env.fagsystem_id), order_for(env, paid.payment))
    (reversal,) = automatic.reversals(CVR).items
    assert reversal.step is StepState.VENTER  # executed at once: only the send is left
    assert [w for w, _ in automatic.due()] == [Work.REVERSAL]
    run(
        sweep_until(
            PaymentSender(automatic),
            lambda: automatic.reversal(CVR, reversal.id).state.value == "UDFOERT",
        )
    )
    done = automatic.reversal(CVR, reversal.id)
    assert done.execution is not None and done.execution.split == Split(50_000, 10_000)


def test_an_order_for_a_payment_already_reversed_is_received_and_carried_out(
    reversal_world: ReversalWorld, payments: PaymentsEnv
) -> None:
    """The case worker reversed the payment before the order came: the order joins that
    reversal and is carried out with it; no second reversal, nothing paid twice."""
    service = payments.service()
    paid = run(
        service.pay(CVR, str(uuid.uuid4()), payments.request(payments.fake.claim(10**5), 500))
    )
    mine, _ = service.create_reversal(
        CVR, ReversalRequest(paid.payment.id, ReversalSource.SAGSBEHANDLER)
    )
    run(service.execute(CVR, mine.id, Split(0, 500)))
    answer = send(
        via_gateway(reversal_world, payments.fagsystem_id), order_for(payments, paid.payment)
    )
    assert answer.ForretningsValideringsKode == "MODTAGET"
    assert [r.id for r in service.reversals(CVR).items] == [mine.id]
    assert pending_orders(reversal_world.fagsystem_engine) == []
    assert stored_count(reversal_world) == 1
    assert payments.count("paybacks") == 1

"""The fagsystem's receiver of reversal orders: IndbetalingTilbagefoerOrdreAfsend (IF04, R7/R9).

A debitorsystem sends `AfsendTilbagefoerOrdre` through the Serviceplatform gateway, which
forwards it to the endpoint the fagsystem registered. The receiver:

- hands an order for a payment this fagsystem made to its intake (the payments service makes it
  a `Tilbagefoersel` with Kilde `ORDRE`, executed at once under the `AUTOMATISK` policy), keeps
  the order, in the same transaction, and answers `MODTAGET`;
- answers `MODTAGET` again to a repeat of an order it already has and changes nothing (the
  TilbagefoerselsOrdreId is the key: a debitorsystem retries until it gets an answer);
- answers `AFVIST` `INDBETALING_UKENDT` when the fagsystem does not know the payment (nothing
  is kept), and `AFVIST` `TRANSAKTION_KONFLIKT` when an order id it has comes again with other
  content;
- refuses with a `Client` fault an order whose `MyndighedCVR` is not the call's authority.

Mounting, one router per hosted fagsystem (its registered endpoint is
`<base>/fagsystem/<id>/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1`):

    verifier = CallerVerifier(platform_jwks, TILBAGEFOER_ORDRE_ENTITY_ID)
    app.include_router(reversal_order_router(engine, fagsystem_id, verifier, intake=payments),
                       prefix=f"/fagsystem/{fagsystem_id}")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from fastapi import APIRouter
from sqlalchemy import Connection, Engine

from indbetaling.caller import CallerVerifier
from indbetaling.contracts import TILBAGEFOER_ORDRE_WSDL
from indbetaling.db import read, write
from indbetaling.fagsystem import store
from indbetaling.fagsystem.store import PENDING, ReceivedReversalOrder
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.money import InvalidAmount, amount_from_decimal
from indbetaling.soap import SoapCall, SoapService, client_fault, load_contract

SERVICE_PATH = "/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1"
OPERATION = "AfsendTilbagefoerOrdre"
Answer = dict[str, Any]


class OrderIntake(Protocol):
    """What the fagsystem does with a new order (`service.PaymentService` for real)."""

    def take(self, conn: Connection, order: ReceivedReversalOrder, now: datetime) -> bool:
        """In the receiver's open transaction: act on an order for a payment this fagsystem
        made; False, with nothing written, when it does not know the payment."""
        ...

    def taken(self, order: ReceivedReversalOrder) -> None:
        """After the transaction that kept the order committed."""
        ...


def _received() -> Answer:
    return {"Forretningskvittering": {"ForretningsValideringsKode": "MODTAGET"}}


def _rejected(code: str, text: str) -> Answer:
    return {
        "Forretningskvittering": {
            "ForretningsValideringsKode": "AFVIST",
            "FejlListe": {"Fejl": [{"FejlKode": code, "FejlTekst": text}]},
        }
    }


class _UnknownPayment(Exception):
    """The intake does not know the order's payment."""


class ReversalOrderReceiver:
    """One hosted fagsystem's receiver, on the fagsystem's database."""

    def __init__(
        self,
        engine: Engine,
        fagsystem_id: UUID,
        *,
        intake: OrderIntake,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.fagsystem_id = fagsystem_id
        self.intake = intake
        self.clock = clock

    def receive(self, request: dict[str, Any], call: SoapCall) -> Answer:
        """The `AfsendTilbagefoerOrdre` handler (runs in a worker thread)."""
        order = self._read(request, call)
        with read(self.engine) as conn:
            earlier = store.find_reversal_order(conn, order.order_id)
        if earlier is not None:
            return self._repeat(earlier, order)
        try:
            with write(self.engine) as conn:
                now = self.clock()
                if store.insert_reversal_order(conn, order, now):
                    if not self.intake.take(conn, order, now):
                        raise _UnknownPayment  # rolls the kept order back
                else:  # a concurrent repeat came first
                    earlier = store.find_reversal_order(conn, order.order_id)
        except _UnknownPayment:
            return _rejected("INDBETALING_UKENDT", "Fagsystemet kender ikke indbetalingen i ordren")
        if earlier is not None:
            return self._repeat(earlier, order)
        self.intake.taken(order)
        return _received()

    def _repeat(self, earlier: ReceivedReversalOrder, order: ReceivedReversalOrder) -> Answer:
        if earlier.same_order(order):
            return _received()
        return _rejected(
            "TRANSAKTION_KONFLIKT",
            "TilbagefoerselsOrdreId er allerede modtaget med et andet indhold",
        )

    def _read(self, request: dict[str, Any], call: SoapCall) -> ReceivedReversalOrder:
        """The schema-valid request as an order, or a Client fault saying what is wrong."""
        o = request["TilbagefoerselsOrdre"]
        try:
            order = ReceivedReversalOrder(
                order_id=parse_uuid(str(o["TilbagefoerselsOrdreId"]), "TilbagefoerselsOrdreId"),
                fagsystem_id=self.fagsystem_id,
                payment_id=parse_uuid(str(o["IndbetalingId"]), "IndbetalingId"),
                claim_id=parse_uuid(str(o["FordringId"]), "FordringId"),
                authority_cvr=str(o["MyndighedCVR"]),
                amount=amount_from_decimal(o["Beloeb"]),
                overcoverage=amount_from_decimal(o["Overdaekning"]),
                reason=str(o["AarsagKode"]),
                text=o.get("Tekst"),
                created_at=_timestamp(str(o["Dannelsestidspunkt"])),
                sender_id=call.caller.it_system_id,
                transaction_uuid=call.headers.transaction_uuid,
                state=PENDING,
            )
        except (InvalidId, InvalidAmount, ValueError) as exc:
            raise client_fault(f"Tilbageførselsordren er ugyldig / invalid order: {exc}") from None
        if order.authority_cvr != call.authority_cvr:
            raise client_fault(
                "MyndighedCVR i ordren er ikke kaldets myndighed (AuthorityContext) / "
                "the order's MyndighedCVR is not the authority of the call",
                403,
            )
        return order

    def pending_orders(self) -> list[ReceivedReversalOrder]:
        return pending_orders(self.engine, self.fagsystem_id)

    def router(self, verifier: CallerVerifier) -> APIRouter:
        """`GET <prefix>/service/…/1?wsdl` and `POST <prefix>/service/…/1`."""
        contract = load_contract(TILBAGEFOER_ORDRE_WSDL)
        return SoapService(contract, {OPERATION: self.receive}, verifier).router(SERVICE_PATH)


def reversal_order_router(
    engine: Engine,
    fagsystem_id: UUID,
    verifier: CallerVerifier,
    *,
    intake: OrderIntake,
) -> APIRouter:
    """The receiver of one hosted fagsystem; mount it with `prefix=f"/fagsystem/{id}"`."""
    receiver = ReversalOrderReceiver(engine, fagsystem_id, intake=intake)
    return receiver.router(verifier)


def pending_orders(engine: Engine, fagsystem_id: UUID | None = None) -> list[ReceivedReversalOrder]:
    """Received orders whose reversal is not settled yet, oldest first; of one fagsystem or of
    all (an order's state follows its reversal's: `AFVENTER`, then `UDFOERT` or `AFVIST`)."""
    with read(engine) as conn:
        return store.reversal_orders_in_state(conn, PENDING, fagsystem_id)


def _timestamp(text: str) -> datetime:
    """An `xs:dateTime`; one without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

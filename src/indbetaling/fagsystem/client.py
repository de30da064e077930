"""The fagsystem's side of DebitorIndbetalingAfsend: what it asks a debitorsystem, through the
gateway, and what it gets back.

`DebitorIndbetaling` is the typed port the fagsystem's service and sender use; the gateway
client below it speaks SOAP through the Serviceplatform with tokens from its STS. Amounts are
øre. A call either returns a business answer (`BusinessAnswer`: the debitorsystem's
Forretningskvittering, accepted or refused) or raises `NoBusinessAnswer` (timeout, lost
connection, 5xx, server fault): then nothing is known, and the caller retries later with the
same TransactionUUID (R8), which the debitorsystem answers idempotently.

`GatewayDebitorClient` is that port over the wire, the piece a vendor's fagsystem can reuse:

    async with httpx.AsyncClient(timeout=30) as http:
        client = GatewayDebitorClient(Credentials(gateway_url, client_id, secret), http)
        claims = await client.search("29189846", SearchQuery(part_id="urn:oio:cpr-nr:…"))
        answer = await client.pay("29189846", transaction_uuid, PaymentCall(...))

Besides `NoBusinessAnswer` it raises `CallRefused` (a kind of `NoBusinessAnswer`: the platform
turned the call away before the debitorsystem saw it) and `InvalidCall` (our own request is
wrong: a programming error, not something a retry mends).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

import httpx

from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID, DEBITOR_INDBETALING_WSDL
from indbetaling.fordring import ClaimView, view_from_json
from indbetaling.money import format_ore, parse_ore
from indbetaling.soap import (
    FaultAnswer,
    KombitHeaders,
    Operation,
    SoapContract,
    UnreadableAnswer,
    http_headers,
    load_contract,
    read_answer,
    request_envelope,
)
from indbetaling.sts_client import AsyncTokenClient, Credentials, TokenRefused


class NoBusinessAnswer(Exception):
    """The call got no business answer; retry it later with the same TransactionUUID."""


class CallRefused(NoBusinessAnswer):
    """The platform turned the call away before it reached the debitorsystem: no token from
    the token service, a token refused even when fresh (401), no service agreement (403) or no
    debitorsystem for the authority (404). Nothing happened; a retry succeeds once the
    platform's configuration allows the call."""


class InvalidCall(Exception):
    """Our request was refused as malformed (a SOAP `Client` fault, or invalid against the
    schema before it was sent): a fault in the calling code. The text is the fault's."""


class ReversalReason(StrEnum):
    """`AarsagKode` of ForetagIndbetalingNedregulering."""

    FEJLREGISTRERING = "FEJLREGISTRERING"
    TILBAGEFOERSELSORDRE = "TILBAGEFOERSELSORDRE"
    ANDET = "ANDET"


@dataclass(frozen=True)
class SearchQuery:
    """SoegFordringTilIndbetaling: at least one of the three ids."""

    part_id: str | None = None
    account_id: UUID | None = None
    claim_id: UUID | None = None


@dataclass(frozen=True)
class PaymentCall:
    """ForetagIndbetaling's `Indbetaling`."""

    payment_id: UUID
    claim_id: UUID
    amount: int
    payment_date: date
    payer_part_id: str
    org_unit_id: UUID
    text: str | None = None


@dataclass(frozen=True)
class ReversalCall:
    """ForetagIndbetalingNedregulering's request."""

    payment_id: UUID
    reason: ReversalReason
    order_id: UUID | None = None
    text: str | None = None


@dataclass(frozen=True)
class BusinessAnswer:
    """A Forretningskvittering: `ACCEPTERET`, or `AFVIST` with its FejlKode and FejlTekst."""

    accepted: bool
    error_code: str | None = None
    error_text: str | None = None
    restance: int | None = None
    """After an accepted payment or reversal; the current one with BELOEB_OVERSTIGER_RESTANCE."""
    coverage_id: UUID | None = None
    """DaekningId of an accepted payment."""


class DebitorIndbetaling(Protocol):
    """DebitorIndbetalingAfsend as the fagsystem uses it, for one authority per call."""

    async def search(self, cvr: str, query: SearchQuery) -> list[ClaimView]:
        """Every payable claim that matches, following FortsaettelsesNoegle to the end."""
        ...

    async def pay(self, cvr: str, transaction_uuid: UUID, call: PaymentCall) -> BusinessAnswer: ...

    async def reverse(
        self, cvr: str, transaction_uuid: UUID, call: ReversalCall
    ) -> BusinessAnswer: ...


# --- the gateway client ----------------------------------------------------------------------

SERVICE_PATH = "/service/OIR/DebitorIndbetalingAfsend/1"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_REFUSED_STATUSES = frozenset({401, 403, 404})


class GatewayDebitorClient:
    """`DebitorIndbetaling` through the Serviceplatform: SOAP 1.1 in the project's codec of
    our WSDL/XSD, the KOMBIT headers, and a token per authority from the platform's token
    service (`AsyncTokenClient`; on a 401 the token is forgotten and the call made once more
    with a fresh one). Timeouts are those of `http`. Safe to share between tasks."""

    def __init__(
        self,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        tokens: AsyncTokenClient | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        """`page_size` is the `MaksimaltAntal` of each page of a search (1–1000)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        self.url = credentials.gateway_url.rstrip("/") + SERVICE_PATH
        self.http = http
        self.tokens = tokens or AsyncTokenClient(credentials, http)
        self.page_size = page_size
        self.contract = load_contract(DEBITOR_INDBETALING_WSDL)

    async def search(self, cvr: str, query: SearchQuery) -> list[ClaimView]:
        """SoegFordringTilIndbetaling, page after page until no `FortsaettelsesNoegle` is left."""
        request: dict[str, Any] = {"MaksimaltAntal": self.page_size}
        if query.part_id is not None:
            request["PartId"] = query.part_id
        if query.account_id is not None:
            request["DebitorkontoId"] = str(query.account_id)
        if query.claim_id is not None:
            request["FordringId"] = str(query.claim_id)
        claims: list[ClaimView] = []
        seen: set[str] = set()
        while True:
            answer = await self._call("SoegFordringTilIndbetaling", cvr, uuid.uuid4(), request)
            receipt = answer["Forretningskvittering"]
            if receipt["ForretningsValideringsKode"] != "ACCEPTERET":
                raise InvalidCall(f"Søgningen blev afvist: {_errors(receipt)}")
            try:
                claims.extend(_claim_view(c) for c in answer.get("FordringTilIndbetaling", []))
            except (ValueError, KeyError, TypeError) as exc:
                raise NoBusinessAnswer(f"En fordring i svaret kan ikke læses: {exc}") from None
            cursor = answer.get("FortsaettelsesNoegle")
            if cursor is None:
                return claims
            if cursor in seen:
                raise NoBusinessAnswer("Debitorsystemet gentog en FortsaettelsesNoegle")
            seen.add(cursor)
            request["FortsaettelsesNoegle"] = cursor

    async def pay(self, cvr: str, transaction_uuid: UUID, call: PaymentCall) -> BusinessAnswer:
        """ForetagIndbetaling; the same `transaction_uuid` again gets the same answer (R8)."""
        payment: dict[str, Any] = {
            "IndbetalingId": str(call.payment_id),
            "FordringId": str(call.claim_id),
            "Beloeb": format_ore(call.amount),
            "Betalingsdato": call.payment_date.isoformat(),
            "IndbetalerPartId": call.payer_part_id,
            "IndbetalendeOrganisationsenhedId": str(call.org_unit_id),
        }
        if call.text is not None:
            payment["Tekst"] = call.text
        answer = await self._call(
            "ForetagIndbetaling", cvr, transaction_uuid, {"Indbetaling": payment}
        )
        return _business_answer(answer)

    async def reverse(self, cvr: str, transaction_uuid: UUID, call: ReversalCall) -> BusinessAnswer:
        """ForetagIndbetalingNedregulering of one of our payments, in full (R4)."""
        request: dict[str, Any] = {
            "IndbetalingId": str(call.payment_id),
            "AarsagKode": call.reason.value,
        }
        if call.order_id is not None:
            request["TilbagefoerselsOrdreId"] = str(call.order_id)
        if call.text is not None:
            request["Tekst"] = call.text
        answer = await self._call("ForetagIndbetalingNedregulering", cvr, transaction_uuid, request)
        return _business_answer(answer)

    # -- one call ----------------------------------------------------------------------------

    async def _call(
        self, name: str, cvr: str, transaction_uuid: UUID, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        operation = self.contract.operations[name]
        headers = KombitHeaders(transaction_uuid, cvr, None)
        try:
            content = request_envelope(self.contract, operation, body, headers)
        except ValueError as exc:
            raise InvalidCall(f"{name} overholder ikke skemaet: {exc}") from None
        response = await self._post(operation, cvr, content)
        if response.status_code == 401:  # the token expired or was revoked: once more
            self.tokens.forget(DEBITOR_INDBETALING_ENTITY_ID, cvr)
            response = await self._post(operation, cvr, content)
        return _read(self.contract, operation, response)

    async def _post(self, operation: Operation, cvr: str, content: bytes) -> httpx.Response:
        try:
            token = await self.tokens.token(DEBITOR_INDBETALING_ENTITY_ID, cvr)
        except TokenRefused as exc:
            raise CallRefused(str(exc)) from None
        except httpx.HTTPError as exc:
            raise NoBusinessAnswer(f"Tokenservicen svarer ikke: {_describe(exc)}") from None
        try:
            return await self.http.post(
                self.url, content=content, headers=http_headers(operation, token)
            )
        except httpx.HTTPError as exc:
            raise NoBusinessAnswer(f"Serviceplatformen svarer ikke: {_describe(exc)}") from None


def _read(contract: SoapContract, operation: Operation, response: httpx.Response) -> dict[str, Any]:
    """The decoded answer, or the exception that says why there is none."""
    try:
        return read_answer(contract, operation, response.status_code, response.content)
    except FaultAnswer as fault:
        if fault.code == "Server":
            raise NoBusinessAnswer(str(fault)) from None
        if fault.http_status in _REFUSED_STATUSES:
            raise CallRefused(str(fault)) from None
        raise InvalidCall(str(fault)) from None
    except UnreadableAnswer as exc:
        raise NoBusinessAnswer(str(exc)) from None


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _errors(receipt: Mapping[str, Any]) -> str:
    errors = receipt.get("FejlListe", {}).get("Fejl", [])
    return "; ".join(f"{e['FejlKode']}: {e['FejlTekst']}" for e in errors)


def _ore(value: Decimal | None) -> int | None:
    return None if value is None else parse_ore(format(value, "f"))


def _business_answer(answer: Mapping[str, Any]) -> BusinessAnswer:
    """The Forretningskvittering (with Restance and DaekningId) of a changing operation."""
    receipt = answer["Forretningskvittering"]
    code = receipt["ForretningsValideringsKode"]
    restance = _ore(answer.get("Restance"))
    coverage = answer.get("DaekningId")
    if code == "ACCEPTERET":
        return BusinessAnswer(
            accepted=True,
            restance=restance,
            coverage_id=None if coverage is None else UUID(coverage),
        )
    if code == "AFVIST":
        errors = receipt.get("FejlListe", {}).get("Fejl", [])  # one, as our debitorsystem says
        first = errors[0] if errors else {}
        return BusinessAnswer(
            accepted=False,
            error_code=first.get("FejlKode"),
            error_text=first.get("FejlTekst"),
            restance=restance,
        )
    # MODTAGET or FEJLET: the debitorsystem decided nothing; ask again with the same id
    raise NoBusinessAnswer(f"Debitorsystemet svarede {code} {_errors(receipt)}".strip())


def _claim_view(data: Mapping[str, Any]) -> ClaimView:
    """A decoded `FordringTilIndbetaling` (amounts as `Decimal`) as a `ClaimView`."""
    plain = {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in data.items()}
    return view_from_json(plain)

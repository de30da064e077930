"""DebitorIndbetalingAfsend on the wire: the SOAP endpoint and its REST mirror (CONTRACT §2, §3).

The composition root mounts what `provider_routers` returns; with the default prefix that is

- `POST /debitorsystem/service/OIR/DebitorIndbetalingAfsend/1` (SOAP 1.1; `GET ...?wsdl` for
  the WSDL): SoegFordringTilIndbetaling, ForetagIndbetaling, ForetagIndbetalingNedregulering;
- `POST /debitorsystem/api/v1/debitorindbetaling/soeg-fordring-til-indbetaling`,
  `.../foretag-indbetaling` and `.../foretag-indbetaling-nedregulering` (JSON, same field names
  as the SOAP request and response elements; `Idempotency-Key` = TransactionUUID on the two
  changing operations).

These are the addresses registered with the Serviceplatform as the debitorsystem's endpoint and
REST base; clients call the gateway (`/service/OIR/DebitorIndbetalingAfsend/1`,
`/api/v1/debitorindbetaling/<path>`), which authenticates them and forwards the call with
`X-Serviceplatform-Caller`, verified here. The calling it-system and authority come only from
that verified identity.

Both wires call the same `DebitorService` and render the answer it stores, so a replay over
the same wire is byte for byte the same and SOAP and REST agree on every rule and code.
Business refusals (`AFVIST`) are answers (HTTP 200), not errors; a malformed request is a SOAP
`Client` fault or an HTTP 422 problem, and nothing is changed by it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from indbetaling.caller import Caller, CallerRejected, CallerVerifier
from indbetaling.contracts import DEBITOR_INDBETALING_WSDL
from indbetaling.debitorsystem.domain import FejlKode as FejlKodeType
from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import (
    DEFAULT_PAGE,
    MAX_PAGE,
    DebitorService,
    InvalidRequest,
    PaymentRequest,
    ReversalRequest,
    SearchRequest,
)
from indbetaling.fordring import ClaimStatus
from indbetaling.http_body import BodyRefused, read_limited_body
from indbetaling.http_errors import Problem, problem_response, validation_text
from indbetaling.idempotency import canonical_json
from indbetaling.ids import UUID_PATTERN, InvalidId, WireUuid, parse_uuid
from indbetaling.money import InvalidAmount, format_ore, parse_amount
from indbetaling.soap import SoapCall, SoapService, client_fault, load_contract
from indbetaling.wire_text import ControlCharacter, code_text, free_text

log = logging.getLogger(__name__)

PREFIX = "/debitorsystem"
SOAP_PATH = "/service/OIR/DebitorIndbetalingAfsend/1"
REST_PATH = "/api/v1/debitorindbetaling"
SEARCH_PATH = "/soeg-fordring-til-indbetaling"
PAYMENT_PATH = "/foretag-indbetaling"
REVERSAL_PATH = "/foretag-indbetaling-nedregulering"
JSON_MEDIA_TYPE = "application/json"
REST_MAX_BODY_BYTES = 256 * 1024
"""Far above any request of the mirror; a larger body is refused (413) before it is parsed."""

Answer = dict[str, Any]
T = TypeVar("T")


def provider_routers(
    service: DebitorService, verifier: CallerVerifier, prefix: str = PREFIX
) -> list[APIRouter]:
    """The SOAP endpoint at `<prefix>/service/OIR/DebitorIndbetalingAfsend/1` and the REST
    mirror under `<prefix>/api/v1/debitorindbetaling`; `verifier` checks the gateway's
    `X-Serviceplatform-Caller` for DebitorIndbetalingAfsend's entity id."""
    rest = APIRouter(prefix=prefix + REST_PATH)
    rest.include_router(rest_router(service, verifier))
    return [soap_service(service, verifier).router(prefix + SOAP_PATH), rest]


# --- SOAP ------------------------------------------------------------------------------------


def soap_service(service: DebitorService, verifier: CallerVerifier) -> SoapService:
    """DebitorIndbetalingAfsend's three operations as a contract-first SOAP service."""

    def search(request: dict[str, Any], call: SoapCall) -> Answer:
        search_request = _soap_request(lambda: search_request_from(request))
        try:
            answer = service.search(call.caller.it_system_id, call.authority_cvr, search_request)
        except InvalidRequest as exc:
            raise client_fault(str(exc)) from None
        return answer

    def pay(request: dict[str, Any], call: SoapCall) -> Answer:
        payment = _soap_request(lambda: payment_request_from(request["Indbetaling"]))
        caller = call.caller
        stored = service.pay(
            caller.it_system_id, caller.authority_cvr, call.transaction_uuid, payment
        )
        return _answer(stored)

    def reverse(request: dict[str, Any], call: SoapCall) -> Answer:
        reversal = _soap_request(lambda: reversal_request_from(request))
        caller = call.caller
        stored = service.reverse(
            caller.it_system_id, caller.authority_cvr, call.transaction_uuid, reversal
        )
        return _answer(stored)

    return SoapService(
        load_contract(DEBITOR_INDBETALING_WSDL),
        {
            "SoegFordringTilIndbetaling": search,
            "ForetagIndbetaling": pay,
            "ForetagIndbetalingNedregulering": reverse,
        },
        verifier,
    )


def _soap_request(build: Callable[[], T]) -> T:
    """Map a decoded request, or answer a Client fault that says what is wrong."""
    try:
        return build()
    except InvalidRequest as exc:
        raise client_fault(str(exc)) from None


def _answer(stored: bytes) -> Answer:
    answer: Answer = json.loads(stored)
    return answer


# --- wire ⇄ service -------------------------------------------------------------------------


def _uuid(value: object, name: str) -> UUID:
    """An id as the codec hands it over; text only in the canonical form (`ids.parse_uuid`)."""
    if isinstance(value, UUID):
        return value
    try:
        return parse_uuid(str(value), name)
    except InvalidId as exc:
        raise InvalidRequest(str(exc)) from None


def _optional_uuid(value: object, name: str) -> UUID | None:
    return None if value is None else _uuid(value, name)


def _date(value: object, name: str) -> date:
    """An `xs:date` as the codec hands it over; a time zone suffix is ignored."""
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise InvalidRequest(f"{name} '{text[:40]}' er ikke en dato (ÅÅÅÅ-MM-DD)") from None


def amount_text(value: object) -> str:
    """The Beloeb of a payment as text for the service: a valid amount in its two-place form
    (so `100`, `100.0` and `100.00` are the same request), anything else as sent, for the
    service to answer `BELOEB_UGYLDIGT`."""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    try:
        return format_ore(parse_amount(text))
    except InvalidAmount:
        return text.strip()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _checked(value: object, name: str, check: Callable[[str, str], str]) -> str | None:
    """A text field as the service gets it, refused with InvalidRequest when it holds a control
    character (`wire_text`): the same rule on both wires, since both map through here."""
    text = _text(value)
    if text is None:
        return None
    try:
        return check(text, name)
    except ControlCharacter as exc:
        raise InvalidRequest(str(exc)) from None


def search_request_from(data: Mapping[str, Any]) -> SearchRequest:
    return SearchRequest(
        part_id=_text(data.get("PartId")),
        account_id=_optional_uuid(data.get("DebitorkontoId"), "DebitorkontoId"),
        claim_id=_optional_uuid(data.get("FordringId"), "FordringId"),
        account_type_code=_checked(
            data.get("DebitorkontoTypeKode"), "DebitorkontoTypeKode", code_text
        ),
        claim_type_code=_checked(data.get("KravtypeKode"), "KravtypeKode", code_text),
        max_count=int(data.get("MaksimaltAntal") or DEFAULT_PAGE),
        cursor=_text(data.get("FortsaettelsesNoegle")),
    )


def payment_request_from(data: Mapping[str, Any]) -> PaymentRequest:
    return PaymentRequest(
        payment_id=_uuid(data["IndbetalingId"], "IndbetalingId"),
        claim_id=_uuid(data["FordringId"], "FordringId"),
        amount=amount_text(data["Beloeb"]),
        payment_date=_date(data["Betalingsdato"], "Betalingsdato"),
        payer_part_id=str(data["IndbetalerPartId"]),
        org_unit_id=_uuid(
            data["IndbetalendeOrganisationsenhedId"], "IndbetalendeOrganisationsenhedId"
        ),
        text=_checked(data.get("Tekst"), "Tekst", free_text),
    )


def reversal_request_from(data: Mapping[str, Any]) -> ReversalRequest:
    try:
        reason = ReversalReason(str(data["AarsagKode"]))
    except ValueError:
        raise InvalidRequest(f"AarsagKode '{str(data['AarsagKode'])[:40]}' er ukendt") from None
    return ReversalRequest(
        payment_id=_uuid(data["IndbetalingId"], "IndbetalingId"),
        reason=reason,
        order_id=_optional_uuid(data.get("TilbagefoerselsOrdreId"), "TilbagefoerselsOrdreId"),
        text=_checked(data.get("Tekst"), "Tekst", free_text),
    )


# --- REST: models ---------------------------------------------------------------------------

PART_ID_PATTERN = r"^(urn:oio:cpr-nr:[0-9]{10}|urn:oio:cvr-nr:[0-9]{8})$"
DECIMAL_PATTERN = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"
"""The lexical form of `xs:decimal`: what the SOAP request's Beloeb may hold too."""
AMOUNT_OUT_PATTERN = r"^-?[0-9]{1,13}\.[0-9]{2}$"

PartIdText = Annotated[str, Field(pattern=PART_ID_PATTERN, examples=["urn:oio:cpr-nr:0101801234"])]
KodeText = Annotated[str, Field(min_length=1, max_length=100)]
TekstText = Annotated[str, Field(max_length=200)]
AmountOut = Annotated[str, Field(pattern=AMOUNT_OUT_PATTERN, examples=["1234.50"])]
UuidOut = Annotated[str, Field(pattern=UUID_PATTERN)]


def _date_text(value: object) -> object:
    """JSON has no dates: a date is ISO text (a number is not read as a timestamp)."""
    if not isinstance(value, str | date):
        raise ValueError("skal være en dato som tekst, ÅÅÅÅ-MM-DD")
    return value


DateText = Annotated[date, BeforeValidator(_date_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SoegFordringTilIndbetalingRequest(_In):
    """At least one of PartId, DebitorkontoId and FordringId."""

    PartId: PartIdText | None = None
    DebitorkontoId: WireUuid | None = None
    FordringId: WireUuid | None = None
    DebitorkontoTypeKode: KodeText | None = None
    KravtypeKode: KodeText | None = None
    MaksimaltAntal: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE, strict=True)
    FortsaettelsesNoegle: str | None = Field(default=None, min_length=1, max_length=1000)


class IndbetalingType(_In):
    IndbetalingId: WireUuid
    FordringId: WireUuid
    Beloeb: str = Field(
        pattern=DECIMAL_PATTERN,
        max_length=60,
        description='DKK as decimal text, e.g. "1234.50": > 0, at most 2 decimals and 13 '
        "integer digits, else the answer is AFVIST BELOEB_UGYLDIGT",
        examples=["1234.50"],
    )
    Betalingsdato: DateText
    IndbetalerPartId: PartIdText
    IndbetalendeOrganisationsenhedId: WireUuid
    Tekst: TekstText | None = None


class ForetagIndbetalingRequest(_In):
    Indbetaling: IndbetalingType


class ForetagIndbetalingNedreguleringRequest(_In):
    IndbetalingId: WireUuid
    AarsagKode: ReversalReason
    TilbagefoerselsOrdreId: WireUuid | None = Field(
        default=None, description="Required with AarsagKode TILBAGEFOERSELSORDRE"
    )
    Tekst: TekstText | None = None


class ForretningsValideringsKodeType(StrEnum):
    ACCEPTERET = "ACCEPTERET"
    MODTAGET = "MODTAGET"
    AFVIST = "AFVIST"
    FEJLET = "FEJLET"


class FejlType(BaseModel):
    FejlKode: FejlKodeType
    FejlTekst: str = Field(min_length=1, max_length=1000)


class FejlListeType(BaseModel):
    Fejl: list[FejlType] = Field(min_length=1)


class ForretningskvitteringType(BaseModel):
    ForretningsValideringsKode: ForretningsValideringsKodeType
    FejlListe: FejlListeType | SkipJsonSchema[None] = None


class HaefterType(BaseModel):
    PartId: PartIdText
    HaefterRolle: KodeText


class HaefterkredsType(BaseModel):
    Haefter: list[HaefterType] = Field(min_length=1)


class FordringTilIndbetalingType(BaseModel):
    FordringId: UuidOut
    DebitorkontoId: UuidOut
    MyndighedCVR: str = Field(pattern=r"^[0-9]{8}$")
    DebitorkontoTypeKode: KodeText
    KravtypeKode: KodeText
    Hovedstol: AmountOut
    Restance: AmountOut
    Forfaldsdato: date
    SidsteRettidigeBetalingsdato: date
    BetalingsperiodeFra: date | SkipJsonSchema[None] = None
    BetalingsperiodeTil: date | SkipJsonSchema[None] = None
    Haefterkreds: HaefterkredsType
    Status: ClaimStatus


class SoegFordringTilIndbetalingResponse(BaseModel):
    Forretningskvittering: ForretningskvitteringType
    FordringTilIndbetaling: list[FordringTilIndbetalingType]
    FortsaettelsesNoegle: str | SkipJsonSchema[None] = Field(
        default=None, description="Present while more results exist; send it to get the next page"
    )


class ForetagIndbetalingResponse(BaseModel):
    Forretningskvittering: ForretningskvitteringType
    DaekningId: UuidOut | SkipJsonSchema[None] = Field(default=None, description="When ACCEPTERET")
    Restance: AmountOut | SkipJsonSchema[None] = Field(
        default=None,
        description="After the payment when ACCEPTERET; as it is now with "
        "BELOEB_OVERSTIGER_RESTANCE and FORDRING_IKKE_BETALBAR",
    )


class ForetagIndbetalingNedreguleringResponse(BaseModel):
    Forretningskvittering: ForretningskvitteringType
    Restance: AmountOut | SkipJsonSchema[None] = Field(
        default=None, description="Of the claim after the reversal, when ACCEPTERET"
    )


# --- REST: routes ---------------------------------------------------------------------------

INVALID = "UGYLDIG_FORESPOERGSEL"
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body cannot be read (e.g. not UTF-8)"},
    401: {"model": Problem, "description": "No valid caller identity"},
    413: {"model": Problem, "description": "The body is too large; nothing was read"},
    422: {"model": Problem, "description": "The request is malformed; nothing was changed"},
}


def _caller_route(verifier: CallerVerifier) -> type[APIRoute]:
    """Routes that first verify the forwarded caller (401 without one) and answer every refusal
    as a `Problem`, whatever exception handlers the surrounding app has."""

    class CallerRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    caller = verifier.verify(request.headers)
                except CallerRejected as exc:
                    return problem_response(401, "IKKE_AUTENTIFICERET", str(exc))
                try:
                    body = await read_limited_body(request, REST_MAX_BODY_BYTES)
                except BodyRefused as refused:
                    return problem_response(refused.http_status, INVALID, str(refused))
                request = Request(request.scope, _replay(body))
                request.state.caller = caller
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    return problem_response(422, INVALID, validation_text(exc))
                except InvalidRequest as exc:
                    return problem_response(422, INVALID, str(exc))
                except HTTPException as exc:  # a body FastAPI cannot even decode
                    return problem_response(exc.status_code, INVALID, str(exc.detail))
                except Exception:
                    log.exception("REST call %s failed", request.url.path)
                    return problem_response(500, "INTERN_FEJL", "Intern fejl; prøv igen senere")

            return route

    return CallerRoute


def _replay(body: bytes) -> Receive:
    """A `receive` that hands the already read body to the route once more."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _caller(request: Request) -> Caller:
    caller: Caller = request.state.caller
    return caller


def _json(stored: bytes) -> Response:
    return Response(stored, media_type=JSON_MEDIA_TYPE)


CallerDep = Annotated[Caller, Depends(_caller)]
IdempotencyKey = Annotated[
    WireUuid,
    Header(
        alias="Idempotency-Key",
        description="The TransactionUUID: a retry with the same key and body gets the same "
        "answer; the same key with another body gets AFVIST TRANSAKTION_KONFLIKT",
    ),
]


def rest_router(service: DebitorService, verifier: CallerVerifier) -> APIRouter:
    """The REST mirror's three operations at `/soeg-fordring-til-indbetaling`,
    `/foretag-indbetaling` and `/foretag-indbetaling-nedregulering`; include it under the
    debitorsystem's REST base."""
    router = APIRouter(
        route_class=_caller_route(verifier), tags=["DebitorIndbetalingAfsend"], responses=PROBLEMS
    )

    @router.post(
        SEARCH_PATH,
        operation_id="SoegFordringTilIndbetaling",
        response_model=SoegFordringTilIndbetalingResponse,
        summary="The calling authority's payable claims (IF01), paged",
    )
    def search(body: SoegFordringTilIndbetalingRequest, caller: CallerDep) -> Response:
        answer = service.search(
            caller.it_system_id,
            caller.authority_cvr,
            search_request_from(body.model_dump(exclude_none=True)),
        )
        return _json(canonical_json(answer))

    @router.post(
        PAYMENT_PATH,
        operation_id="ForetagIndbetaling",
        response_model=ForetagIndbetalingResponse,
        summary="Pay one claim (IF03); idempotent per Idempotency-Key",
    )
    def pay(body: ForetagIndbetalingRequest, key: IdempotencyKey, caller: CallerDep) -> Response:
        payment = payment_request_from(body.Indbetaling.model_dump())
        return _json(service.pay(caller.it_system_id, caller.authority_cvr, str(key), payment))

    @router.post(
        REVERSAL_PATH,
        operation_id="ForetagIndbetalingNedregulering",
        response_model=ForetagIndbetalingNedreguleringResponse,
        summary="Reverse one's own payment in full (IF05); idempotent per Idempotency-Key",
    )
    def reverse(
        body: ForetagIndbetalingNedreguleringRequest, key: IdempotencyKey, caller: CallerDep
    ) -> Response:
        reversal = reversal_request_from(body.model_dump())
        return _json(service.reverse(caller.it_system_id, caller.authority_cvr, str(key), reversal))

    return router


__all__ = ["provider_routers", "rest_router", "soap_service"]

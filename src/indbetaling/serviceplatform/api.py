"""The gateway on the wire: `/sts/token`, the JWKS, the routed services and the audit log.

Routes (mounted by the composition root with `app.include_router(gateway.router())`):

- `POST /sts/token`: OAuth 2 client credentials (form-encoded; `client_secret` or
  `private_key_jwt`), scope `entityid:<service>,anvenderkontekst:<CVR>`; `GET /sts/jwks`.
- `GET|POST /service/OIR/DebitorIndbetalingAfsend/1`: the WSDL (`?wsdl`, no token) and SOAP
  calls, routed by AuthorityContext/MunicipalityCVR to that authority's debitorsystem.
- `GET /service/OIR/IndbetalingTilbagefoerOrdreAfsend/1?wsdl` and
  `POST /service/OIR/IndbetalingTilbagefoerOrdreAfsend/1/<fagsystem UUID>`: reversal orders,
  routed to that fagsystem's endpoint.
- `/api/v1/debitorindbetaling/<path>` (any method): the REST mirror, routed by the token's
  authority (an `X-Myndighed-CVR` header, when sent, must name the same authority) to the
  debitorsystem's registered REST base URL + `/<path>`.
- `/api/v1/beskedfordeler/<path>` (any method): the Beskedfordeler's HTTP interface
  (`BeskedAfsend`, mailboxes, value lists, error queue), routed the same way to the
  Beskedfordeler that serves the token's authority.
- `GET /serviceplatform/api/v1/audit`: the audit log, newest first.

Every forwarded call carries `X-Serviceplatform-Caller` (see `indbetaling.caller`) and never
the caller's own token or any `X-Serviceplatform-*` header the caller sent.
"""

from __future__ import annotations

import base64
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from indbetaling.caller import CALLER_HEADER, Caller, sign_caller
from indbetaling.contracts import (
    BESKEDFORDELER_ENTITY_ID,
    DEBITOR_INDBETALING_ENTITY_ID,
    DEBITOR_INDBETALING_WSDL,
    TILBAGEFOER_ORDRE_ENTITY_ID,
    TILBAGEFOER_ORDRE_WSDL,
)
from indbetaling.http_errors import problem_body, problem_response
from indbetaling.ids import InvalidId, parse_cvr
from indbetaling.observability import bind_transaction
from indbetaling.serviceplatform.domain import (
    AuditEntry,
    AuthError,
    OAuthError,
    Outcome,
    Role,
    TokenIdentity,
    soap_outcome,
)
from indbetaling.serviceplatform.service import Endpoint, Serviceplatform
from indbetaling.soap import (
    MAX_BODY_BYTES,
    SOAP_CONTENT_TYPE,
    KombitHeaders,
    SoapContract,
    SoapFault,
    check_must_understand,
    client_fault,
    fault_response,
    load_contract,
    read_envelope,
    read_headers,
    read_limited_body,
    wsdl_response,
)

DEBITOR_PATH = "/service/OIR/DebitorIndbetalingAfsend/1"
TILBAGEFOER_PATH = "/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1"
REST_PREFIX = "/api/v1/debitorindbetaling"
BESKEDFORDELER_PREFIX = "/api/v1/beskedfordeler"
AUDIT_PATH = "/serviceplatform/api/v1/audit"
REST_AUTHORITY_HEADER = "X-Myndighed-CVR"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
FORWARD_TIMEOUT_SECONDS = 30.0
_FORWARDED_HEADERS = ("content-type", "soapaction", "accept", "idempotency-key")


@dataclass
class _Call:
    """What the gateway learns about one call while handling it, for the audit log."""

    entity_id: str
    operation: str = "?"
    identity: TokenIdentity | None = None
    headers: KombitHeaders | None = None
    transaction_uuid: str | None = None


class Gateway:
    """The Serviceplatform: build it once with its database and mount `router()`."""

    def __init__(
        self,
        platform: Serviceplatform,
        http_client: httpx.AsyncClient | None = None,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        operator_token: str | None = None,
    ) -> None:
        """`operator_token` opens the audit log to the platform's operators (Bearer); without
        it the audit log is not served over HTTP at all."""
        self.platform = platform
        self.http = http_client or httpx.AsyncClient(timeout=FORWARD_TIMEOUT_SECONDS)
        self.max_body_bytes = max_body_bytes
        self.operator_token = operator_token
        self.debitor_contract = load_contract(DEBITOR_INDBETALING_WSDL)
        self.tilbagefoer_contract = load_contract(TILBAGEFOER_ORDRE_WSDL)

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route("/sts/token", self.token, methods=["POST"], tags=["serviceplatform"])
        router.add_api_route("/sts/jwks", self.jwks, methods=["GET"], tags=["serviceplatform"])
        router.add_api_route(
            DEBITOR_PATH, self.debitor_wsdl, methods=["GET"], include_in_schema=False
        )
        router.add_api_route(
            DEBITOR_PATH, self.debitor_call, methods=["POST"], include_in_schema=False
        )
        router.add_api_route(
            TILBAGEFOER_PATH, self.tilbagefoer_wsdl, methods=["GET"], include_in_schema=False
        )
        router.add_api_route(
            TILBAGEFOER_PATH + "/{fagsystem_id}",
            self.tilbagefoer_call,
            methods=["POST"],
            include_in_schema=False,
        )
        for prefix, endpoint in (
            (REST_PREFIX, self.rest_call),
            (BESKEDFORDELER_PREFIX, self.beskedfordeler_call),
        ):
            router.add_api_route(
                prefix + "/{rest_path:path}",
                endpoint,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                include_in_schema=False,
            )
        if self.operator_token:
            router.add_api_route(AUDIT_PATH, self.audit, methods=["GET"], tags=["serviceplatform"])
        return router

    # -- token service -------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        try:
            body = await read_limited_body(request, 64_000)
        except SoapFault:
            return _oauth_error(OAuthError("invalid_request", "for stor forespørgsel"))
        if not request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPE):
            return _oauth_error(OAuthError("invalid_request", f"brug {FORM_CONTENT_TYPE}"))
        try:
            values = dict(parse_qsl(body.decode(), max_num_fields=20))
        except (UnicodeDecodeError, ValueError):
            return _oauth_error(OAuthError("invalid_request", "formularen kan ikke læses"))
        token_url = str(request.url.replace(query="", fragment=""))
        try:
            answer = await run_in_threadpool(
                self.platform.issue_token, values, token_url, _basic_credentials(request)
            )
        except OAuthError as exc:
            return _oauth_error(exc)
        return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def jwks(self) -> dict[str, Any]:
        return await run_in_threadpool(self.platform.jwks)

    # -- SOAP ---------------------------------------------------------------------------

    async def debitor_wsdl(self, request: Request) -> Response:
        return wsdl_response(self.debitor_contract, request)

    async def tilbagefoer_wsdl(self, request: Request) -> Response:
        return wsdl_response(self.tilbagefoer_contract, request)

    async def debitor_call(self, request: Request) -> Response:
        async def target(identity: TokenIdentity) -> Endpoint | None:
            return await run_in_threadpool(
                self.platform.provider_for_authority,
                identity.authority_cvr,
                DEBITOR_INDBETALING_ENTITY_ID,
            )

        return await self._soap_call(
            request, self.debitor_contract, DEBITOR_INDBETALING_ENTITY_ID, target
        )

    async def tilbagefoer_call(self, request: Request, fagsystem_id: str) -> Response:
        try:
            fagsystem = uuid.UUID(fagsystem_id)
        except ValueError:
            return fault_response(
                client_fault(f"'{fagsystem_id[:40]}' er ikke et it-system-UUID / not a UUID", 404)
            )

        async def target(identity: TokenIdentity) -> Endpoint | None:
            entity = TILBAGEFOER_ORDRE_ENTITY_ID
            allowed = await run_in_threadpool(
                self.platform.has_agreement,
                fagsystem,
                identity.authority_cvr,
                entity,
                Role.PROVIDER,
            )
            if not allowed:
                return None
            return await run_in_threadpool(self.platform.endpoint_of, fagsystem, entity)

        return await self._soap_call(
            request, self.tilbagefoer_contract, TILBAGEFOER_ORDRE_ENTITY_ID, target
        )

    async def _soap_call(
        self,
        request: Request,
        contract: SoapContract,
        entity_id: str,
        target: Callable[[TokenIdentity], Awaitable[Endpoint | None]],
    ) -> Response:
        started = time.monotonic()
        call = _Call(entity_id=entity_id)
        response: Response
        outcome: str
        detail = ""
        try:
            body = await read_limited_body(request, self.max_body_bytes)
            call.identity = await self._authenticate(request, entity_id)
            # Parsing and the schema are CPU work: off the event loop, like every provider.
            headers = await run_in_threadpool(
                self._read_soap, contract, body, request.headers.get("soapaction"), call
            )
            call.transaction_uuid = str(headers.transaction_uuid)
            bind_transaction(call.transaction_uuid)
            if headers.municipality_cvr != call.identity.authority_cvr:
                raise AuthError(
                    403,
                    "AuthorityContext/MunicipalityCVR er ikke tokenets myndighed / "
                    "MunicipalityCVR is not the authority of the token",
                )
            await self._require_agreement(call.identity, entity_id)
            endpoint = await target(call.identity)
            if endpoint is None or not endpoint.soap_url:
                raise SoapFault(
                    "Client",
                    "Ingen udbyder er registreret til denne myndighed og tjeneste / "
                    "no provider endpoint is registered for this authority and service",
                    404,
                )
            response, outcome = await self._forward_soap(request, body, endpoint, call.identity)
        except AuthError as exc:
            response = fault_response(
                SoapFault("Client", exc.text, exc.status), _www_authenticate(exc.status)
            )
            outcome = Outcome.UNAUTHENTICATED if exc.status == 401 else Outcome.FORBIDDEN
            detail = exc.text
        except SoapFault as fault:
            response = fault_response(fault)
            outcome = Outcome.NO_ENDPOINT if fault.http_status == 404 else Outcome.CLIENT_FAULT
            if fault.code == "Server":
                outcome = Outcome.UNREACHABLE
            detail = fault.text
        await self._audit(call, outcome, response.status_code, started, detail)
        return response

    def _read_soap(
        self, contract: SoapContract, body: bytes, soap_action: str | None, call: _Call
    ) -> KombitHeaders:
        """Check a SOAP request as its provider will (envelope, mandatory headers, SOAPAction,
        KOMBIT headers, schema), noting in `call` what the audit log needs; or raise a fault."""
        envelope = read_envelope(body, self.max_body_bytes)
        check_must_understand(envelope)
        operation = contract.operation_for(envelope.body)
        call.operation = operation.name
        contract.check_soap_action(operation, soap_action)
        headers = call.headers = read_headers(envelope, contract)
        contract.decode(envelope.body)  # nothing schema-invalid is forwarded
        return headers

    async def _forward_soap(
        self, request: Request, body: bytes, endpoint: Endpoint, identity: TokenIdentity
    ) -> tuple[Response, str]:
        headers = await self._forward_headers(request, identity)
        try:
            answer = await self.http.post(str(endpoint.soap_url), content=body, headers=headers)
        except httpx.HTTPError:
            raise SoapFault(
                "Server", "Udbyderen svarer ikke / the provider did not answer", 502
            ) from None
        content_type = answer.headers.get("content-type", SOAP_CONTENT_TYPE)
        response = Response(answer.content, status_code=answer.status_code, media_type=None)
        response.headers["content-type"] = content_type
        return response, soap_outcome(answer.status_code, answer.content)

    # -- REST ---------------------------------------------------------------------------

    async def rest_call(self, request: Request, rest_path: str) -> Response:
        """The REST mirror of DebitorIndbetalingAfsend."""
        return await self._rest_call(request, rest_path, DEBITOR_INDBETALING_ENTITY_ID)

    async def beskedfordeler_call(self, request: Request, rest_path: str) -> Response:
        """The Beskedfordeler's HTTP interface, for publishers and subscribers."""
        return await self._rest_call(request, rest_path, BESKEDFORDELER_ENTITY_ID)

    async def _rest_call(self, request: Request, rest_path: str, entity_id: str) -> Response:
        started = time.monotonic()
        call = _Call(entity_id=entity_id, operation=f"{request.method} /{unquote(rest_path)}")
        call.transaction_uuid = request.headers.get("idempotency-key")
        detail = ""
        try:
            body = await read_limited_body(request, self.max_body_bytes)
            call.identity = await self._authenticate(request, entity_id)
            claimed = request.headers.get(REST_AUTHORITY_HEADER)
            if claimed is not None and claimed != call.identity.authority_cvr:
                raise AuthError(
                    403, f"{REST_AUTHORITY_HEADER} er ikke tokenets myndighed / not the token's"
                )
            await self._require_agreement(call.identity, entity_id)
            endpoint = await run_in_threadpool(
                self.platform.provider_for_authority, call.identity.authority_cvr, entity_id
            )
            if endpoint is None or not endpoint.rest_url:
                response = _problem(404, "Ingen udbyder er registreret / no provider registered")
                outcome = str(Outcome.NO_ENDPOINT)
            else:
                url = endpoint.rest_url.rstrip("/") + "/" + rest_path
                if request.url.query:
                    url += "?" + request.url.query
                try:
                    answer = await self.http.request(
                        request.method,
                        url,
                        content=body,
                        headers=await self._forward_headers(request, call.identity),
                    )
                except httpx.HTTPError:
                    response = _problem(502, "Udbyderen svarer ikke / the provider did not answer")
                    outcome = str(Outcome.UNREACHABLE)
                else:
                    response = Response(answer.content, status_code=answer.status_code)
                    response.headers["content-type"] = answer.headers.get(
                        "content-type", "application/json"
                    )
                    outcome = f"HTTP:{answer.status_code}"
        except AuthError as exc:
            response = _problem(exc.status, exc.text, _www_authenticate(exc.status))
            outcome = Outcome.UNAUTHENTICATED if exc.status == 401 else Outcome.FORBIDDEN
            detail = exc.text
        except SoapFault as fault:
            response = _problem(fault.http_status, fault.text)
            outcome = str(Outcome.CLIENT_FAULT)
            detail = fault.text
        await self._audit(call, outcome, response.status_code, started, detail)
        return response

    # -- audit --------------------------------------------------------------------------

    async def audit(
        self,
        request: Request,
        limit: int = Query(100, ge=1, le=1000),
        before_id: int | None = Query(None, ge=1),
        it_system_id: uuid.UUID | None = None,
        authority_cvr: str | None = Query(None, pattern=r"^\d{8}$"),
    ) -> Any:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = self.operator_token or ""
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            return _problem(401, "Revisionsloggen kræver operatørens token", _www_authenticate(401))
        return await run_in_threadpool(
            lambda: self.platform.audit_log(
                limit=limit,
                before_id=before_id,
                it_system_id=it_system_id,
                authority_cvr=authority_cvr,
            )
        )

    # -- shared -------------------------------------------------------------------------

    async def _authenticate(self, request: Request, entity_id: str) -> TokenIdentity:
        authorization = request.headers.get("authorization")
        return await run_in_threadpool(self.platform.verify_token, authorization, entity_id)

    async def _require_agreement(self, identity: TokenIdentity, entity_id: str) -> None:
        allowed = await run_in_threadpool(
            self.platform.has_agreement,
            identity.it_system_id,
            identity.authority_cvr,
            entity_id,
            Role.CONSUMER,
        )
        if not allowed:
            raise AuthError(
                403,
                "Ingen serviceaftale mellem it-systemet og myndigheden for denne tjeneste / "
                "no service agreement for this it-system, authority and service",
            )

    async def _forward_headers(self, request: Request, identity: TokenIdentity) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED_HEADERS}
        key = await run_in_threadpool(self.platform.signing_key)
        headers[CALLER_HEADER] = sign_caller(
            Caller(it_system_id=identity.it_system_id, authority_cvr=identity.authority_cvr),
            identity.entity_id,
            key.private_key,
            key.kid,
        )
        return headers

    async def _audit(
        self, call: _Call, outcome: str, status: int, started: float, detail: str
    ) -> None:
        context = call.headers.call_context if call.headers else None
        cvr = call.identity.authority_cvr if call.identity else None
        if cvr is None and call.headers is not None:
            cvr = _cvr_or_none(call.headers.municipality_cvr)
        entry = AuditEntry(
            it_system_id=call.identity.it_system_id if call.identity else None,
            authority_cvr=cvr,
            entity_id=call.entity_id,
            operation=call.operation,
            transaction_uuid=call.transaction_uuid,
            outcome=str(outcome),
            http_status=status,
            duration_ms=int((time.monotonic() - started) * 1000),
            detail=detail,
            on_behalf_of_user=context.on_behalf_of_user if context else None,
            callers_service_call_identifier=(
                context.callers_service_call_identifier if context else None
            ),
            accounting_info=context.accounting_info if context else None,
        )
        await run_in_threadpool(self.platform.record, entry)


def _cvr_or_none(text: str) -> str | None:
    try:
        return parse_cvr(text)
    except InvalidId:
        return None


def _www_authenticate(status: int) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}


def _problem(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return problem_response(status, None, text, headers)


def _oauth_error(exc: OAuthError) -> Response:
    """RFC 6749's error answer, which is also our problem document (both allow extra members)."""
    body = problem_body(exc.status, exc.error.upper(), exc.description)
    body |= {"error": exc.error, "error_description": exc.description}
    return JSONResponse(
        body,
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
        media_type="application/json",
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


__all__ = ["Gateway"]

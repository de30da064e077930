"""A contract-first SOAP service: a WSDL, one handler per operation, mounted in FastAPI.

    service = SoapService(contract, {"ForetagIndbetaling": handle_payment}, caller_verifier)
    app.include_router(service.router("/debitorsystem/service/DebitorIndbetalingAfsend/1"))

A handler gets the decoded request (a dict with the wire field names) and a `SoapCall` (the
operation, the KOMBIT headers and the caller the gateway vouches for) and returns the response
dict (wire field names; amounts as two-place decimal text). Sync handlers run in a worker
thread, as do the parsing, schema validation and encoding around them; async handlers run on
the event loop. A handler raises `SoapFault` for a technical
refusal; any other exception becomes a `Server` fault without details.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.caller import Caller, CallerRejected, CallerVerifier
from indbetaling.soap.body import read_limited_body
from indbetaling.soap.contract import SoapContract
from indbetaling.soap.faults import (
    SOAP_CONTENT_TYPE,
    SoapFault,
    client_fault,
    fault_envelope,
    server_fault,
)
from indbetaling.soap.headers import KombitHeaders, check_must_understand, read_headers
from indbetaling.soap.parsing import MAX_BODY_BYTES, read_envelope, response_envelope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SoapCall:
    """What a handler knows about the call besides its body."""

    operation: str
    headers: KombitHeaders
    caller: Caller
    """The calling it-system and authority, as vouched for by the gateway."""

    @property
    def transaction_uuid(self) -> str:
        return str(self.headers.transaction_uuid)

    @property
    def authority_cvr(self) -> str:
        return self.caller.authority_cvr


Handler = Callable[[dict[str, Any], SoapCall], "dict[str, Any] | Awaitable[dict[str, Any]]"]


def fault_response(fault: SoapFault, extra_headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        fault_envelope(fault),
        status_code=fault.http_status,
        media_type=SOAP_CONTENT_TYPE,
        headers=dict(extra_headers or {}),
    )


def endpoint_address(request: Request) -> str:
    """The URL the client used for this endpoint, without query."""
    return str(request.url.replace(query="", fragment=""))


def wsdl_response(contract: SoapContract, request: Request, address: str | None = None) -> Response:
    """Answer `GET ?wsdl` or `GET ?xsd=<name>` for `contract`; 404 for anything else."""
    address = address or endpoint_address(request)
    xsd_name = request.query_params.get("xsd")
    if xsd_name is not None:
        document = contract.xsd_document(xsd_name, address)
        if document is None:
            return Response("unknown schema", status_code=404, media_type="text/plain")
        return Response(document, media_type="text/xml; charset=utf-8")
    if "wsdl" in request.query_params:
        return Response(contract.wsdl_document(address), media_type="text/xml; charset=utf-8")
    return Response(
        "GET ?wsdl for the service description", status_code=404, media_type="text/plain"
    )


class SoapService:
    def __init__(
        self,
        contract: SoapContract,
        handlers: Mapping[str, Handler],
        caller_verifier: CallerVerifier,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        unknown = set(handlers) - set(contract.operations)
        if unknown:
            raise ValueError(f"handlers for operations not in {contract.wsdl_name}: {unknown}")
        self.contract = contract
        self.handlers = dict(handlers)
        self.caller_verifier = caller_verifier
        self.max_body_bytes = max_body_bytes

    def router(self, path: str) -> APIRouter:
        """GET `path?wsdl` / `path?xsd=<name>` and POST `path` for the operations."""
        router = APIRouter()

        async def get_wsdl(request: Request) -> Response:
            return await run_in_threadpool(wsdl_response, self.contract, request)

        async def post(request: Request) -> Response:
            return await self.handle(request)

        router.add_api_route(path, get_wsdl, methods=["GET"], include_in_schema=False)
        router.add_api_route(path, post, methods=["POST"], include_in_schema=False)
        return router

    async def handle(self, request: Request) -> Response:
        """Answer one call. Only reading the body and an async handler run on the event loop;
        parsing, schema work, a sync handler and encoding run in the threadpool."""
        try:
            body = await read_limited_body(request, self.max_body_bytes)
            handler, data, call = await run_in_threadpool(self._read_call, body, request.headers)
            result = await self._run(handler, data, call)
            answer = await run_in_threadpool(self._answer, call.operation, result)
            return Response(answer, media_type=SOAP_CONTENT_TYPE)
        except SoapFault as fault:
            return fault_response(fault)
        except Exception:
            log.exception("SOAP call failed")
            return fault_response(server_fault())

    def _read_call(
        self, body: bytes, http_headers: Mapping[str, str]
    ) -> tuple[Handler, dict[str, Any], SoapCall]:
        """The handler, decoded request and call of a request body, or a `SoapFault`."""
        try:
            caller = self.caller_verifier.verify(http_headers)
        except CallerRejected as exc:
            raise client_fault(str(exc), 401) from None
        envelope = read_envelope(body, self.max_body_bytes)
        check_must_understand(envelope)
        operation = self.contract.operation_for(envelope.body)
        self.contract.check_soap_action(operation, http_headers.get("soapaction"))
        headers = read_headers(envelope, self.contract)
        if headers.municipality_cvr != caller.authority_cvr:
            raise client_fault(
                "AuthorityContext/MunicipalityCVR svarer ikke til kalderens myndighed / "
                "MunicipalityCVR does not match the caller's authority",
                403,
            )
        handler = self.handlers.get(operation.name)
        if handler is None:
            raise client_fault(f"Operationen {operation.name} udbydes ikke / not offered")
        data = self.contract.decode(envelope.body)
        return handler, data, SoapCall(operation=operation.name, headers=headers, caller=caller)

    def _answer(self, operation_name: str, result: dict[str, Any]) -> bytes:
        """The response envelope of a handler's result; a `Server` fault when it is invalid."""
        operation = self.contract.operations[operation_name]
        try:
            element = self.contract.encode(operation.response, result)
        except Exception:
            log.exception("handler of %s returned an invalid response", operation.name)
            raise server_fault() from None
        return response_envelope(element)

    @staticmethod
    async def _run(handler: Handler, data: dict[str, Any], call: SoapCall) -> dict[str, Any]:
        if inspect.iscoroutinefunction(handler):
            result: Any = await handler(data, call)
        else:
            result = await run_in_threadpool(handler, data, call)
            if inspect.isawaitable(result):
                result = await result
        if not isinstance(result, dict):
            raise TypeError(f"a SOAP handler must return a dict, not {type(result).__name__}")
        return result

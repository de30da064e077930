"""NemKonto's REST API under `/nemkonto/api/v1` (CONTRACT §7): receive payment requests
(idempotent on `BetalingsanmodningId`) and list them. Every call carries the finance token as
`Authorization: Bearer`; refusals are problem documents and change nothing.

(No `from __future__ import annotations`: FastAPI reads the routes' annotations.)
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from indbetaling.http_body import read_model
from indbetaling.http_errors import Problem, ProblemError, allow_only
from indbetaling.ids import WireUuid
from indbetaling.instants import instant_text
from indbetaling.money import format_ore
from indbetaling.nemkonto.domain import FejlKode, new_request
from indbetaling.nemkonto.service import PAGE, PAGE_MAX, NemKontoService
from indbetaling.nemkonto.store import StoredRequest
from indbetaling.refusal import Refused
from indbetaling.wire_text import FreeText

PREFIX = "/nemkonto/api/v1"
MAX_BODY_BYTES = 16 * 1024
STATUS_OF_CODE = {FejlKode.BETALINGSANMODNINGID_KONFLIKT.value: 409}
"""The status of a refusal by its code; 422 when not named here."""


class RequestIn(BaseModel):
    """A `Betalingsanmodning` (SF1590_E): pay `Beloeb` to the party's NemKonto."""

    model_config = ConfigDict(extra="forbid")

    BetalingsanmodningId: WireUuid
    MyndighedCVR: str = Field(pattern=r"^\d{8}$", examples=["29189846"])
    PartId: str = Field(max_length=40, examples=["urn:oio:cpr-nr:0101801234"])
    Beloeb: str = Field(max_length=40, examples=["250.00"], description="DKK > 0, two places")
    Reference: WireUuid = Field(description="The IndbetalingId the pay-back is about")
    Tekst: FreeText = Field(default="", max_length=200)


def request_json(stored: StoredRequest) -> dict[str, Any]:
    r = stored.request
    return {
        "BetalingsanmodningId": str(r.id),
        "MyndighedCVR": r.authority_cvr,
        "PartId": r.part_id,
        "Beloeb": format_ore(r.amount),
        "Reference": str(r.reference),
        "Tekst": r.text,
        "Modtaget": instant_text(stored.received_at),
    }


def _refused(r: Refused) -> ProblemError:
    return ProblemError(STATUS_OF_CODE.get(r.code.value, 422), r.code.value, r.text)


def nemkonto_router(service: NemKontoService, guard: Callable[[Request], None]) -> APIRouter:
    errors: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (401, 409, 413, 422)}
    router = APIRouter(
        prefix=PREFIX, tags=["nemkonto"], responses=errors, dependencies=[Depends(guard)]
    )

    allow_only(router, "/betalingsanmodninger", ("GET", "POST"))

    @router.post(
        "/betalingsanmodninger",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": RequestIn.model_json_schema()}},
            }
        },
        responses={200: {"description": "The same request again: the stored one"}},
    )
    async def receive_request(request: Request) -> JSONResponse:
        """Record a payment request once: 201 when new, 200 with the stored request when the
        same one comes again, 409 BETALINGSANMODNINGID_KONFLIKT when its id names another."""
        body = await read_model(request, RequestIn, MAX_BODY_BYTES)
        try:
            new = new_request(
                request_id=body.BetalingsanmodningId,
                authority_cvr=body.MyndighedCVR,
                part_id=body.PartId,
                amount=body.Beloeb,
                reference=body.Reference,
                text=body.Tekst,
            )
            received = await run_in_threadpool(service.receive, new)
        except Refused as r:
            raise _refused(r) from None
        return JSONResponse(request_json(received.stored), status_code=201 if received.new else 200)

    @router.get("/betalingsanmodninger")
    def requests(
        cvr: Annotated[str | None, Query(alias="MyndighedCVR", pattern=r"^\d{8}$")] = None,
        reference: Annotated[WireUuid | None, Query(alias="Reference")] = None,
        key: Annotated[str | None, Query(alias="FortsaettelsesNoegle", max_length=400)] = None,
        size: Annotated[int, Query(alias="Antal", ge=1, le=PAGE_MAX)] = PAGE,
    ) -> dict[str, Any]:
        """Payment requests of an authority and/or about one payment (`Reference`), in order of
        arrival, `Antal` a page; `FortsaettelsesNoegle` is present while more follow."""
        try:
            page, next_key = service.requests_page(cvr, reference, key, size)
        except Refused as r:
            raise _refused(r) from None
        answer: dict[str, Any] = {"Betalingsanmodninger": [request_json(s) for s in page]}
        if next_key:
            answer["FortsaettelsesNoegle"] = next_key
        return answer

    return router

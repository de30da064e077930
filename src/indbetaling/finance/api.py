"""The finance ledger's REST API under `/finance/api/v1` (CONTRACT §7, §9): receive postings,
list them, and the three-way reconciliation. Every call carries the finance token as
`Authorization: Bearer`; refusals are problem documents with `FejlKode` and a Danish
`FejlTekst`, and change nothing.

(No `from __future__ import annotations`: FastAPI reads the routes' annotations.)
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from indbetaling.finance.domain import FejlKode, PostingType, new_posting
from indbetaling.finance.reconciliation import Reconciliation, SourceUnavailable
from indbetaling.finance.service import PAGE, PAGE_MAX, FinanceService
from indbetaling.finance.store import StoredPosting
from indbetaling.http_body import read_model
from indbetaling.http_errors import Problem, ProblemError, allow_only
from indbetaling.ids import WireUuid
from indbetaling.instants import instant_text
from indbetaling.money import format_ore
from indbetaling.refusal import Refused
from indbetaling.wire_text import CodeText, FreeText

PREFIX = "/finance/api/v1"
log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
CVR = Annotated[str, Field(pattern=r"^\d{8}$", examples=["29189846"])]
STATUS_OF_CODE = {FejlKode.POSTERINGID_KONFLIKT.value: 409}
"""The status of a refusal by its code; 422 when not named here."""


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(Wire):
    Kontonummer: CodeText = Field(min_length=1, max_length=20, examples=["6010"])
    Beloeb: str = Field(
        max_length=40, examples=["-12.50"], description="Signed DKK, at most two decimals, not 0"
    )
    Tekst: FreeText = Field(default="", max_length=200)


class PostingIn(Wire):
    """An `Oekonomipostering` (SF1590_A): its lines must sum to zero."""

    PosteringId: WireUuid
    Posteringsdato: date = Field(strict=True)
    MyndighedCVR: CVR
    Reference: WireUuid = Field(description="The IndbetalingId the posting is about")
    Posteringstype: PostingType
    Posteringslinjer: list[LineIn] = Field(max_length=100)


def posting_json(stored: StoredPosting) -> dict[str, Any]:
    p = stored.posting
    return {
        "PosteringId": str(p.id),
        "Posteringsdato": p.posting_date.isoformat(),
        "MyndighedCVR": p.authority_cvr,
        "Reference": str(p.reference),
        "Posteringstype": p.type.value,
        "Posteringslinjer": [
            {"Kontonummer": line.account, "Beloeb": format_ore(line.amount), "Tekst": line.text}
            for line in p.lines
        ],
        "Modtaget": instant_text(stored.received_at),
    }


def reconciliation_json(cvr: str, result: Reconciliation) -> dict[str, Any]:
    return {
        "MyndighedCVR": cvr,
        "Afstemt": result.agreed,
        "Antal": result.count,
        "Afvigelser": [
            {
                "IndbetalingId": str(d.payment_id),
                "Fagsystem": d.fagsystem,
                "Debitorsystem": d.debitorsystem,
                "Finans": d.finance,
                "Beskrivelse": d.description,
            }
            for d in result.deviations
        ],
    }


def refused(r: Refused) -> ProblemError:
    return ProblemError(STATUS_OF_CODE.get(r.code.value, 422), r.code.value, r.text)


def finance_router(
    service: FinanceService,
    guard: Callable[[Request], None],
    reconcile: Callable[[str], Awaitable[Reconciliation]] | None,
) -> APIRouter:
    errors: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (401, 409, 413, 422)}
    router = APIRouter(
        prefix=PREFIX, tags=["finans"], responses=errors, dependencies=[Depends(guard)]
    )

    allow_only(router, "/posteringer", ("GET", "POST"))

    @router.post(
        "/posteringer",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PostingIn.model_json_schema()}},
            }
        },
        responses={200: {"description": "The same posting again: the stored one"}},
    )
    async def receive_posting(request: Request) -> JSONResponse:
        """Book an `Oekonomipostering` once: 201 when new, 200 with the stored posting when the
        same one comes again, 409 POSTERINGID_KONFLIKT when its id names another posting, 422
        POSTERING_UBALANCE when the lines do not sum to zero."""
        body = await read_model(request, PostingIn, MAX_BODY_BYTES)
        try:
            posting = new_posting(
                posting_id=body.PosteringId,
                posting_date=body.Posteringsdato,
                authority_cvr=body.MyndighedCVR,
                reference=body.Reference,
                type=body.Posteringstype,
                lines=[(x.Kontonummer, x.Beloeb, x.Tekst) for x in body.Posteringslinjer],
            )
            received = await run_in_threadpool(service.receive, posting)
        except Refused as r:
            raise refused(r) from None
        return JSONResponse(posting_json(received.stored), status_code=201 if received.new else 200)

    @router.get("/posteringer")
    def postings(
        cvr: Annotated[str | None, Query(alias="MyndighedCVR", pattern=r"^\d{8}$")] = None,
        reference: Annotated[WireUuid | None, Query(alias="Reference")] = None,
        key: Annotated[str | None, Query(alias="FortsaettelsesNoegle", max_length=400)] = None,
        size: Annotated[int, Query(alias="Antal", ge=1, le=PAGE_MAX)] = PAGE,
    ) -> dict[str, Any]:
        """Postings of an authority (`MyndighedCVR`) and/or about one payment (`Reference`, its
        IndbetalingId), in order of arrival, `Antal` a page; `FortsaettelsesNoegle` is present
        while more follow."""
        try:
            page, next_key = service.postings_page(cvr, reference, key, size)
        except Refused as r:
            raise refused(r) from None
        answer: dict[str, Any] = {"Posteringer": [posting_json(s) for s in page]}
        if next_key:
            answer["FortsaettelsesNoegle"] = next_key
        return answer

    @router.get("/afstemning", responses={502: {"model": Problem}, 503: {"model": Problem}})
    async def reconciliation(
        cvr: Annotated[str, Query(alias="MyndighedCVR", pattern=r"^\d{8}$")],
    ) -> dict[str, Any]:
        """The three-way reconciliation of the authority: the fagsystems' payments, the
        debitorsystem's coverages, the finance postings and NemKonto's payment requests.
        `Antal` is how many payments (IndbetalingIds) were compared, `Afvigelser` every
        mismatch under the IndbetalingId it concerns. 502 when a part cannot be read (the text
        says which and why)."""
        if reconcile is None:
            raise ProblemError(503, "AFSTEMNING_IKKE_OPSAT", "Afstemningen har ingen kilder")
        try:
            result = await reconcile(cvr)
        except SourceUnavailable as exc:
            log.warning("reconciliation of %s could not read its sources: %s", cvr, exc)
            raise ProblemError(502, "KILDE_UTILGAENGELIG", str(exc)) from None
        return reconciliation_json(cvr, result)

    return router

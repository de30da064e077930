"""The case worker's payments and reversals (CONTRACT §9): JSON under the fagsystem's
`/api/v1/myndigheder/{cvr}`, guarded by its case-worker token.

(No `from __future__ import annotations` here: FastAPI reads the routes' annotations at
definition time, and they name dependencies made inside `payments_router`.)

What the fagsystem can judge alone is refused with a 4xx problem document before anything is
stored: a malformed body, an amount that is not a decimal > 0 with at most two places
(`BELOEB_UGYLDIGT`), a split that is not the payment's amount (`BELOEB_SUM_UGYLDIG`), a missing
or malformed `Idempotency-Key`, an unknown id (404), an authority the fagsystem has no agreement
with (403 `IKKE_ADGANG`). Everything else is the debitorsystem's to decide, and its answer is the
stored payment's state.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from indbetaling.fagsystem.domain import (
    FejlKode,
    PaymentState,
    Refused,
    Reversal,
    ReversalSource,
    ReversalState,
    Split,
)
from indbetaling.fagsystem.service import (
    PaymentRequest,
    PaymentService,
    PaymentView,
    ReversalRequest,
)
from indbetaling.http_errors import Problem, ProblemError
from indbetaling.ids import InvalidId, WireUuid, parse_part_id, parse_uuid
from indbetaling.instants import instant_text
from indbetaling.money import InvalidAmount, format_ore, parse_amount, parse_ore
from indbetaling.wire_text import FreeText

P = ParamSpec("P")
T = TypeVar("T")

STATUS_OF_CODE = {
    FejlKode.IKKE_ADGANG: 403,
    FejlKode.INDBETALING_UKENDT: 404,
    FejlKode.TILBAGEFOERSEL_UKENDT: 404,
    FejlKode.TRANSAKTION_KONFLIKT: 409,
    FejlKode.INDBETALING_IKKE_ACCEPTERET: 409,
    FejlKode.TILBAGEFOERSEL_FINDES: 409,
    FejlKode.TILBAGEFOERSEL_KONFLIKT: 409,
    FejlKode.TILBAGEFOERSEL_AFVIST: 409,
}
"""Every other FejlKode of the fagsystem's own is 422."""


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


AmountText = Annotated[str, Field(max_length=40, examples=["1234.50"])]


class PaymentIn(Wire):
    FordringId: WireUuid
    Beloeb: AmountText
    IndbetalerPartId: str = Field(max_length=64, examples=["urn:oio:cpr-nr:0101901234"])
    OrganisationsenhedId: WireUuid
    Tekst: FreeText | None = Field(default=None, max_length=200)


class ReversalIn(Wire):
    IndbetalingId: WireUuid
    Kilde: ReversalSource = Field(description="MANUEL_ADVIS or SAGSBEHANDLER")
    TilbagefoerselsOrdreId: WireUuid | None = None
    Tekst: FreeText | None = Field(default=None, max_length=200)


class SplitIn(Wire):
    Genindbetal: AmountText = Field(description="Paid again on the same claim; ≥ 0")
    Tilbagebetal: AmountText = Field(description="Paid back to the party's NemKonto; ≥ 0")


def _refused(r: Refused) -> ProblemError:
    return ProblemError(STATUS_OF_CODE.get(r.code, 422), r.code.value, r.text)


def _call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn`'s result; a refusal of the service as a problem document."""
    try:
        return fn(*args, **kwargs)
    except Refused as r:
        raise _refused(r) from None


async def _wait_for(work: Awaitable[T]) -> T:
    try:
        return await work
    except Refused as r:
        raise _refused(r) from None


def _amount(text: str, name: str = "Beloeb") -> int:
    try:
        return parse_amount(text)
    except InvalidAmount as exc:
        raise ProblemError(422, FejlKode.BELOEB_UGYLDIGT.value, f"{name}: {exc}") from None


def _share(text: str, name: str) -> int:
    """A part of a split: a decimal ≥ 0 with at most two places."""
    try:
        ore = parse_ore(text)
    except InvalidAmount as exc:
        raise ProblemError(422, FejlKode.BELOEB_UGYLDIGT.value, f"{name}: {exc}") from None
    if ore < 0 or text.strip().startswith("-"):
        raise ProblemError(422, FejlKode.BELOEB_UGYLDIGT.value, f"{name} må ikke være negativt")
    return ore


def _part_id(text: str) -> str:
    try:
        return parse_part_id(text)
    except InvalidId as exc:
        raise ProblemError(422, "PARTID_UGYLDIG", str(exc)) from None


def _idempotency_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise ProblemError(
            400,
            "IDEMPOTENCY_KEY_MANGLER",
            "Headeren Idempotency-Key (en UUID) skal angives, "
            "så et genforsøg ikke betaler to gange",
        )
    try:
        return str(parse_uuid(value.strip(), "Idempotency-Key"))
    except InvalidId as exc:
        raise ProblemError(400, "IDEMPOTENCY_KEY_UGYLDIG", str(exc)) from None


def _optional(data: dict[str, Any], **fields: object) -> dict[str, Any]:
    data.update({k: v for k, v in fields.items() if v is not None})
    return data


def payment_json(view: PaymentView) -> dict[str, Any]:
    """An `Indbetaling` (CONTRACT §9)."""
    p = view.payment
    data: dict[str, Any] = {
        "IndbetalingId": str(p.id),
        "FordringId": str(p.claim_id),
        "MyndighedCVR": p.authority_cvr,
        "Beloeb": format_ore(p.amount),
        "IndbetalerPartId": p.payer_part_id,
        "OrganisationsenhedId": str(p.org_unit_id),
        "Betalingsdato": p.payment_date.isoformat(),
        "Dato": instant_text(p.created_at),
        "Tilstand": p.state.value,
    }
    _optional(
        data,
        Tekst=p.text,
        FejlKode=p.error_code,
        FejlTekst=p.error_text,
        Restance=None if p.restance is None else format_ore(p.restance),
        DaekningId=p.coverage_id and str(p.coverage_id),
        TilbagefoerselId=view.active_reversal_id and str(view.active_reversal_id),
        GenindbetalingAfTilbagefoersel=p.repays_reversal_id and str(p.repays_reversal_id),
    )
    data["Haendelser"] = [
        {"Tidspunkt": instant_text(e.at), "Haendelse": e.kind.value, "Tekst": e.text}
        for e in view.events
    ]
    data["Posteringer"] = [str(posting) for posting in view.postings]
    return data


def reversal_json(r: Reversal) -> dict[str, Any]:
    """A `Tilbagefoersel` (CONTRACT §9), with `Genindbetal` and `Tilbagebetal` once fixed."""
    data: dict[str, Any] = {
        "TilbagefoerselId": str(r.id),
        "IndbetalingId": str(r.payment_id),
        "MyndighedCVR": r.authority_cvr,
        "Kilde": r.source.value,
        "Beloeb": format_ore(r.amount),
        "Tilstand": r.state.value,
        "Dato": instant_text(r.created_at),
    }
    execution = r.execution
    split = r.outcome
    _optional(
        data,
        TilbagefoerselsOrdreId=r.order_id and str(r.order_id),
        Overdaekning=None if r.overcoverage is None else format_ore(r.overcoverage),
        Tekst=r.text,
        FejlKode=r.error_code,
        FejlTekst=r.error_text,
        Automatisk=True if execution is not None and execution.automatic else None,
        Genindbetal=None if split is None else format_ore(split.repay),
        Tilbagebetal=None if split is None else format_ore(split.payback),
        GenindbetalingId=(
            str(execution.repay_payment_id)
            if execution and execution.split and execution.split.repay
            else None
        ),
        GenindbetalingAfvist=True if r.repay_refused else None,
        TilbagebetalingId=(
            str(execution.payback_id) if execution and split and split.payback else None
        ),
        Restance=None if r.restance_after is None else format_ore(r.restance_after),
    )
    return data


def payments_router(service: PaymentService) -> APIRouter:
    """The case worker's payment routes of one fagsystem; include it under the fagsystem's
    `/api/v1`, behind its `caseworker_guard`."""

    def authority(cvr: Annotated[str, Path(pattern=r"^\d{8}$")]) -> str:
        _call(service.check_authority, cvr)
        return cvr

    Cvr = Annotated[str, Depends(authority)]  # noqa: N806 - a type alias
    NextKey = Annotated[str | None, Query(alias="FortsaettelsesNoegle", max_length=400)]  # noqa: N806
    errors: dict[int | str, dict[str, Any]] = {
        c: {"model": Problem} for c in (400, 401, 403, 404, 409, 422)
    }
    router = APIRouter(prefix="/myndigheder/{cvr}", tags=["sagsbehandler"], responses=errors)

    @router.post("/indbetalinger", status_code=201, response_model=dict[str, Any])
    async def pay(
        cvr: Cvr,
        body: PaymentIn,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="Required, a UUID: the same key and body answer the same payment; "
                "the same key with another body answers 409 TRANSAKTION_KONFLIKT.",
            ),
        ] = None,
    ) -> JSONResponse:
        """Pay a claim: the payment is written `AFSENDT`, sent with ForetagIndbetaling, and
        answered as it is after a short wait (`ACCEPTERET`, `AFVIST`, or still `AFSENDT` while
        its answer is on its way: it is sent again until one comes)."""
        key = _idempotency_key(idempotency_key)
        request = PaymentRequest(
            claim_id=body.FordringId,
            amount=_amount(body.Beloeb),
            payer_part_id=_part_id(body.IndbetalerPartId),
            org_unit_id=body.OrganisationsenhedId,
            text=body.Tekst,
        )
        view = await _wait_for(service.pay(cvr, key, request))
        return JSONResponse(payment_json(view), status_code=201)

    @router.get("/indbetalinger/{payment_id}", response_model=dict[str, Any])
    def get_payment(cvr: Cvr, payment_id: WireUuid) -> dict[str, Any]:
        """One payment with its history (`Haendelser`) and its postings (`Posteringer`)."""
        return payment_json(_call(service.payment, cvr, payment_id))

    @router.get("/indbetalinger", response_model=dict[str, Any])
    def list_payments(
        cvr: Cvr,
        part_id: Annotated[str | None, Query(alias="PartId", max_length=64)] = None,
        claim_id: Annotated[WireUuid | None, Query(alias="FordringId")] = None,
        state: Annotated[PaymentState | None, Query(alias="Tilstand")] = None,
        key: NextKey = None,
    ) -> dict[str, Any]:
        """The authority's payments, newest first, 100 a page (`FortsaettelsesNoegle`)."""
        page = _call(
            service.payments,
            cvr,
            part_id=None if part_id is None else _part_id(part_id),
            claim_id=claim_id,
            state=state,
            key=key,
        )
        return _optional(
            {"Indbetalinger": [payment_json(v) for v in page.items]},
            FortsaettelsesNoegle=page.next_key,
        )

    @router.get("/tilbagefoersler", response_model=dict[str, Any])
    def list_reversals(
        cvr: Cvr,
        state: Annotated[ReversalState | None, Query(alias="Tilstand")] = None,
        key: NextKey = None,
    ) -> dict[str, Any]:
        """Reversals to handle (`AFVENTER`) or handled, newest first, 100 a page."""
        page = _call(service.reversals, cvr, state=state, key=key)
        return _optional(
            {"Tilbagefoersler": [reversal_json(r) for r in page.items]},
            FortsaettelsesNoegle=page.next_key,
        )

    @router.get("/tilbagefoersler/{reversal_id}", response_model=dict[str, Any])
    def get_reversal(cvr: Cvr, reversal_id: WireUuid) -> dict[str, Any]:
        return reversal_json(_call(service.reversal, cvr, reversal_id))

    @router.post("/tilbagefoersler", status_code=201, response_model=dict[str, Any])
    def create_reversal(cvr: Cvr, body: ReversalIn) -> JSONResponse:
        """Put a reversal in motion by hand (`AFVENTER`): 201; the same again answers the
        reversal it made, 200; while the payment has another, 409 TILBAGEFOERSEL_FINDES."""
        request = ReversalRequest(
            payment_id=body.IndbetalingId,
            source=body.Kilde,
            order_id=body.TilbagefoerselsOrdreId,
            text=body.Tekst,
        )
        reversal, new = _call(service.create_reversal, cvr, request)
        return JSONResponse(reversal_json(reversal), status_code=201 if new else 200)

    @router.post("/tilbagefoersler/{reversal_id}/udfoer", response_model=dict[str, Any])
    async def execute(cvr: Cvr, reversal_id: WireUuid, body: SplitIn) -> dict[str, Any]:
        """Execute: reverse at the debitorsystem, pay `Genindbetal` again on the same claim and
        pay `Tilbagebetal` back to the party (each skipped when 0); the two add up to the
        payment's amount. Answers the reversal: `UDFOERT`, or `AFVENTER` while the answer is on
        its way (it settles by itself). The same again changes nothing (R4)."""
        split = Split(
            _share(body.Genindbetal, "Genindbetal"), _share(body.Tilbagebetal, "Tilbagebetal")
        )
        return reversal_json(await _wait_for(service.execute(cvr, reversal_id, split)))

    return router

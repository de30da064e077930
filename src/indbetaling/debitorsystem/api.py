"""The collections staff REST API of the debitorsystem (FastAPI, OpenAPI).

(No `from __future__ import annotations` here: FastAPI reads the routes' annotations at
definition time, and they name dependencies made inside `staff_router`.)

Every call carries `Authorization: Bearer <staff token>`; a token belongs to one authority and
reaches only that authority's data (a path with another CVR answers 403). Amounts are decimal
texts with at most two decimals. Business refusals answer 4xx with a problem document (RFC 9457,
`indbetaling.http_errors`) that carries `FejlKode` and a Danish `FejlTekst`; nothing is changed
by a refused call.
"""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from indbetaling.debitorsystem import domain
from indbetaling.debitorsystem.domain import ClaimLedger, FejlKode, Rejected
from indbetaling.debitorsystem.service import DebitorService, InvalidRequest
from indbetaling.debitorsystem.staff import LedgerChange, NewClaim, Step
from indbetaling.fordring import LiableParty, view_to_json
from indbetaling.http_errors import Problem, ProblemError
from indbetaling.ids import WireUuid, parse_cvr
from indbetaling.instants import instant_text
from indbetaling.money import InvalidAmount, format_ore, parse_amount
from indbetaling.wire_text import CodeText, FreeText

T = TypeVar("T")

AMOUNT_PATTERN = r"^\s*[+]?[0-9]{1,13}(\.[0-9]*)?\s*$"
Amount = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["1234.50"], max_length=40)]

BEARER = {"WWW-Authenticate": "Bearer"}
STATUS_OF_CODE = {
    FejlKode.FORDRING_UKENDT: status.HTTP_404_NOT_FOUND,
    FejlKode.BELOEB_UGYLDIGT: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewAccountIn(Wire):
    DebitorkontoTypeKode: CodeText = Field(min_length=1, max_length=40)
    EjerFagsystemId: WireUuid | None = None


class AccountOut(BaseModel):
    DebitorkontoId: WireUuid


class HaefterIn(Wire):
    PartId: str = Field(max_length=40)
    HaefterRolle: CodeText = Field(min_length=1, max_length=40)


class NewClaimIn(Wire):
    DebitorkontoId: WireUuid
    KravtypeKode: CodeText = Field(min_length=1, max_length=40)
    Hovedstol: Amount
    Forfaldsdato: date
    SidsteRettidigeBetalingsdato: date
    BetalingsperiodeFra: date | None = None
    BetalingsperiodeTil: date | None = None
    Haefterkreds: list[HaefterIn] = Field(min_length=1, max_length=20)


class AmountIn(Wire):
    Beloeb: Amount
    Tekst: FreeText | None = Field(default=None, max_length=200)


class TextIn(Wire):
    Tekst: FreeText | None = Field(default=None, max_length=200)


def order_json(o: domain.ReversalOrder) -> dict[str, Any]:
    return {
        "TilbagefoerselsOrdreId": str(o.id),
        "IndbetalingId": str(o.payment_id),
        "FordringId": str(o.claim_id),
        "FagsystemId": str(o.owner_id),
        "MyndighedCVR": o.authority_cvr,
        "Beloeb": format_ore(o.amount),
        "Overdaekning": format_ore(o.overcoverage),
        "AarsagKode": o.reason.value,
        "Tekst": o.text,
        "Dannelsestidspunkt": instant_text(o.created_at),
        "Tilstand": o.state.value,
        "Bemaerkning": o.delivery_note,
    }


def ledger_json(ledger: ClaimLedger) -> dict[str, Any]:
    """The claim's detail view: the wire view plus its coverages, write-downs and orders."""
    return {
        "Fordring": view_to_json(ledger.view()),
        "Daekninger": [
            {
                "DaekningId": str(c.id),
                "Kilde": c.source.value,
                "Beloeb": format_ore(c.amount),
                "IndbetalingId": str(c.payment.payment_id) if c.payment else None,
                "FagsystemId": str(c.owner_id) if c.owner_id else None,
                "Tilbagefoert": c.reversed,
            }
            for c in ledger.coverages
        ],
        "Nedreguleringer": [
            {"Beloeb": format_ore(w.amount), "Art": w.kind.value, "Tekst": w.text}
            for w in ledger.write_downs
        ],
        "TilbagefoerselsOrdrer": [order_json(o) for o in ledger.orders],
    }


def _amount(text: str) -> int:
    try:
        return parse_amount(text)
    except InvalidAmount as exc:
        raise ProblemError(422, FejlKode.BELOEB_UGYLDIGT.value, str(exc)) from None


StaffKey = Annotated[
    WireUuid | None,
    Header(
        alias="Idempotency-Key",
        description="Optional: a retry with the same key and body gets the same answer without "
        "the change being made again; the same key with another body answers 409 "
        "TRANSAKTION_KONFLIKT. Keys belong to the token's authority.",
    ),
]


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Rejected as r:
        raise ProblemError(STATUS_OF_CODE.get(r.code, 409), r.code.value, r.text) from None
    except InvalidRequest as exc:
        raise ProblemError(422, "UGYLDIG_FORESPOERGSEL", str(exc)) from None


def staff_router(service: DebitorService) -> APIRouter:
    """Routes for collections staff; mount under the debitorsystem's prefix."""

    def authority(
        cvr: Annotated[str, Path(pattern=r"^\d{8}$")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ProblemError(401, "IKKE_AUTENTIFICERET", "Token mangler", BEARER)
        owner = service.staff_authority(token.strip())
        if owner is None:
            raise ProblemError(401, "IKKE_AUTENTIFICERET", "Ukendt token", BEARER)
        if owner != parse_cvr(cvr):
            raise ProblemError(403, "IKKE_ADGANG", "Tokenet giver ikke adgang til denne myndighed")
        return cvr

    Cvr = Annotated[str, Depends(authority)]  # noqa: N806 - a type alias
    errors: dict[int | str, dict[str, Any]] = {
        c: {"model": Problem} for c in (401, 403, 404, 409, 422)
    }
    router = APIRouter(prefix="/api/v1/myndigheder/{cvr}", tags=["opkrævning"], responses=errors)

    def once(
        cvr: str,
        key: UUID | None,
        operation: str,
        request: dict[str, Any],
        *,
        step: Callable[[], Step[T]],
        render: Callable[[T], dict[str, Any]],
        status_code: int = 200,
    ) -> Response:
        """Run a staff change once per Idempotency-Key (CONTRACT §10) and answer what it
        rendered, the first time and on every retry alike."""
        stored = _call(
            lambda: service.once(
                cvr, str(key) if key else None, operation, request, step=step(), render=render
            )
        )
        return Response(stored, status_code=status_code, media_type="application/json")

    @router.post("/debitorkonti", status_code=201, response_model=AccountOut)
    def create_account(cvr: Cvr, body: NewAccountIn, key: StaffKey = None) -> Response:
        return once(
            cvr,
            key,
            "OpretDebitorkonto",
            body.model_dump(mode="json"),
            step=lambda: service.account_step(cvr, body.DebitorkontoTypeKode, body.EjerFagsystemId),
            render=lambda account_id: {"DebitorkontoId": str(account_id)},
            status_code=201,
        )

    @router.post("/fordringer", status_code=201, response_model=dict[str, Any])
    def create_claim(cvr: Cvr, body: NewClaimIn, key: StaffKey = None) -> Response:
        parties = tuple(LiableParty(h.PartId, h.HaefterRolle) for h in body.Haefterkreds)
        new = NewClaim(
            account_id=body.DebitorkontoId,
            claim_type_code=body.KravtypeKode,
            principal=_amount(body.Hovedstol),
            due_date=body.Forfaldsdato,
            last_timely_payment_date=body.SidsteRettidigeBetalingsdato,
            liable_parties=parties,
            payment_period_from=body.BetalingsperiodeFra,
            payment_period_to=body.BetalingsperiodeTil,
        )
        return once(
            cvr,
            key,
            "OpretFordring",
            body.model_dump(mode="json"),
            step=lambda: service.claim_step(cvr, new),
            render=ledger_json,
            status_code=201,
        )

    @router.get("/fordringer/{claim_id}")
    def get_claim(cvr: Cvr, claim_id: WireUuid) -> dict[str, Any]:
        return ledger_json(_call(service.claim, cvr, claim_id))

    def change_claim(
        cvr: str,
        key: UUID | None,
        operation: str,
        claim_id: UUID,
        body: Wire,
        *,
        step: Callable[[], Step[LedgerChange]],
        status_code: int = 200,
    ) -> Response:
        """A change of one claim, once per Idempotency-Key; answers the claim's detail view."""
        request = {"FordringId": str(claim_id), **body.model_dump(mode="json")}
        return once(
            cvr,
            key,
            operation,
            request,
            step=step,
            render=lambda change: ledger_json(change.ledger),
            status_code=status_code,
        )

    @router.post("/fordringer/{claim_id}/nedreguleringer", response_model=dict[str, Any])
    def write_down(cvr: Cvr, claim_id: WireUuid, body: AmountIn, key: StaffKey = None) -> Response:
        amount = _amount(body.Beloeb)
        return change_claim(
            cvr,
            key,
            "Nedregulering",
            claim_id,
            body,
            step=lambda: service.write_down_step(cvr, claim_id, amount, body.Tekst),
        )

    @router.post("/fordringer/{claim_id}/annullering", response_model=dict[str, Any])
    def annul(cvr: Cvr, claim_id: WireUuid, body: TextIn, key: StaffKey = None) -> Response:
        return change_claim(
            cvr,
            key,
            "Annullering",
            claim_id,
            body,
            step=lambda: service.annul_step(cvr, claim_id, body.Tekst),
        )

    @router.post(
        "/fordringer/{claim_id}/daekninger", status_code=201, response_model=dict[str, Any]
    )
    def other_coverage(
        cvr: Cvr, claim_id: WireUuid, body: AmountIn, key: StaffKey = None
    ) -> Response:
        amount = _amount(body.Beloeb)
        return change_claim(
            cvr,
            key,
            "AndenDaekning",
            claim_id,
            body,
            step=lambda: service.other_coverage_step(cvr, claim_id, amount),
            status_code=201,
        )

    @router.get("/tilbagefoerselsordrer")
    def orders(cvr: Cvr, tilstand: domain.OrderState | None = None) -> list[dict[str, Any]]:
        return [order_json(o) for o in service.reversal_orders(cvr, tilstand)]

    return router

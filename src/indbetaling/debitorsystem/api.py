"""The collections staff REST API of the debitorsystem (FastAPI, OpenAPI).

(No `from __future__ import annotations` here: FastAPI reads the routes' annotations at
definition time, and they name dependencies made inside `staff_router`.)

Every call carries `Authorization: Bearer <staff token>`; a token belongs to one authority and
reaches only that authority's data (a path with another CVR answers 403). Amounts are decimal
texts with at most two decimals. Business refusals answer 4xx with a problem document (RFC 9457,
`indbetaling.http_errors`) that carries `FejlKode` and a Danish `FejlTekst`; nothing is changed
by a refused call.
"""

import hmac
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from indbetaling.bearer import bearer_token
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
    FejlKode.TILBAGEFOERSELSORDRE_UKENDT: status.HTTP_404_NOT_FOUND,
    FejlKode.DAEKNING_UKENDT: status.HTTP_404_NOT_FOUND,
    FejlKode.FAGSYSTEM_UKENDT: status.HTTP_404_NOT_FOUND,
    FejlKode.MYNDIGHED_UKENDT: status.HTTP_404_NOT_FOUND,
    FejlKode.DEBITORKONTOTYPE_UKENDT: status.HTTP_422_UNPROCESSABLE_CONTENT,
    FejlKode.KRAVTYPE_UKENDT: status.HTTP_422_UNPROCESSABLE_CONTENT,
    FejlKode.KLASSE_UKENDT: status.HTTP_422_UNPROCESSABLE_CONTENT,
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


class ReasonIn(Wire):
    """Why a member of staff does a manual step (who is the staff token's name)."""

    Begrundelse: str = Field(min_length=1, max_length=200)


class SortimentIn(Wire):
    """A fagsystem's sortiment for the authority: the ORG units it may pay from and the account
    and claim types (KLA classes, `indbetaling.kla`) it may use."""

    Organisationsenheder: list[UUID] = Field(max_length=1000)
    Typer: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(max_length=1000)


NEXT_KEY_HEADER = "FortsaettelsesNoegle"
"""The response header carrying the key of a paged list's next page (absent on the last)."""


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
        "LukketAf": o.closed_by,
        "Begrundelse": o.closed_reason,
        "Lukketidspunkt": o.closed_at.isoformat() if o.closed_at else None,
    }


def overcoverage_json(ledger: ClaimLedger) -> dict[str, Any]:
    """A claim with over-coverage that no open reversal order answers, and its other
    coverages that staff may reverse to resolve it."""
    return {
        "FordringId": str(ledger.claim.id),
        "Overdaekning": format_ore(ledger.overcoverage),
        "UbesvaretOverdaekning": format_ore(domain.unanswered_overcoverage(ledger)),
        "AndreDaekninger": [
            {"DaekningId": str(c.id), "Beloeb": format_ore(c.amount)}
            for c in ledger.coverages
            if c.source is domain.CoverageSource.OTHER and not c.reversed
        ],
    }


def coverage_json(c: domain.Coverage) -> dict[str, Any]:
    return {
        "DaekningId": str(c.id),
        "Kilde": c.source.value,
        "Beloeb": format_ore(c.amount),
        "IndbetalingId": str(c.payment.payment_id) if c.payment else None,
        "FagsystemId": str(c.owner_id) if c.owner_id else None,
        "Tilbagefoert": c.reversed,
    }


def ledger_json(ledger: ClaimLedger) -> dict[str, Any]:
    """The claim's detail view: the wire view plus its coverages, write-downs and orders."""
    return {
        "Fordring": view_to_json(ledger.view()),
        "Daekninger": [coverage_json(c) for c in ledger.coverages],
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

    def staff_member(cvr: Cvr, authorization: Annotated[str | None, Header()] = None) -> str:
        """Who calls (the staff token's name); the token was checked by `authority`."""
        del cvr
        name = service.staff_name((authorization or "").partition(" ")[2].strip())
        if name is None:  # the token was withdrawn between the two look-ups
            raise ProblemError(401, "IKKE_AUTENTIFICERET", "Ukendt token", BEARER)
        return name

    StaffMember = Annotated[str, Depends(staff_member)]  # noqa: N806 - a type alias
    Size = Annotated[int, Query(alias="Antal", ge=1, le=1000)]  # noqa: N806 - a type alias
    Key = Annotated[str | None, Query(alias="FortsaettelsesNoegle", max_length=400)]  # noqa: N806
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
    def orders(
        cvr: Cvr,
        response: Response,
        *,
        state: Annotated[domain.OrderState | None, Query(alias="Tilstand")] = None,
        tilstand: Annotated[
            domain.OrderState | None, Query(deprecated=True, description="Use Tilstand")
        ] = None,
        key: Key = None,
        size: Size = 100,
    ) -> list[dict[str, Any]]:
        """A page of the authority's reversal orders, newest first; the next page's key is in
        the `FortsaettelsesNoegle` response header (bound to this query), absent on the last."""
        page, next_key = _call(service.reversal_orders_page, cvr, state or tilstand, key, size)
        if next_key:
            response.headers[NEXT_KEY_HEADER] = next_key
        return [order_json(o) for o in page]

    _manual_routes(router, service, Cvr=Cvr, StaffMember=StaffMember, Key=Key, Size=Size)
    return router


def _manual_routes(
    router: APIRouter,
    service: DebitorService,
    *,
    Cvr: Any,  # noqa: N803 - the type aliases of `staff_router`
    StaffMember: Any,  # noqa: N803
    Key: Any,  # noqa: N803
    Size: Any,  # noqa: N803
) -> None:
    """The staff's manual handling (closing orders, resolving over-coverage) and sortiment."""

    @router.post("/tilbagefoerselsordrer/{order_id}/lukning")
    def close_order(cvr: Cvr, order_id: UUID, body: ReasonIn, who: StaffMember) -> dict[str, Any]:
        """Close an order that waits for manual handling (MANUEL → LUKKET); 409 otherwise."""
        return order_json(_call(service.close_order, cvr, order_id, who, body.Begrundelse))

    @router.put("/fagsystemer/{fagsystem_id}/sortiment")
    def set_sortiment(cvr: Cvr, fagsystem_id: UUID, body: SortimentIn) -> dict[str, Any]:
        """Replace the fagsystem's sortiment for this authority (R10); unknown class → 422."""
        _call(service.set_assortment, cvr, fagsystem_id, body.Organisationsenheder, body.Typer)
        return get_sortiment(cvr, fagsystem_id)

    @router.get("/fagsystemer/{fagsystem_id}/sortiment")
    def get_sortiment(cvr: Cvr, fagsystem_id: UUID) -> dict[str, Any]:
        units, types = _call(service.assortment, cvr, fagsystem_id)
        return {"Organisationsenheder": [str(u) for u in units], "Typer": types}

    @router.get("/overdaekninger")
    def overcoverages(
        cvr: Cvr, response: Response, key: Key = None, size: Size = 100
    ) -> list[dict[str, Any]]:
        """Claims with over-coverage that no open reversal order answers (from other
        coverages, ANDEN, which no fagsystem reverses), by FordringId, paged like the orders."""
        page, next_key = _call(service.unanswered_overcoverages, cvr, key, size)
        if next_key:
            response.headers[NEXT_KEY_HEADER] = next_key
        return [overcoverage_json(ledger) for ledger in page]

    @router.post("/fordringer/{claim_id}/daekninger/{coverage_id}/tilbagefoersel")
    def reverse_other_coverage(
        cvr: Cvr, claim_id: UUID, coverage_id: UUID, body: ReasonIn, who: StaffMember
    ) -> dict[str, Any]:
        """Reverse another coverage (ANDEN) in full to resolve over-coverage (see `manual`)."""
        change = _call(
            service.reverse_other_coverage, cvr, claim_id, coverage_id, who, body.Begrundelse
        )
        return ledger_json(change.ledger)


def coverage_router(service: DebitorService, *, auditor_token: str | None) -> APIRouter:
    """The authority's coverages for reconciliation: open to that authority's staff and to the
    debitorsystem's auditor (`auditor_token`, for every authority); mount under the prefix."""

    def reader(cvr: Annotated[str, Path(pattern=r"^\d{8}$")], request: Request) -> str:
        token = bearer_token(request)
        if auditor_token and hmac.compare_digest(token.encode(), auditor_token.encode()):
            return cvr
        owner = service.staff_authority(token)
        if owner is None:
            raise ProblemError(401, "IKKE_AUTENTIFICERET", "Ukendt token", BEARER)
        if owner != cvr:
            raise ProblemError(403, "IKKE_ADGANG", "Tokenet giver ikke adgang til denne myndighed")
        return cvr

    errors: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (401, 403, 404, 422)}
    router = APIRouter(prefix="/api/v1/myndigheder/{cvr}", tags=["afstemning"], responses=errors)

    @router.get("/daekninger")
    def coverages(
        cvr: Annotated[str, Depends(reader)],
        key: Annotated[str | None, Query(alias="FortsaettelsesNoegle", max_length=400)] = None,
        size: Annotated[int, Query(alias="Antal", ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Every coverage of the authority (payments, other coverages, reversed ones too) in
        order of arrival, `Antal` a page; `FortsaettelsesNoegle` is present while more follow
        and is bound to this authority."""
        page, next_key = _call(service.coverages_page, cvr, key, size)
        body: dict[str, Any] = {
            "Daekninger": [{"FordringId": str(c.claim_id), **coverage_json(c)} for c in page]
        }
        if next_key:
            body["FortsaettelsesNoegle"] = next_key
        return body

    return router

"""Paying one of a citizen's claims:

    GET  …/borgere/<cpr>/fordringer/<claim>/betal           the payment form (`Betal`)
    POST …/borgere/<cpr>/fordringer/<claim>/betal           → the confirm step (`Bekræft`)
    POST …/borgere/<cpr>/fordringer/<claim>/betal/bekraeft  pays → the payment's page

The amount is prefilled with the claim's Restance and may not exceed it; the confirm step
carries an Idempotency-Key made when it is shown, so confirming twice pays once. What the
debitorsystem then decides (ACCEPTERET, or AFVIST with its FejlTekst) the payment's page shows.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.fagsystem import claims
from indbetaling.fagsystem.domain import Refused
from indbetaling.fagsystem.service import PaymentRequest
from indbetaling.fagsystem.ui.site import FagsystemSite, party_in_path, refusal, uuid_in_path
from indbetaling.fordring import ClaimView
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.money import InvalidAmount
from indbetaling.ui.access import PageError, field
from indbetaling.ui.kroner import format_field, format_kroner, parse_positive_kroner
from indbetaling.wire_text import ControlCharacter, free_text

MAX_TEXT = 200


@dataclass(frozen=True)
class PaymentForm:
    """What the payment form holds, as typed."""

    amount: str
    org_unit: str
    text: str


@dataclass(frozen=True)
class CheckedPayment:
    amount: int
    org_unit: UUID
    text: str | None


def _read_form(form: FormData) -> PaymentForm:
    return PaymentForm(
        field(form, "beloeb", 60), field(form, "organisationsenhed", 60), field(form, "tekst", 400)
    )


def check_payment(
    typed: PaymentForm, claim: ClaimView, org_units: list[UUID]
) -> tuple[CheckedPayment | None, dict[str, str]]:
    """The payment a form asks for, or what is wrong with it (by field)."""
    errors: dict[str, str] = {}
    amount = 0
    try:
        amount = parse_positive_kroner(typed.amount)
    except InvalidAmount as exc:
        errors["beloeb"] = str(exc)
    else:
        if amount > claim.restance:
            errors["beloeb"] = (
                f"Beløbet er større end fordringens restance ({format_kroner(claim.restance)})"
            )
    unit: UUID | None = None
    try:
        unit = parse_uuid(typed.org_unit, "Organisationsenheden")
    except InvalidId:
        unit = None
    if unit not in org_units:
        errors["organisationsenhed"] = "Vælg en af fagsystemets organisationsenheder"
    text = typed.text.strip()
    if len(text) > MAX_TEXT:
        errors["tekst"] = f"Teksten må højst være {MAX_TEXT} tegn"
    else:
        try:
            free_text(text, "Teksten")
        except ControlCharacter as exc:
            errors["tekst"] = str(exc)
    if errors or unit is None:
        return None, errors
    return CheckedPayment(amount, unit, text or None), {}


def pay_router(site: FagsystemSite) -> APIRouter:
    pages = site.pages
    service = site.service
    router = pages.router(site.root)
    party = party_in_path

    async def claim_of(cvr: str, part_id: str, claim_text: str, *, ask: bool) -> ClaimView:
        """The party's payable claim; asked of the debitorsystem first when `ask`."""
        claim_id = uuid_in_path(claim_text, "FordringId")
        if ask:
            found = (await site.claims_now(cvr, part_id)).find(claim_id)
        else:
            listed = await asyncio.to_thread(
                claims.payable_claims, service.engine, site.id, cvr, part_id
            )
            found = next((c for c in listed if c.claim_id == claim_id), None)
        if found is None:
            raise PageError(
                404,
                "Fordringen kan ikke betales",
                f"Fordringen er ikke blandt borgerens betalbare fordringer hos "
                f"{site.authority_text(cvr)}.",
                "FORDRING_UKENDT",
            )
        return found

    def pay_page(
        request: Request,
        *,
        cvr: str,
        part_id: str,
        claim: ClaimView,
        typed: PaymentForm,
        errors: dict[str, str],
        status: int = 200,
    ) -> Response:
        return pages.render(
            request,
            "fagsystem/pay.html",
            status=status,
            nav=site.nav(cvr, "search"),
            site=site,
            cvr=cvr,
            part_id=part_id,
            claim=claim,
            typed=typed,
            errors=errors,
            org_units=site.org_units(cvr),
        )

    base = "/myndigheder/{cvr}/borgere/{cpr}/fordringer/{claim_text}/betal"

    @router.get(base)
    async def pay_form(request: Request, cvr: str, cpr: str, claim_text: str) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        part_id = party(cpr)
        claim = await claim_of(cvr, part_id, claim_text, ask=True)
        units = site.org_units(cvr)
        typed = PaymentForm(format_field(claim.restance), str(units[0]) if units else "", "")
        return pay_page(request, cvr=cvr, part_id=part_id, claim=claim, typed=typed, errors={})

    @router.post(base)
    async def pay_check(request: Request, cvr: str, cpr: str, claim_text: str) -> Response:
        site.case_worker(request)
        form = await pages.access.form(request)
        site.authority(cvr)
        part_id = party(cpr)
        claim = await claim_of(cvr, part_id, claim_text, ask=True)
        typed = _read_form(form)
        checked, errors = check_payment(typed, claim, site.org_units(cvr))
        if checked is None:
            return pay_page(
                request,
                cvr=cvr,
                part_id=part_id,
                claim=claim,
                typed=typed,
                errors=errors,
                status=422,
            )
        return pages.render(
            request,
            "fagsystem/pay_confirm.html",
            nav=site.nav(cvr, "search"),
            site=site,
            cvr=cvr,
            part_id=part_id,
            claim=claim,
            payment=checked,
            key=str(uuid.uuid4()),
        )

    @router.post(base + "/bekraeft")
    async def pay(request: Request, cvr: str, cpr: str, claim_text: str) -> Response:
        site.case_worker(request)
        form = await pages.access.form(request)
        site.authority(cvr)
        part_id = party(cpr)
        claim = await claim_of(cvr, part_id, claim_text, ask=False)
        typed = _read_form(form)
        checked, errors = check_payment(typed, claim, site.org_units(cvr))
        if checked is None:
            return pay_page(
                request,
                cvr=cvr,
                part_id=part_id,
                claim=claim,
                typed=typed,
                errors=errors,
                status=422,
            )
        try:
            key = str(parse_uuid(field(form, "noegle", 60), "Nøglen"))
        except InvalidId:
            raise PageError(
                400, "Betalingen kunne ikke sendes", "Bekræftelsen mangler sin nøgle; prøv igen."
            ) from None
        asked = PaymentRequest(
            claim.claim_id, checked.amount, part_id, checked.org_unit, checked.text
        )
        try:
            view = await service.pay(cvr, key, asked)
        except Refused as refused:
            error = refusal(refused)
            return pay_page(
                request,
                cvr=cvr,
                part_id=part_id,
                claim=claim,
                typed=typed,
                errors={"beloeb": error.text},
                status=error.status,
            )
        return pages.redirect(
            request, f"{site.base(cvr)}/indbetalinger/{view.payment.id}?besked=betalt"
        )

    return router

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
from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.fagsystem import claims
from indbetaling.fagsystem.domain import Refused
from indbetaling.fagsystem.service import PaymentRequest
from indbetaling.fagsystem.ui.site import FagsystemSite, refusal
from indbetaling.fordring import ClaimView
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.money import InvalidAmount
from indbetaling.ui.access import PageError, field
from indbetaling.ui.checks import text_error
from indbetaling.ui.confirm import checked, key_of, new_key
from indbetaling.ui.kroner import format_field, format_kroner, parse_positive_kroner
from indbetaling.ui.site import party_in_path, uuid_in_path

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


@dataclass(frozen=True)
class PostedPayment:
    """A POSTed pay form that holds, with the claim it pays."""

    form: FormData
    part_id: str
    claim: ClaimView
    typed: PaymentForm
    payment: CheckedPayment


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
    wrong = text_error(text, "Teksten", MAX_TEXT)
    if wrong:
        errors["tekst"] = wrong
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
        return site.render(
            request,
            "fagsystem/pay.html",
            cvr,
            "search",
            status=status,
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

    async def read_payment(
        request: Request, cvr: str, cpr: str, claim_text: str, *, ask: bool
    ) -> PostedPayment:
        """Both POSTs: the form, checked against the claim (else the form again, 422)."""
        site.case_worker(request)
        form = await pages.access.form(request)
        site.authority(cvr)
        part_id = party(cpr)
        claim = await claim_of(cvr, part_id, claim_text, ask=ask)
        typed = _read_form(form)
        payment = checked(
            check_payment(typed, claim, site.org_units(cvr)),
            lambda errors: pay_page(
                request,
                cvr=cvr,
                part_id=part_id,
                claim=claim,
                typed=typed,
                errors=errors,
                status=422,
            ),
        )
        return PostedPayment(form, part_id, claim, typed, payment)

    @router.post(base)
    async def pay_check(request: Request, cvr: str, cpr: str, claim_text: str) -> Response:
        posted = await read_payment(request, cvr, cpr, claim_text, ask=True)
        return site.render(
            request,
            "fagsystem/pay_confirm.html",
            cvr,
            "search",
            part_id=posted.part_id,
            claim=posted.claim,
            payment=posted.payment,
            key=new_key(),
        )

    @router.post(base + "/bekraeft")
    async def pay(request: Request, cvr: str, cpr: str, claim_text: str) -> Response:
        posted = await read_payment(request, cvr, cpr, claim_text, ask=False)
        key = key_of(posted.form, "Betalingen kunne ikke sendes")
        payment = posted.payment
        asked = PaymentRequest(
            posted.claim.claim_id, payment.amount, posted.part_id, payment.org_unit, payment.text
        )
        try:
            view = await service.pay(cvr, key, asked)
        except Refused as refused:
            error = refusal(refused)
            return pay_page(
                request,
                cvr=cvr,
                part_id=posted.part_id,
                claim=posted.claim,
                typed=posted.typed,
                errors={"beloeb": error.text},
                status=error.status,
            )
        return pages.redirect(
            request, f"{site.base(cvr)}/indbetalinger/{view.payment.id}?besked=betalt"
        )

    return router

"""One reversal, and executing it:

    GET  …/myndigheder/<cvr>/tilbagefoersler/<id>                 the reversal, its split form
    POST …/tilbagefoersler/<id>/udfoer                            `Tilbagefør` → confirm step
    POST …/tilbagefoersler/<id>/udfoer/bekraeft                   `Bekræft`: executes it

The split between paying again and paying back is prefilled as the `AUTOMATISK` policy would
make it: Genindbetal = the smaller of the payment and the Restance the claim will have after
the reversal, the rest paid back.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.fagsystem.domain import (
    Refused,
    Reversal,
    ReversalState,
    Split,
    suggested_split,
)
from indbetaling.fagsystem.service import PaymentView
from indbetaling.fagsystem.ui import labels
from indbetaling.fagsystem.ui.site import FagsystemSite, refusal
from indbetaling.money import InvalidAmount
from indbetaling.ui.access import field
from indbetaling.ui.confirm import FormRefused
from indbetaling.ui.kroner import format_field, format_kroner, parse_share
from indbetaling.ui.site import QueryText, uuid_in_path

MESSAGES = {
    "registreret": "Tilbageførslen er registreret og venter på at blive udført.",
    "udfoert": "Tilbageførslen er sendt til debitorsystemet.",
}


@dataclass(frozen=True)
class SplitForm:
    repay: str
    payback: str


def check_split(typed: SplitForm, amount: int) -> tuple[Split | None, dict[str, str]]:
    errors: dict[str, str] = {}
    shares: dict[str, int] = {}
    for name, label, text in (
        ("genindbetal", "Genindbetal", typed.repay),
        ("tilbagebetal", "Tilbagebetal", typed.payback),
    ):
        try:
            shares[name] = parse_share(text, label)
        except InvalidAmount as exc:
            errors[name] = str(exc)
    if errors:
        return None, errors
    split = Split(shares["genindbetal"], shares["tilbagebetal"])
    if split.repay + split.payback != amount:
        return None, {
            "genindbetal": "Genindbetal og Tilbagebetal skal tilsammen være indbetalingens "
            f"beløb ({format_kroner(amount)})"
        }
    return split, {}


def reversal_router(site: FagsystemSite) -> APIRouter:
    pages = site.pages
    service = site.service
    router = pages.router(site.root + "/myndigheder/{cvr}/tilbagefoersler")

    async def load(cvr: str, reversal_text: str) -> tuple[Reversal, PaymentView]:
        reversal_id = uuid_in_path(reversal_text, "TilbagefoerselId")
        reversal = await site.call(service.reversal, cvr, reversal_id)
        payment = await site.call(service.payment, cvr, reversal.payment_id)
        return reversal, payment

    async def reversal_page(
        request: Request,
        cvr: str,
        reversal: Reversal,
        payment: PaymentView,
        *,
        typed: SplitForm | None = None,
        errors: dict[str, str] | None = None,
        message: str = "",
        status: int = 200,
    ) -> Response:
        open_ = reversal.state is ReversalState.AFVENTER and reversal.execution is None
        stale = False
        restance: int | None = None
        if open_ and typed is None:
            p = payment.payment
            found = await site.claims_now(cvr, p.payer_part_id)
            claim = found.find(p.claim_id)
            restance = 0 if claim is None else claim.restance
            stale = found.stale
            split = suggested_split(reversal.amount, restance, reversal.overcoverage)
            typed = SplitForm(format_field(split.repay), format_field(split.payback))
        return site.render(
            request,
            "fagsystem/reversal.html",
            cvr,
            "reversals",
            status=status,
            r=reversal,
            view=payment,
            p=payment.payment,
            open=open_,
            typed=typed,
            errors=errors or {},
            restance=restance,
            stale=stale,
            message=message,
            labels=labels,
        )

    @router.get("/{reversal_text}")
    async def reversal(
        request: Request, cvr: str, reversal_text: str, besked: QueryText = None
    ) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        found, payment = await load(cvr, reversal_text)
        return await reversal_page(
            request, cvr, found, payment, message=MESSAGES.get(besked or "", "")
        )

    def split_form(form: FormData) -> SplitForm:
        return SplitForm(field(form, "genindbetal", 60), field(form, "tilbagebetal", 60))

    async def read_split(
        request: Request, cvr: str, reversal_text: str
    ) -> tuple[Reversal, PaymentView, SplitForm, Split]:
        """Both POSTs: the split, checked against the payment (else the form again, 422)."""
        site.case_worker(request)
        form = await pages.access.form(request)
        site.authority(cvr)
        found, payment = await load(cvr, reversal_text)
        typed = split_form(form)
        split, errors = check_split(typed, found.amount)
        if split is None:
            raise FormRefused(
                await reversal_page(
                    request, cvr, found, payment, typed=typed, errors=errors, status=422
                )
            )
        return found, payment, typed, split

    @router.post("/{reversal_text}/udfoer")
    async def execute_check(request: Request, cvr: str, reversal_text: str) -> Response:
        found, payment, _, split = await read_split(request, cvr, reversal_text)
        return site.render(
            request,
            "fagsystem/reversal_confirm.html",
            cvr,
            "reversals",
            r=found,
            p=payment.payment,
            split=split,
            labels=labels,
        )

    @router.post("/{reversal_text}/udfoer/bekraeft")
    async def execute(request: Request, cvr: str, reversal_text: str) -> Response:
        found, payment, typed, split = await read_split(request, cvr, reversal_text)
        try:
            await service.execute(cvr, found.id, split)
        except Refused as refused:
            error = refusal(refused)
            return await reversal_page(
                request,
                cvr,
                found,
                payment,
                typed=typed,
                errors={"genindbetal": error.text},
                status=error.status,
            )
        return pages.redirect(
            request, f"{site.base(cvr)}/tilbagefoersler/{found.id}?besked=udfoert"
        )

    return router

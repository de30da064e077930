"""The reversal inbox and registering a reversal by hand:

    GET  …/myndigheder/<cvr>/tilbagefoersler[?tilstand=&side=]   orders (Kilde ORDRE, with the
                                                                  order's Overdaekning), manual
                                                                  advice, the case worker's own
    GET  …/tilbagefoersler/ny[?kilde=&indbetaling=]               register manual advice, or
    POST …/tilbagefoersler                                        reverse a payment of one's own

A registered reversal waits (`AFVENTER`) in the inbox until it is executed (`reversal_pages`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.fagsystem.domain import Refused, ReversalSource, ReversalState
from indbetaling.fagsystem.service import ReversalRequest
from indbetaling.fagsystem.ui import labels
from indbetaling.fagsystem.ui.site import FagsystemSite, refusal
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.ui.access import field
from indbetaling.ui.checks import text_error
from indbetaling.ui.site import QueryText

BY_HAND = (ReversalSource.MANUEL_ADVIS, ReversalSource.SAGSBEHANDLER)
MAX_TEXT = 200


@dataclass(frozen=True)
class ReversalForm:
    source: str
    payment: str
    order: str
    text: str


def check_reversal(typed: ReversalForm) -> tuple[ReversalRequest | None, dict[str, str]]:
    errors: dict[str, str] = {}
    source = ReversalSource.__members__.get(typed.source)
    if source not in BY_HAND:
        errors["kilde"] = "Vælg om det er et manuelt advis eller din egen tilbageførsel"
    payment_id: UUID | None = None
    if not typed.payment.strip():
        errors["indbetaling"] = "Skriv indbetalingens id (IndbetalingId)"
    else:
        try:
            payment_id = parse_uuid(typed.payment.strip(), "IndbetalingId")
        except InvalidId:
            errors["indbetaling"] = "IndbetalingId er ikke et gyldigt id (8-4-4-4-12 hextegn)"
    order_id: UUID | None = None
    if typed.order.strip():
        try:
            order_id = parse_uuid(typed.order.strip(), "TilbagefoerselsOrdreId")
        except InvalidId:
            errors["ordre"] = "Ordrens id er ikke et gyldigt id (8-4-4-4-12 hextegn)"
    text = typed.text.strip()
    wrong = text_error(text, "Teksten", MAX_TEXT)
    if wrong:
        errors["tekst"] = wrong
    if errors or source is None or payment_id is None:
        return None, errors
    return ReversalRequest(payment_id, source, order_id, text or None), {}


def inbox_router(site: FagsystemSite) -> APIRouter:
    pages = site.pages
    service = site.service
    router = pages.router(site.root + "/myndigheder/{cvr}/tilbagefoersler")

    @router.get("")
    async def inbox(
        request: Request, cvr: str, tilstand: QueryText = None, side: QueryText = None
    ) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        chosen = tilstand or ReversalState.AFVENTER.value
        state = ReversalState.__members__.get(chosen)
        page = await site.call(service.reversals, cvr, state=state, key=side)
        return site.render(
            request,
            "fagsystem/reversals.html",
            cvr,
            "reversals",
            reversals=page.items,
            next_key=page.next_key,
            chosen=chosen if state else "ALLE",
            states=list(ReversalState),
            labels=labels,
        )

    def register_page(
        request: Request,
        cvr: str,
        typed: ReversalForm,
        errors: dict[str, str],
        status: int = 200,
    ) -> Response:
        return site.render(
            request,
            "fagsystem/reversal_new.html",
            cvr,
            "reversals",
            status=status,
            typed=typed,
            errors=errors,
            sources=BY_HAND,
            labels=labels,
        )

    @router.get("/ny")
    def register_form(
        request: Request, cvr: str, kilde: QueryText = None, indbetaling: QueryText = None
    ) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        source = kilde if kilde in ReversalSource.__members__ else "MANUEL_ADVIS"
        return register_page(
            request, cvr, ReversalForm(source or "", indbetaling or "", "", ""), {}
        )

    @router.post("")
    async def register(request: Request, cvr: str) -> Response:
        site.case_worker(request)
        form = await pages.access.form(request)
        site.authority(cvr)
        typed = ReversalForm(
            field(form, "kilde", 40),
            field(form, "indbetaling", 60),
            field(form, "ordre", 60),
            field(form, "tekst", 400),
        )
        asked, errors = check_reversal(typed)
        if asked is None:
            return register_page(request, cvr, typed, errors, 422)
        try:
            reversal, _ = await asyncio.to_thread(service.create_reversal, cvr, asked)
        except Refused as refused:
            error = refusal(refused)
            return register_page(request, cvr, typed, {"indbetaling": error.text}, error.status)
        return pages.redirect(
            request, f"{site.base(cvr)}/tilbagefoersler/{reversal.id}?besked=registreret"
        )

    return router

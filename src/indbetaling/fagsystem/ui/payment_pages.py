"""The authority's payments and one payment with its history and finance postings:

GET …/myndigheder/<cvr>/indbetalinger[?tilstand=&side=]
GET …/myndigheder/<cvr>/indbetalinger/<IndbetalingId>
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.fagsystem.domain import PaymentState
from indbetaling.fagsystem.ui import labels
from indbetaling.fagsystem.ui.site import FagsystemSite
from indbetaling.ui.site import QueryText, uuid_in_path

MESSAGES = {
    "betalt": "Indbetalingen er registreret og sendt til debitorsystemet.",
}


def state_filter(text: str | None) -> PaymentState | None:
    return PaymentState.__members__.get(text or "")


def payment_router(site: FagsystemSite) -> APIRouter:
    pages = site.pages
    service = site.service
    router = pages.router(site.root + "/myndigheder/{cvr}/indbetalinger")

    @router.get("")
    async def payments(
        request: Request, cvr: str, tilstand: QueryText = None, side: QueryText = None
    ) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        state = state_filter(tilstand)
        page = await site.call(service.payments, cvr, state=state, key=side)
        return site.render(
            request,
            "fagsystem/payments.html",
            cvr,
            "payments",
            payments=page.items,
            next_key=page.next_key,
            state=state,
            states=list(PaymentState),
            labels=labels,
        )

    @router.get("/{payment_text}")
    async def payment(
        request: Request, cvr: str, payment_text: str, besked: QueryText = None
    ) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        payment_id = uuid_in_path(payment_text, "IndbetalingId")
        view = await site.call(service.payment, cvr, payment_id)
        return site.render(
            request,
            "fagsystem/payment.html",
            cvr,
            "payments",
            view=view,
            p=view.payment,
            message=MESSAGES.get(besked or "", ""),
            labels=labels,
        )

    return router

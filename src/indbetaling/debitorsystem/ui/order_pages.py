"""The authority's reversal orders and their delivery, and closing one that waits for manual
handling:

    GET  …/myndigheder/<cvr>/tilbagefoerselsordrer[?tilstand=MANUEL]   the orders, newest first
    GET  …/tilbagefoerselsordrer/<order>                               one order (close it)
    POST …/tilbagefoerselsordrer/<order>/luk                           → the confirm step
    POST …/tilbagefoerselsordrer/<order>/luk/bekraeft                  closes it (who and why)

Who closed it is the signed-in user's name; why is the Begrundelse typed.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.debitorsystem.domain import OrderState, ReversalOrder
from indbetaling.debitorsystem.ui.site import StaffSite
from indbetaling.ui.access import PageError, field
from indbetaling.ui.checks import text_error
from indbetaling.ui.confirm import checked
from indbetaling.ui.site import QueryText, uuid_in_path
from indbetaling.ui.users import WebUser

PAGE = 50
MAX_REASON = 200
ALL = "ALLE"
ORDER_STATE = {
    OrderState.OPRETTET: "dannet, ikke sendt endnu",
    OrderState.AFSENDT: "sendt, venter på fagsystemets kvittering",
    OrderState.MODTAGET: "modtaget af fagsystemet",
    OrderState.UDFOERT: "udført af fagsystemet",
    OrderState.MANUEL: "til manuel behandling",
    OrderState.LUKKET: "lukket efter manuel behandling",
}


def check_reason(typed: str) -> tuple[str | None, dict[str, str]]:
    reason = typed.strip()
    if not reason:
        return None, {"begrundelse": "Skriv hvorfor ordren lukkes"}
    wrong = text_error(reason, "Begrundelsen", MAX_REASON)
    if wrong:
        return None, {"begrundelse": wrong}
    return reason, {}


def order_router(site: StaffSite) -> APIRouter:
    pages = site.pages
    service = site.service
    router = pages.router(site.root)

    @router.get("/myndigheder/{cvr}/tilbagefoerselsordrer")
    async def orders(
        request: Request, cvr: str, tilstand: QueryText = None, side: QueryText = None
    ) -> Response:
        site.staff(request, cvr)
        chosen = tilstand or ALL
        state = None
        if chosen != ALL:
            try:
                state = OrderState(chosen)
            except ValueError:
                raise PageError(
                    404, "Siden findes ikke", f"'{chosen[:40]}' er ikke en ordres tilstand."
                ) from None
        page, next_key = await site.call(service.reversal_orders_page, cvr, state, side, PAGE)
        return site.render(
            request,
            "debitorsystem/orders.html",
            cvr,
            "manual" if state is OrderState.MANUEL else "orders",
            orders=page,
            next_key=next_key,
            chosen=chosen,
            states=list(OrderState),
            state_text=ORDER_STATE,
        )

    async def order_of(cvr: str, order_text: str) -> ReversalOrder:
        order_id = uuid_in_path(order_text, "TilbagefoerselsOrdreId")
        return await site.call(service.reversal_order, cvr, order_id)

    def order_page(
        request: Request,
        cvr: str,
        order: ReversalOrder,
        *,
        reason: str = "",
        errors: dict[str, str] | None = None,
        status: int = 200,
        notice_text: str = "",
    ) -> Response:
        return site.render(
            request,
            "debitorsystem/order.html",
            cvr,
            "orders",
            status=status,
            order=order,
            state_text=ORDER_STATE,
            reason=reason,
            errors=errors or {},
            notice_text=notice_text,
        )

    @router.get("/myndigheder/{cvr}/tilbagefoerselsordrer/{order_text}")
    async def order(
        request: Request, cvr: str, order_text: str, besked: QueryText = None
    ) -> Response:
        site.staff(request, cvr)
        found = await order_of(cvr, order_text)
        done = "Ordren er lukket." if besked == "lukket" else ""
        return order_page(request, cvr, found, notice_text=done)

    async def read_reason(
        request: Request, cvr: str, order_text: str
    ) -> tuple[WebUser, ReversalOrder, str, str]:
        """Both POSTs: why the order is closed (else the order's page again, 422)."""
        user = site.staff(request, cvr)
        form = await pages.access.form(request)
        found = await order_of(cvr, order_text)
        typed = field(form, "begrundelse", 400)
        reason = checked(
            check_reason(typed),
            lambda errors: order_page(request, cvr, found, reason=typed, errors=errors, status=422),
        )
        return user, found, typed, reason

    @router.post("/myndigheder/{cvr}/tilbagefoerselsordrer/{order_text}/luk")
    async def close_check(request: Request, cvr: str, order_text: str) -> Response:
        _, found, _, reason = await read_reason(request, cvr, order_text)
        return site.render(
            request,
            "debitorsystem/order_confirm.html",
            cvr,
            "orders",
            order=found,
            reason=reason,
        )

    @router.post("/myndigheder/{cvr}/tilbagefoerselsordrer/{order_text}/luk/bekraeft")
    async def close(request: Request, cvr: str, order_text: str) -> Response:
        user, found, typed, reason = await read_reason(request, cvr, order_text)
        try:
            await site.call(service.close_order, cvr, found.id, user.name, reason)
        except PageError as refused:
            return order_page(
                request,
                cvr,
                found,
                reason=typed,
                errors={"begrundelse": refused.text},
                status=refused.status,
            )
        return pages.redirect(
            request, f"{site.base(cvr)}/tilbagefoerselsordrer/{found.id}?besked=lukket"
        )

    return router

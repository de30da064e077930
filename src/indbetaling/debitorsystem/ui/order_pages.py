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
from indbetaling.debitorsystem.ui.site import QueryText, StaffSite, uuid_in_path
from indbetaling.ui.access import PageError, field
from indbetaling.wire_text import ControlCharacter, free_text

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
    if len(reason) > MAX_REASON:
        return None, {"begrundelse": f"Begrundelsen må højst være {MAX_REASON} tegn"}
    try:
        free_text(reason, "Begrundelsen")
    except ControlCharacter as exc:
        return None, {"begrundelse": str(exc)}
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
        return pages.render(
            request,
            "debitorsystem/orders.html",
            nav=site.nav(cvr, "manual" if state is OrderState.MANUEL else "orders"),
            site=site,
            cvr=cvr,
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
        return pages.render(
            request,
            "debitorsystem/order.html",
            status=status,
            nav=site.nav(cvr, "orders"),
            site=site,
            cvr=cvr,
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

    @router.post("/myndigheder/{cvr}/tilbagefoerselsordrer/{order_text}/luk")
    async def close_check(request: Request, cvr: str, order_text: str) -> Response:
        site.staff(request, cvr)
        form = await pages.access.form(request)
        found = await order_of(cvr, order_text)
        typed = field(form, "begrundelse", 400)
        reason, errors = check_reason(typed)
        if reason is None:
            return order_page(request, cvr, found, reason=typed, errors=errors, status=422)
        return pages.render(
            request,
            "debitorsystem/order_confirm.html",
            nav=site.nav(cvr, "orders"),
            site=site,
            cvr=cvr,
            order=found,
            reason=reason,
        )

    @router.post("/myndigheder/{cvr}/tilbagefoerselsordrer/{order_text}/luk/bekraeft")
    async def close(request: Request, cvr: str, order_text: str) -> Response:
        user = site.staff(request, cvr)
        form = await pages.access.form(request)
        found = await order_of(cvr, order_text)
        typed = field(form, "begrundelse", 400)
        reason, errors = check_reason(typed)
        if reason is None:
            return order_page(request, cvr, found, reason=typed, errors=errors, status=422)
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

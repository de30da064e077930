"""Finance's pages under `/finance/`, for the finance user only:

    GET /finance/                                the authorities, each with its reconciliation
    GET /finance/posteringer?myndighed=&reference=&side=   postings by authority and/or payment
    GET /finance/afstemning/<cvr>[?dage=31]      the reconciliation (Afstemt, Antal, Afvigelser)
                                                 and a chart of daily payments, reversals and
                                                 pay-backs (server-rendered SVG), the last 14,
                                                 31 or 90 days up to the last posting

They use finance's own service and reconciler in-process (the reconciler reads the other parts
over their APIs, as the REST API's `afstemning` does). The filter form is a GET: it changes
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.finance.reconciliation import Accounts, Reconciliation, SourceUnavailable
from indbetaling.finance.service import FinanceService
from indbetaling.finance.store import StoredPosting
from indbetaling.finance.ui.chart import PERIODS, chart, daily
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.refusal import Refused
from indbetaling.ui.access import PageError, WebAccess
from indbetaling.ui.pages import NavItem, Pages
from indbetaling.ui.site import QueryText, named
from indbetaling.ui.users import Role

TEMPLATES = Path(__file__).parent / "templates"
ROOT = "/finance"
PAGE = 50


def finance_pages(
    service: FinanceService,
    reconcile: Callable[[str], Awaitable[Reconciliation]] | None,
    access: WebAccess,
    authority_names: Mapping[str, str],
    accounts: Accounts | None = None,
) -> APIRouter:
    pages = Pages(access, [TEMPLATES], "Økonomi")
    router = pages.router(ROOT)
    chart_accounts = accounts or Accounts()

    def authority_text(cvr: str) -> str:
        return named(authority_names, cvr)

    def nav(current: str) -> list[NavItem]:
        return [
            NavItem("Afstemning", f"{ROOT}/", current == "home"),
            NavItem("Posteringer", f"{ROOT}/posteringer", current == "postings"),
        ]

    def finance_user(request: Request) -> None:
        pages.access.require(request, Role.FINANS)

    @router.get("/")
    def home(request: Request) -> Response:
        finance_user(request)
        return pages.render(
            request,
            "finance/home.html",
            nav=nav("home"),
            authorities=list(authority_names),
            authority_text=authority_text,
        )

    @router.get("/posteringer")
    async def postings(
        request: Request,
        myndighed: QueryText = None,
        reference: QueryText = None,
        side: QueryText = None,
    ) -> Response:
        finance_user(request)
        errors: dict[str, str] = {}
        cvr = (myndighed or "").strip() or None
        if cvr is not None and cvr not in authority_names:
            errors["myndighed"] = "Vælg en af myndighederne"
        typed_reference = (reference or "").strip()
        wanted: UUID | None = None
        if typed_reference:
            try:
                wanted = parse_uuid(typed_reference, "Reference")
            except InvalidId:
                errors["reference"] = (
                    f"'{typed_reference[:40]}' er ikke et IndbetalingId "
                    "(fx 3f2b8c1e-0a4d-4e5f-9a7b-1c2d3e4f5a6b)"
                )
        found: list[StoredPosting] = []
        next_key = None
        if not errors and (cvr or wanted):
            try:
                found, next_key = await asyncio.to_thread(
                    service.postings_page, cvr, wanted, side, PAGE
                )
            except Refused as refused:
                errors["myndighed"] = refused.text
        return pages.render(
            request,
            "finance/postings.html",
            status=422 if errors else 200,
            nav=nav("postings"),
            authorities=list(authority_names),
            authority_text=authority_text,
            chosen=cvr or "",
            reference=typed_reference,
            searched=bool(cvr or wanted) and not errors,
            postings=found,
            next_key=next_key,
            errors=errors,
        )

    @router.get("/afstemning/{cvr}")
    async def reconciliation(request: Request, cvr: str, dage: QueryText = None) -> Response:
        finance_user(request)
        period = PERIODS[0] if dage is None else next((p for p in PERIODS if str(p) == dage), 0)
        if not period:
            raise PageError(
                404, "Siden findes ikke", f"Grafen kan vise {', '.join(map(str, PERIODS))} dage."
            )
        if cvr not in authority_names:
            raise PageError(
                404, "Myndigheden findes ikke", f"Der er ingen myndighed med CVR-nummer {cvr[:8]}."
            )
        if reconcile is None:
            raise PageError(
                503,
                "Afstemningen er ikke sat op",
                "Afstemningen har ingen kilder.",
                "AFSTEMNING_IKKE_OPSAT",
            )
        try:
            result = await reconcile(cvr)
        except SourceUnavailable as exc:
            raise PageError(
                502, "Afstemningen kunne ikke laves", str(exc), "KILDE_UTILGAENGELIG"
            ) from None
        booked = await asyncio.to_thread(service.authority_postings, cvr)
        return pages.render(
            request,
            "finance/reconciliation.html",
            nav=nav("home"),
            cvr=cvr,
            authority_text=authority_text,
            result=result,
            chart=chart(daily(booked, chart_accounts, period)),
            period=period,
            periods=PERIODS,
        )

    return router

"""Finding a citizen:

    GET  /fagsystem/<id>/                    the authorities to work in
    GET  …/myndigheder/<cvr>/                search by CPR-nummer (`Søg`)
    POST …/myndigheder/<cvr>/soeg            → the citizen's page
    GET  …/myndigheder/<cvr>/borgere/<cpr>   payable claims (each with `Betal`) and payments

The citizen's page is the one page that shows the CPR number in full.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.fagsystem.ui.site import DEBITOR_SILENT, FagsystemSite
from indbetaling.ui.access import field
from indbetaling.ui.cpr import InvalidCpr, masked_cpr, parse_cpr
from indbetaling.ui.site import party_in_path

MAX_TEXT = 200


def citizen_router(site: FagsystemSite) -> APIRouter:
    pages = site.pages
    service = site.service
    router = pages.router(site.root)

    def search_page(
        request: Request, cvr: str, typed: str = "", error: str = "", status: int = 200
    ) -> Response:
        return site.render(
            request,
            "fagsystem/search.html",
            cvr,
            "search",
            status=status,
            typed=typed,
            errors={"cpr": error} if error else {},
        )

    @router.get("/")
    def home(request: Request) -> Response:
        site.case_worker(request)
        return pages.render(request, "fagsystem/home.html", nav=site.nav(None, "home"), site=site)

    @router.get("/myndigheder/{cvr}/")
    def search_form(request: Request, cvr: str) -> Response:
        site.case_worker(request)
        return search_page(request, site.authority(cvr))

    @router.post("/myndigheder/{cvr}/soeg")
    async def search(request: Request, cvr: str) -> Response:
        site.case_worker(request)
        form = await pages.access.form(request)
        site.authority(cvr)
        typed = field(form, "cpr", 40)
        try:
            part_id = parse_cpr(typed)
        except InvalidCpr as exc:
            return search_page(request, cvr, typed, str(exc), 422)
        found = await site.claims_now(cvr, part_id)
        if found.stale and not found.claims:
            return search_page(request, cvr, typed, DEBITOR_SILENT, 503)
        if not found.claims:
            paid = await asyncio.to_thread(service.payments, cvr, part_id=part_id, size=1)
            if not paid.items:
                text = (
                    f"Der er ingen betalbare fordringer for CPR-nummer {masked_cpr(part_id)} "
                    f"hos {site.authority_text(cvr)}"
                )
                return search_page(request, cvr, typed, text, 404)
        return pages.redirect(request, site.citizen_url(cvr, part_id))

    @router.get("/myndigheder/{cvr}/borgere/{cpr}")
    async def citizen(request: Request, cvr: str, cpr: str) -> Response:
        site.case_worker(request)
        site.authority(cvr)
        part_id = party_in_path(cpr)
        found = await site.claims_now(cvr, part_id)
        paid = await asyncio.to_thread(service.payments, cvr, part_id=part_id)
        return site.render(
            request,
            "fagsystem/citizen.html",
            cvr,
            "search",
            part_id=part_id,
            claims=found.claims,
            stale=found.stale,
            payments=paid.items,
        )

    return router

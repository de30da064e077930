"""The Beskedfordeler's pages, for the composition of its part (`beskedfordeler/app.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.transport import AmqpTransport
from indbetaling.beskedfordeler.ui.error_queue_pages import error_queue_router, operator_router
from indbetaling.beskedfordeler.ui.site import PAGES_ROOT, BeskedfordelerSite
from indbetaling.beskedfordeler.ui.subscriber_pages import subscriber_router
from indbetaling.beskedfordeler.ui.subscription_pages import subscription_router
from indbetaling.beskedfordeler.ui.value_list_pages import upload_router, value_list_router
from indbetaling.ui.access import PageError, WebAccess
from indbetaling.ui.pages import Pages
from indbetaling.ui.users import Role

TEMPLATES = Path(__file__).parent / "templates"


def beskedfordeler_pages(
    bf: Beskedfordeler,
    access: WebAccess,
    *,
    subscriber_names: Mapping[str, str],
    amqp: AmqpTransport | None = None,
) -> APIRouter:
    """The pages under `/beskedfordeler/sider/`: each subscriber's administrator's, and the
    operator's; `/beskedfordeler/` and `/beskedfordeler/sider/` lead the signed-in user to
    theirs."""
    pages = Pages(access, [TEMPLATES], "Beskedfordeler")
    site = BeskedfordelerSite(bf, pages, subscriber_names, amqp)
    router = APIRouter()
    entry = pages.router()

    @entry.get("/beskedfordeler/")
    @entry.get(f"{PAGES_ROOT}/")
    def start(request: Request) -> Response:
        user = access.user(request)
        if user is not None and user.role is Role.BESKEDFORDELER_DRIFT:
            return pages.redirect(request, f"{PAGES_ROOT}/drift/")
        if user is not None and user.role is Role.BESKEDFORDELER_ADMIN and user.scope:
            return pages.redirect(request, site.subscriber_root(user.scope) + "/")
        if user is None:
            access.require(request, Role.BESKEDFORDELER_ADMIN)
        raise PageError(
            403,
            "Ingen adgang",
            "Beskedfordelerens sider er for abonnenternes administratorer og for driften.",
            "IKKE_ADGANG",
        )

    for part in (
        entry,
        subscriber_router(site),
        subscription_router(site),
        value_list_router(site),
        upload_router(site),
        error_queue_router(site),
        operator_router(site),
    ):
        router.include_router(part)
    return router

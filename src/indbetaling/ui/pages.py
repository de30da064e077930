"""Rendering the pages: one Jinja2 layout for every part, Danish formats as filters, and the
route class that turns a refusal into a page.

A part makes its `Pages` with its own template folder; the shared folder (the layout, the
sign-in page, the error page, form macros) comes after it, so every part extends the same
`layout.html`. Each page gets the signed-in user and the session's CSRF token, and a new
session's cookie is set on the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from indbetaling.ui.access import SIGN_OUT_PATH, PageError, SignInRequired, WebAccess
from indbetaling.ui.confirm import FormRefused
from indbetaling.ui.cpr import cpr_text, masked_cpr
from indbetaling.ui.kroner import format_field, format_kroner
from indbetaling.ui.sessions import CSRF_FIELD

SHARED_TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET_PATH = "/ui/site.css"
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    current: bool = False


def day_text(value: date | None) -> str:
    """`31.12.2024`."""
    return "" if value is None else value.strftime("%d.%m.%Y")


def moment_text(value: datetime | None) -> str:
    """`31.12.2024 kl. 14.05` in Danish time."""
    if value is None:
        return ""
    return value.astimezone(COPENHAGEN).strftime("%d.%m.%Y kl. %H.%M")


class Pages:
    """One part's pages."""

    def __init__(self, access: WebAccess, templates: Sequence[Path], part_name: str) -> None:
        self.access = access
        self.part_name = part_name
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader([*templates, SHARED_TEMPLATES])]),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            kr=format_kroner,
            beloebsfelt=format_field,
            cpr=cpr_text,
            cpr_maskeret=masked_cpr,
            dato=day_text,
            tidspunkt=moment_text,
        )
        self.env.globals.update(
            csrf_field=CSRF_FIELD, stylesheet=STYLESHEET_PATH, sign_out_path=SIGN_OUT_PATH
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        nav: Sequence[NavItem] = (),
        **context: Any,
    ) -> HTMLResponse:
        session = self.access.session(request)
        html = self.env.get_template(template).render(
            user=self.access.user(request),
            csrf_token=session.csrf_token,
            part_name=self.part_name,
            nav=list(nav),
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        self.access.sessions.store(request, response)
        return response

    def redirect(self, request: Request, location: str) -> RedirectResponse:
        """303 See Other: after a POST, the browser GETs `location`."""
        response = RedirectResponse(location, status_code=303)
        self.access.sessions.store(request, response)
        return response

    def error(
        self,
        request: Request,
        error: PageError,
        nav: Sequence[NavItem] = (),
        back: str | None = None,
    ) -> HTMLResponse:
        return self.render(
            request, "error.html", status=error.status, nav=nav, error=error, back=back
        )

    def router(self, prefix: str = "") -> APIRouter:
        """An APIRouter whose routes answer a `PageError` with the error page, a
        `FormRefused` with its form page, and send whoever is not signed in to the sign-in
        page; its routes stay out of the OpenAPI."""
        return APIRouter(prefix=prefix, route_class=self._route_class(), include_in_schema=False)

    def _route_class(self) -> type[APIRoute]:
        pages = self

        class PageRoute(APIRoute):
            def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
                handle = super().get_route_handler()

                async def page(request: Request) -> Response:
                    try:
                        return await handle(request)
                    except SignInRequired as needed:
                        return pages.redirect(request, needed.location)
                    except FormRefused as shown:
                        return shown.page
                    except PageError as refused:
                        return pages.error(request, refused)
                    except RequestValidationError:
                        return pages.error(request, NOT_FOUND)

                return page

        return PageRoute


NOT_FOUND = PageError(404, "Siden findes ikke", "Adressen findes ikke. Tjek den og prøv igen.")

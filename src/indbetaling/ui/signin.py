"""The pages every part shares: the front page (`/`) linking the parts' pages, signing in and
out (`/log-ind`, `/log-ud`), and the one stylesheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.ui.access import SIGN_IN_PATH, SIGN_OUT_PATH, field, safe_next
from indbetaling.ui.pages import STYLESHEET_PATH, Pages

STYLESHEET = Path(__file__).parent / "static" / "site.css"
WRONG_SIGN_IN = "Brugernavnet eller adgangskoden er forkert"


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    description: str = ""


def signin_router(
    pages: Pages, links: Sequence[Link] = (), *, list_users: bool = True
) -> APIRouter:
    """The shared pages; `list_users` shows the user names (never passwords) on the sign-in
    page, as the demo does."""
    router = pages.router()
    stylesheet = STYLESHEET.read_bytes()

    @router.get("/")
    def front_page(request: Request) -> Response:
        return pages.render(request, "landing.html", links=list(links))

    @router.get(STYLESHEET_PATH)
    def site_css() -> Response:
        return Response(
            stylesheet, media_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    def sign_in_page(
        request: Request,
        *,
        next_path: str,
        username: str = "",
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        users = pages.access.directory.users if list_users else []
        return pages.render(
            request,
            "login.html",
            status=status,
            next_path=safe_next(next_path),
            username=username,
            errors=errors or {},
            demo_users=users,
        )

    @router.get(SIGN_IN_PATH)
    def sign_in_form(
        request: Request, naeste: Annotated[str | None, Query(max_length=500)] = None
    ) -> Response:
        return sign_in_page(request, next_path=safe_next(naeste))

    @router.post(SIGN_IN_PATH)
    async def sign_in(request: Request) -> Response:
        form = await pages.access.form(request)
        username = field(form, "brugernavn", 100).strip()
        password = field(form, "adgangskode", 200)
        next_path = safe_next(field(form, "naeste", 500))
        errors = {}
        if not username:
            errors["brugernavn"] = "Skriv dit brugernavn"
        if not password:
            errors["adgangskode"] = "Skriv din adgangskode"
        if errors:
            return sign_in_page(
                request, next_path=next_path, username=username, errors=errors, status=422
            )
        user = pages.access.directory.authenticate(username, password)
        if user is None:
            return sign_in_page(
                request,
                next_path=next_path,
                username=username,
                errors={"brugernavn": WRONG_SIGN_IN},
                status=401,
            )
        pages.access.sessions.sign_in(request, user.username)
        return pages.redirect(request, user.home if next_path == "/" else next_path)

    @router.post(SIGN_OUT_PATH)
    async def sign_out(request: Request) -> Response:
        await pages.access.form(request)
        pages.access.sessions.sign_out(request)
        return pages.redirect(request, SIGN_IN_PATH)

    return router

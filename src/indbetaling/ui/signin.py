"""The pages every part shares: the front page (`/`) linking the parts' pages, signing in and
out (`/log-ind`, `/log-ud`), and the one stylesheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from indbetaling.ui.access import SIGN_IN_PATH, SIGN_OUT_PATH, PageError, field, safe_next
from indbetaling.ui.oidc import (
    CALLBACK_PATH,
    FLOW_COOKIE,
    FLOW_MAX_AGE_SECONDS,
    START_PATH,
    OidcSignIn,
)
from indbetaling.ui.pages import STYLESHEET_PATH, Pages

STYLESHEET = Path(__file__).parent / "static" / "site.css"
WRONG_SIGN_IN = "Brugernavnet eller adgangskoden er forkert"


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    description: str = ""


PASSWORDS_OFF = PageError(
    403,
    "Log ind med adgangskode er slået fra",
    "Her logger du ind gennem organisationens log-ind-tjeneste. Gå til log-ind-siden og vælg "
    "Log ind.",
    "ADGANGSKODE_SLAAET_FRA",
)


def signin_router(
    pages: Pages,
    links: Sequence[Link] = (),
    *,
    list_users: bool = True,
    oidc: OidcSignIn | None = None,
) -> APIRouter:
    """The shared pages; `list_users` shows the user names (never passwords) on the sign-in
    page, as the demo does. With `oidc` people sign in only through the identity provider:
    the password form is gone and a POST of it is refused."""
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
        users = pages.access.directory.users if list_users and oidc is None else []
        return pages.render(
            request,
            "login.html",
            status=status,
            next_path=safe_next(next_path),
            username=username,
            errors=errors or {},
            demo_users=users,
            oidc=None,
        )

    @router.get(SIGN_IN_PATH)
    async def sign_in_form(
        request: Request,
        naeste: Annotated[str | None, Query(max_length=500)] = None,
        logget_ud: Annotated[str | None, Query(max_length=5)] = None,
    ) -> Response:
        if oidc is None:
            return sign_in_page(request, next_path=safe_next(naeste))
        next_path = safe_next(naeste)
        return pages.render(
            request,
            "login.html",
            next_path=next_path,
            oidc={
                "name": oidc.config.provider_name,
                "href": f"{START_PATH}?{urlencode({'naeste': next_path})}",
                "signed_out": logget_ud is not None,
                "end_session": await oidc.end_session_url() if logget_ud is not None else None,
            },
        )

    if oidc is not None:
        router.include_router(_oidc_router(pages, oidc))

    @router.post(SIGN_IN_PATH)
    async def sign_in(request: Request) -> Response:
        if oidc is not None:
            raise PASSWORDS_OFF
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
        return pages.redirect(
            request, SIGN_IN_PATH if oidc is None else f"{SIGN_IN_PATH}?logget_ud=ja"
        )

    return router


def _oidc_router(pages: Pages, oidc: OidcSignIn) -> APIRouter:
    """`/log-ind/oidc` starts a sign-in at the provider; `/log-ind/oidc/svar` takes its answer.
    The flow's cookie is spent by the answer, whatever it was."""
    router = pages.router()

    @router.get(START_PATH)
    async def start(
        request: Request, naeste: Annotated[str | None, Query(max_length=500)] = None
    ) -> Response:
        url, flow = await oidc.start(safe_next(naeste))
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            FLOW_COOKIE,
            flow,
            max_age=FLOW_MAX_AGE_SECONDS,
            path=START_PATH,
            httponly=True,
            samesite="lax",
            secure=oidc.secure,
        )
        return response

    @router.get(CALLBACK_PATH)
    async def answer(request: Request) -> Response:
        flow = oidc.flow(request.cookies.get(FLOW_COOKIE))
        params = {k: v[:2000] for k, v in request.query_params.items()}
        try:
            user = oidc.user(await oidc.finish(flow, params))
        except PageError as refused:
            response: Response = pages.error(request, refused, back=SIGN_IN_PATH)
        else:
            pages.access.sessions.sign_in(request, user.username, user)
            next_path = flow.next_path if flow is not None else "/"
            response = pages.redirect(request, user.home if next_path == "/" else next_path)
        response.delete_cookie(
            FLOW_COOKIE, path=START_PATH, httponly=True, samesite="lax", secure=oidc.secure
        )
        return response

    return router

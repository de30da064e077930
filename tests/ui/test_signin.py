"""Signing in to the pages: a signed HttpOnly SameSite cookie, a CSRF token on every form,
and a forged or missing token changes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.ui.access import WebAccess
from indbetaling.ui.pages import Pages
from indbetaling.ui.sessions import COOKIE, SessionCodec
from indbetaling.ui.signin import Link, signin_router
from indbetaling.ui.users import Account, Role, UserDirectory, WebUser

WORKER = WebUser("sb", "Sagsbehandler", Role.SAGSBEHANDLER, "fs-1", home="/arbejde")
STAFF = WebUser("op", "Opkrævning", Role.OPKRAEVNING, "12345678")


@pytest.fixture
def client() -> TestClient:
    access = WebAccess(
        SessionCodec("a-secret-of-enough-length", secure=False),
        UserDirectory([Account(WORKER, "rigtig-kode"), Account(STAFF, "anden-kode")]),
    )
    pages = Pages(access, [], "Test")
    app = FastAPI()
    app.include_router(signin_router(pages, [Link("Fagsystem", "/arbejde")]))
    router = pages.router()
    changed: list[str] = []

    @router.get("/arbejde")
    def work(request: Request) -> Response:
        user = access.require(request, Role.SAGSBEHANDLER, "fs-1")
        return Response(f"hej {user.username}")

    @router.post("/arbejde")
    async def change(request: Request) -> Response:
        access.require(request, Role.SAGSBEHANDLER, "fs-1")
        await access.form(request)
        changed.append("x")
        return Response("ændret")

    @router.get("/antal")
    def count() -> Response:
        return Response(str(len(changed)))

    app.include_router(router)
    return TestClient(app, base_url="http://testserver")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str, nxt: str = "/") -> Response:
    page = client.get(f"/log-ind?naeste={nxt}")
    return client.post(
        "/log-ind",
        data={
            "csrf_token": csrf_of(page.text),
            "brugernavn": username,
            "adgangskode": password,
            "naeste": nxt,
        },
        follow_redirects=False,
    )


def test_a_page_sends_whoever_is_not_signed_in_to_the_sign_in_page(client: TestClient) -> None:
    answer = client.get("/arbejde", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/log-ind?naeste=/arbejde"


def test_signing_in_sets_a_signed_httponly_samesite_cookie(client: TestClient) -> None:
    answer = sign_in(client, "sb", "rigtig-kode", "/arbejde")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/arbejde"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert client.get("/arbejde").text == "hej sb"
    page = client.get("/")
    assert 'lang="da"' in page.text
    assert "Sagsbehandler" in page.text


def test_a_wrong_password_or_an_unsafe_next_page_gets_nowhere(client: TestClient) -> None:
    wrong = sign_in(client, "sb", "forkert")
    assert wrong.status_code == 401
    assert "Brugernavnet eller adgangskoden er forkert" in wrong.text
    assert client.get("/arbejde", follow_redirects=False).status_code == 303
    away = sign_in(client, "sb", "rigtig-kode", "//evil.example/")
    assert away.headers["location"] == "/arbejde"  # the user's home, not another site


def test_each_user_sees_only_their_own_pages(client: TestClient) -> None:
    sign_in(client, "op", "anden-kode")
    answer = client.get("/arbejde")
    assert answer.status_code == 403
    assert "har ikke adgang" in answer.text


def test_a_form_without_the_sessions_csrf_token_changes_nothing(client: TestClient) -> None:
    sign_in(client, "sb", "rigtig-kode")
    for data in ({}, {"csrf_token": "forfalsket"}):
        refused = client.post("/arbejde", data=data)
        assert refused.status_code == 403
        assert "sikkerhedsnøgle" in refused.text
    assert client.get("/antal").text == "0"
    token = csrf_of(client.get("/").text)
    assert client.post("/arbejde", data={"csrf_token": token}).text == "ændret"
    assert client.get("/antal").text == "1"


def test_a_tampered_cookie_is_no_session(client: TestClient) -> None:
    sign_in(client, "sb", "rigtig-kode")
    value = client.cookies[COOKIE]
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/arbejde", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session(client: TestClient) -> None:
    sign_in(client, "sb", "rigtig-kode")
    token = csrf_of(client.get("/").text)
    assert (
        client.post("/log-ud", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/arbejde", follow_redirects=False).status_code == 303

"""How an ID token's claims become the pages' user (docs/oidc.md's claim mapping), that the
session cookie carries such a user, who is in no user directory, and how a sign-in starts (the
provider here is the test's own stand-in, `e2e.oidc_provider`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.requests import Request
from starlette.responses import Response

from e2e.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from indbetaling.demo_users import web_home
from indbetaling.ui.access import PageError
from indbetaling.ui.oidc import (
    OidcConfig,
    OidcSignIn,
    claim_values,
    parse_role,
    user_from_claims,
)
from indbetaling.ui.sessions import COOKIE, SessionCodec
from indbetaling.ui.users import Role, WebUser

FAGSYSTEM = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"sagsbehandler:{FAGSYSTEM}", (Role.SAGSBEHANDLER, FAGSYSTEM)),
        (f"sagsbehandler:{FAGSYSTEM.upper()}", (Role.SAGSBEHANDLER, FAGSYSTEM)),
        ("opkraevning:29189846", (Role.OPKRAEVNING, "29189846")),
        ("/finans", (Role.FINANS, None)),
        ("Finans", (Role.FINANS, None)),
        (f"beskedfordeler-admin:{FAGSYSTEM}", (Role.BESKEDFORDELER_ADMIN, FAGSYSTEM)),
        ("beskedfordeler-drift", (Role.BESKEDFORDELER_DRIFT, None)),
        ("sagsbehandler", None),
        ("sagsbehandler:ikke-et-id", None),
        ("opkraevning:1234567", None),
        ("opkraevning:1234567x", None),
        ("finans:29189846", None),
        ("administrator", None),
        (42, None),
    ],
)
def test_a_claim_value_names_a_role_and_its_scope(
    value: object, expected: tuple[Role, str | None] | None
) -> None:
    assert parse_role(value) == expected


def test_the_claim_may_be_nested_a_list_or_one_string() -> None:
    claims: dict[str, Any] = {"realm_access": {"roles": ["a", "finans"]}, "roles": "finans"}
    assert claim_values(claims, "realm_access.roles") == ["a", "finans"]
    assert claim_values(claims, "roles") == ["finans"]
    assert claim_values(claims, "groups") == []
    assert claim_values(claims, "roles.x") == []


def test_the_first_known_role_wins_and_lands_on_its_home() -> None:
    claims = {
        "sub": "abc",
        "preferred_username": "karen",
        "name": "Karen Hansen",
        "groups": ["uvedkommende", f"sagsbehandler:{FAGSYSTEM}", "finans"],
    }
    user = user_from_claims(claims, "groups", home=web_home)
    assert user == WebUser(
        "karen", "Karen Hansen", Role.SAGSBEHANDLER, FAGSYSTEM, f"/fagsystem/{FAGSYSTEM}/"
    )
    only_finance = user_from_claims(
        claims, "groups", home=web_home, known=lambda role, scope: role is Role.FINANS
    )
    assert only_finance is not None
    assert (only_finance.role, only_finance.home) == (Role.FINANS, "/finance/")
    assert user_from_claims({"sub": "abc", "groups": ["x"]}, "groups", home=web_home) is None


def _request(cookie: str | None = None) -> Request:
    headers = [] if cookie is None else [(b"cookie", f"{COOKIE}={cookie}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_the_session_cookie_carries_a_user_from_the_identity_provider() -> None:
    codec = SessionCodec("a-secret-of-enough-length", secure=True)
    user = WebUser("karen", "Karen Hansen", Role.OPKRAEVNING, "29189846", "/debitorsystem/x/")
    request, response = _request(), Response()
    codec.sign_in(request, "karen", user)
    codec.store(request, response)
    cookie = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    assert codec.session(_request(cookie)).user == user
    other = SessionCodec("another-secret-of-enough-length", secure=True)
    assert other.session(_request(cookie)).user is None


def _sign_in(issuer: str) -> OidcSignIn:
    config = OidcConfig(issuer, CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:1")
    return OidcSignIn(config, "a-secret-of-enough-length", secure=False)


def _refusal(call: Coroutine[Any, Any, object]) -> str | None:
    with pytest.raises(PageError) as refused:
        asyncio.run(call)
    return refused.value.code


def test_a_provider_that_cannot_be_reached_or_names_another_issuer_is_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/realms/x"
    assert _refusal(_sign_in(closed).start("/")) == "OIDC_UTILGAENGELIG"
    provider = Provider().start()
    try:
        assert _refusal(_sign_in(provider.issuer + "/").start("/")) == "OIDC_METADATA"
        url, cookie = asyncio.run(_sign_in(provider.issuer).start("/fagsystem/x/"))
        assert url.startswith(f"{provider.issuer}/auth?")
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == ["http://127.0.0.1:1/log-ind/oidc/svar"]
        flow = _sign_in(provider.issuer).flow(cookie)
        assert flow is not None
        assert (flow.state, flow.nonce) == (query["state"][0], query["nonce"][0])
        assert flow.next_path == "/fagsystem/x/"
        assert _sign_in(provider.issuer).flow(cookie[:-2]) is None
    finally:
        provider.stop()

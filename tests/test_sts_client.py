"""Tokens for calls through the gateway, from the platform's real token service: kept until
shortly before they expire, forgotten on request (after a 401), refused credentials named."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from indbetaling.app import System, build
from indbetaling.contracts import BESKEDFORDELER_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.demo_identity import debitorsystem_secret
from indbetaling.demo_setup import ensure_demo
from indbetaling.settings import Settings
from indbetaling.sts_client import AsyncTokenClient, Credentials, TokenClient, TokenRefused


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> tuple[System, dict[str, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("sts"), demo_claims=100)
    system = build(settings)
    demo = ensure_demo(system)
    return system, {"cvr": demo["authorities"][0]["cvr"], "secret": debitorsystem_secret(settings)}


def claims(token: str) -> dict[str, str]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_tokens_are_kept_per_service_and_authority_and_renewed_when_forgotten(
    system: tuple[System, dict[str, str]],
) -> None:
    app, known = system[0].app, system[1]
    with TestClient(app) as http:
        tokens = TokenClient(
            Credentials("http://testserver", "debitorsystem", known["secret"]), http
        )
        first = tokens.token(TILBAGEFOER_ORDRE_ENTITY_ID, known["cvr"])
        assert tokens.token(TILBAGEFOER_ORDRE_ENTITY_ID, known["cvr"]) == first
        other = tokens.token(BESKEDFORDELER_ENTITY_ID, known["cvr"])
        assert claims(first)["aud"] == TILBAGEFOER_ORDRE_ENTITY_ID
        assert claims(other)["aud"] == BESKEDFORDELER_ENTITY_ID
        tokens.forget(TILBAGEFOER_ORDRE_ENTITY_ID, known["cvr"])
        renewed = tokens.token(TILBAGEFOER_ORDRE_ENTITY_ID, known["cvr"])
        assert renewed != first
        assert claims(renewed)["jti"] != claims(first)["jti"]


def test_refused_credentials_are_named(system: tuple[System, dict[str, str]]) -> None:
    app, known = system[0].app, system[1]
    with TestClient(app) as http:
        wrong = TokenClient(Credentials("http://testserver", "debitorsystem", "forkert"), http)
        with pytest.raises(TokenRefused, match="HTTP 401"):
            wrong.token(TILBAGEFOER_ORDRE_ENTITY_ID, known["cvr"])


def test_the_async_client_keeps_tokens_too(system: tuple[System, dict[str, str]]) -> None:
    app, known = system[0].app, system[1]

    async def twice() -> tuple[str, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            credentials = Credentials("http://testserver", "debitorsystem", known["secret"])
            tokens = AsyncTokenClient(credentials, http)
            return (
                await tokens.token(BESKEDFORDELER_ENTITY_ID, known["cvr"]),
                await tokens.token(BESKEDFORDELER_ENTITY_ID, known["cvr"]),
            )

    first, second = asyncio.run(twice())
    assert first == second

"""Tokens from the Serviceplatform's token service, for a part that calls another through the
gateway: OAuth 2 client credentials with scope `entityid:<service>,anvenderkontekst:<CVR>`,
cached per (service, authority) until shortly before they expire, forgotten on a 401.

`TokenClient` serves synchronous callers (threads), `AsyncTokenClient` the event loop; both
share the cache and the reading of the answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

TOKEN_PATH = "/sts/token"  # noqa: S105 - a path, no secret
TOKEN_MARGIN_SECONDS = 60


class TokenRefused(Exception):
    """The token service did not hand out a token; the text says what it answered."""


@dataclass(frozen=True)
class Credentials:
    gateway_url: str
    """The Serviceplatform's base URL (it serves `/sts/token`)."""
    client_id: str
    client_secret: str

    @property
    def token_url(self) -> str:
        return self.gateway_url.rstrip("/") + TOKEN_PATH

    def form(self, entity_id: str, cvr: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": f"entityid:{entity_id},anvenderkontekst:{cvr}",
        }


class TokenCache:
    """Tokens by (service, authority), each kept until shortly before it expires."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, entity_id: str, cvr: str) -> str | None:
        with self._lock:
            cached = self._tokens.get((entity_id, cvr))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def keep(self, entity_id: str, cvr: str, answer: httpx.Response) -> str:
        """Read the token service's answer, keep its token and return it."""
        if answer.status_code != 200:
            raise TokenRefused(
                f"tokenservicen svarede HTTP {answer.status_code}: {answer.text[:300]}"
            )
        try:
            body = answer.json()
            token = str(body["access_token"])
            lifetime = max(0.0, float(body.get("expires_in", 0)) - TOKEN_MARGIN_SECONDS)
        except (ValueError, KeyError, TypeError):
            raise TokenRefused("tokenservicens svar kan ikke læses") from None
        with self._lock:
            self._tokens[(entity_id, cvr)] = (token, time.monotonic() + lifetime)
        return token

    def forget(self, entity_id: str, cvr: str) -> None:
        with self._lock:
            self._tokens.pop((entity_id, cvr), None)


class TokenClient:
    """Tokens for a synchronous caller; safe to use from several threads."""

    def __init__(self, credentials: Credentials, http: httpx.Client) -> None:
        self.credentials = credentials
        self.http = http
        self.cache = TokenCache()

    def token(self, entity_id: str, cvr: str) -> str:
        cached = self.cache.get(entity_id, cvr)
        if cached is not None:
            return cached
        answer = self.http.post(
            self.credentials.token_url, data=self.credentials.form(entity_id, cvr)
        )
        return self.cache.keep(entity_id, cvr, answer)

    def forget(self, entity_id: str, cvr: str) -> None:
        self.cache.forget(entity_id, cvr)


class AsyncTokenClient:
    """Tokens for a caller on the event loop."""

    def __init__(self, credentials: Credentials, http: httpx.AsyncClient) -> None:
        self.credentials = credentials
        self.http = http
        self.cache = TokenCache()

    async def token(self, entity_id: str, cvr: str) -> str:
        cached = self.cache.get(entity_id, cvr)
        if cached is not None:
            return cached
        answer = await self.http.post(
            self.credentials.token_url, data=self.credentials.form(entity_id, cvr)
        )
        return self.cache.keep(entity_id, cvr, answer)

    def forget(self, entity_id: str, cvr: str) -> None:
        self.cache.forget(entity_id, cvr)

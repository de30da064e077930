"""Services that know their callers by a shared bearer token (finance, NemKonto): no token or
an unknown one is 401 with a `Bearer` challenge, as a problem document."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection

from fastapi import Request

from indbetaling.http_errors import ProblemError

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(request: Request) -> str:
    """The request's bearer token; 401 when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(401, "IKKE_AUTENTIFICERET", "Token mangler", CHALLENGE)
    return token


def token_guard(tokens: Collection[str]) -> Callable[[Request], None]:
    """A FastAPI dependency that lets through the bearers of `tokens` (compared in constant
    time) and no one else; an empty collection lets no one through."""
    known = [t.encode() for t in tokens if t]

    def guard(request: Request) -> None:
        token = bearer_token(request).encode()
        if not any(hmac.compare_digest(token, t) for t in known):
            raise ProblemError(401, "IKKE_AUTENTIFICERET", "Ukendt token", CHALLENGE)

    return guard

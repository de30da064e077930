"""Who may use a fagsystem's case-worker API: the bearer of that fagsystem's case-worker token.

No token, or one nobody issued, is 401; a token of another fagsystem this process hosts is 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from uuid import UUID

from fastapi import Request

from indbetaling.http_errors import ProblemError

BEARER = "bearer "
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def caseworker_guard(tokens: Mapping[UUID, str], fagsystem_id: UUID) -> Callable[[Request], None]:
    """A FastAPI dependency that lets only `fagsystem_id`'s case workers through."""
    own = tokens[fagsystem_id]
    others = [token for owner, token in tokens.items() if owner != fagsystem_id]

    def guard(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith(BEARER):
            raise ProblemError(401, "IKKE_AUTENTIFICERET", "Token mangler", CHALLENGE)
        token = header[len(BEARER) :].strip()
        if hmac.compare_digest(token.encode(), own.encode()):
            return
        if any(hmac.compare_digest(token.encode(), other.encode()) for other in others):
            raise ProblemError(403, "IKKE_ADGANG", "Tokenet hører til et andet fagsystem")
        raise ProblemError(401, "IKKE_AUTENTIFICERET", "Ukendt token", CHALLENGE)

    return guard

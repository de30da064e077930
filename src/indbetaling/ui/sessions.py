"""Sessions of the pages: a signed cookie, no server-side state.

The cookie holds who signed in (or nobody yet) and the session's CSRF token, signed with the
settings' secret (itsdangerous) and refused once older than `max_age`. It is `HttpOnly` (no
script reads it), `SameSite=Lax` (other sites' forms do not carry it) and `Secure` when the
pages are served over HTTPS. Every form carries the session's CSRF token in a hidden field
(`CSRF_FIELD`), and a POST whose field does not match changes nothing (`check_csrf`).
Signing in makes a new session (new token), so a session from before cannot be taken over.
A user who signed in through the organisation's identity provider (OpenID Connect, `oidc`) is
not in the user directory: the session then carries the user (name, role, scope) itself, as
the verified ID token's claims gave them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.ui.users import Role, WebUser

COOKIE = "indbetaling_session"
CSRF_FIELD = "csrf_token"
MAX_AGE_SECONDS = 8 * 3600
_STATE_KEY = "web_session"


@dataclass(frozen=True)
class Session:
    username: str | None
    csrf_token: str
    fresh: bool = False
    """Made in this request: its cookie must be set on the answer."""
    user: WebUser | None = None
    """The user as the identity provider described them (OIDC); None for a directory user."""


def _new(username: str | None = None, user: WebUser | None = None) -> Session:
    return Session(username, secrets.token_urlsafe(32), fresh=True, user=user)


def _user_data(user: WebUser) -> dict[str, Any]:
    return {"n": user.name, "r": user.role.value, "s": user.scope, "h": user.home}


def _user_from(username: str | None, data: object) -> WebUser | None:
    if username is None or not isinstance(data, dict):
        return None
    name, role, scope, home = data.get("n"), data.get("r"), data.get("s"), data.get("h")
    if not (isinstance(name, str) and isinstance(home, str) and isinstance(role, str)):
        return None
    if role not in Role.__members__:
        return None
    if not (scope is None or isinstance(scope, str)):
        return None
    return WebUser(username, name, Role(role), scope, home=home)


class SessionCodec:
    """Reads and writes the session cookie."""

    def __init__(self, secret: str, *, secure: bool, max_age: int = MAX_AGE_SECONDS) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt="indbetaling-web-session")
        self.secure = secure
        self.max_age = max_age

    def session(self, request: Request) -> Session:
        """This request's session: the cookie's, or a new anonymous one (the same all through
        the request)."""
        known = request.state.__dict__.get(_STATE_KEY)
        if isinstance(known, Session):
            return known
        session = self._read(request.cookies.get(COOKIE)) or _new()
        request.state.__dict__[_STATE_KEY] = session
        return session

    def _read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        username, token = data.get("u"), data.get("c")
        if not isinstance(token, str) or not (username is None or isinstance(username, str)):
            return None
        return Session(username, token, user=_user_from(username, data.get("p")))

    def sign_in(self, request: Request, username: str, user: WebUser | None = None) -> Session:
        """A new session for `username` (a new CSRF token too); `user` when the identity
        provider, not the directory, says who they are."""
        session = _new(username, user)
        request.state.__dict__[_STATE_KEY] = session
        return session

    def sign_out(self, request: Request) -> Session:
        session = _new()
        request.state.__dict__[_STATE_KEY] = session
        return session

    def store(self, request: Request, response: Response) -> None:
        """Set the cookie on `response` when this request made a new session."""
        session = request.state.__dict__.get(_STATE_KEY)
        if not isinstance(session, Session) or not session.fresh:
            return
        data: dict[str, Any] = {"u": session.username, "c": session.csrf_token}
        if session.user is not None:
            data["p"] = _user_data(session.user)
        value = self._serializer.dumps(data)
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        request.state.__dict__[_STATE_KEY] = replace(session, fresh=False)


def check_csrf(session: Session, submitted: object) -> bool:
    """Whether a form's CSRF field is the session's token."""
    if not isinstance(submitted, str) or not submitted or session.fresh:
        return False
    return hmac.compare_digest(submitted.encode(), session.csrf_token.encode())

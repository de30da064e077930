"""Who signs in to the pages, and what each may see.

A `WebUser` has a role and a scope: a case worker (`SAGSBEHANDLER`) one fagsystem, collections
staff (`OPKRAEVNING`) one authority; the Beskedfordeler's administrator and finance see their
whole part. The embedded default makes its users from the demo (`demo_users`); a real
deployment signs people in through its own identity provider (OIDC) and maps their claims to
the same `WebUser`, so the pages do not change.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SAGSBEHANDLER = "SAGSBEHANDLER"
    """A case worker of one fagsystem (scope: the fagsystem's id)."""
    OPKRAEVNING = "OPKRAEVNING"
    """Collections staff of one authority (scope: its CVR)."""
    BESKEDFORDELER_ADMIN = "BESKEDFORDELER_ADMIN"
    """The Beskedfordeler's administrator of one subscriber (scope: its it-system id)."""
    BESKEDFORDELER_DRIFT = "BESKEDFORDELER_DRIFT"
    """The Beskedfordeler's operator: every mailbox, the error queue, refused publications."""
    FINANS = "FINANS"
    """Finance: postings and the reconciliation."""


ROLE_TEXT = {
    Role.SAGSBEHANDLER: "Sagsbehandler",
    Role.OPKRAEVNING: "Opkrævning",
    Role.BESKEDFORDELER_ADMIN: "Beskedfordeler-administrator",
    Role.BESKEDFORDELER_DRIFT: "Beskedfordeler-drift",
    Role.FINANS: "Økonomi",
}


@dataclass(frozen=True)
class WebUser:
    username: str
    name: str
    """How the pages greet the user."""
    role: Role
    scope: str | None = None
    """The fagsystem id or authority CVR the user works in; None for a whole part."""
    home: str = "/"
    """The path the user lands on after signing in."""

    @property
    def role_text(self) -> str:
        return ROLE_TEXT[self.role]

    def may(self, role: Role, scope: str | None = None) -> bool:
        """Whether the user works as `role` in `scope`."""
        return self.role is role and (scope is None or self.scope == scope)


@dataclass(frozen=True)
class Account:
    """A user with the password they sign in with."""

    user: WebUser
    password: str


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class UserDirectory:
    """The users that may sign in; passwords compared in constant time."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._accounts = {a.user.username: a for a in accounts}

    def authenticate(self, username: str, password: str) -> WebUser | None:
        account = self._accounts.get(username.strip())
        expected = _digest(account.password if account else "\x00no-such-user")
        matches = hmac.compare_digest(_digest(password), expected)
        return account.user if account is not None and matches else None

    def find(self, username: str) -> WebUser | None:
        account = self._accounts.get(username)
        return None if account is None else account.user

    @property
    def users(self) -> list[WebUser]:
        return [a.user for a in self._accounts.values()]

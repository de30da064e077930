"""The demo's users of the web pages: a case worker per fagsystem, collections staff per
authority and finance, each signing in with a password derived like the demo's other
credentials (`demo_identity.web_password`), printed by `indbetaling run` and written in
`demo.json` (`web_users`).

The role of the Beskedfordeler's administrator exists (`ui.users.Role`); its user joins this
list when its pages do.
"""

from __future__ import annotations

from typing import Any

from indbetaling.demo_identity import web_password
from indbetaling.demo_plan import DemoAuthority, DemoFagsystem, DemoPlan
from indbetaling.fagsystem import app as fagsystem_app
from indbetaling.settings import Settings
from indbetaling.ui.users import Account, Role, WebUser

_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
DEBITORSYSTEM_PAGES = "/debitorsystem/"
FINANCE_PAGES = "/finance/"
FINANCE_USERNAME = "oekonomi"


def _word(name: str) -> str:
    word = name.split(maxsplit=1)[0].lower().translate(_ASCII)
    return "".join(c for c in word if c.isalnum())


def caseworker_username(fagsystem: DemoFagsystem) -> str:
    """`sagsbehandler-borgerservice`: the first word of the fagsystem's name."""
    return f"sagsbehandler-{_word(fagsystem.name)}"


def staff_username(authority: DemoAuthority) -> str:
    """`opkraevning-aarhus`: the first word of the authority's name."""
    return f"opkraevning-{_word(authority.name)}"


def demo_accounts(settings: Settings, plan: DemoPlan) -> list[Account]:
    users = [
        WebUser(
            caseworker_username(fagsystem),
            f"Sagsbehandler i {fagsystem.name}",
            Role.SAGSBEHANDLER,
            str(fagsystem.id),
            home=fagsystem_app.prefix(fagsystem.id) + "/",
        )
        for fagsystem in plan.fagsystems
    ]
    users += [
        WebUser(
            staff_username(authority),
            f"Opkrævning i {authority.name}",
            Role.OPKRAEVNING,
            authority.cvr,
            home=f"{DEBITORSYSTEM_PAGES}myndigheder/{authority.cvr}/",
        )
        for authority in plan.authorities
    ]
    users.append(WebUser(FINANCE_USERNAME, "Økonomi", Role.FINANS, home=FINANCE_PAGES))
    return [Account(user, web_password(settings, user.username)) for user in users]


def web_users_json(accounts: list[Account], base_url: str) -> list[dict[str, Any]]:
    """`demo.json`'s `web_users`."""
    users = []
    for account in accounts:
        user = account.user
        entry: dict[str, Any] = {
            "username": user.username,
            "password": account.password,
            "role": user.role.value,
            "name": user.name,
            "url": base_url + user.home,
        }
        if user.role is Role.SAGSBEHANDLER:
            entry["fagsystem_id"] = user.scope
        if user.role is Role.OPKRAEVNING:
            entry["cvr"] = user.scope
        users.append(entry)
    return users

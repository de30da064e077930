"""The demo's users of the web pages: a case worker per fagsystem, collections staff per
authority, finance, and the Beskedfordeler's administrator of each demo fagsystem's subscriber and
its operator (`beskedfordeler_users`); each signs in with a password derived like the demo's
other credentials (`demo_identity.web_password`), printed by `indbetaling run` and written in
`demo.json` (`web_users`).
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
    users += beskedfordeler_users(plan)
    return [Account(user, web_password(settings, user.username)) for user in users]


BESKEDFORDELER_OPERATOR = "beskedfordeler-drift"
BESKEDFORDELER_PAGES = "/beskedfordeler/sider"


def subscriber_admin_username(fagsystem: DemoFagsystem) -> str:
    """`abonnent-borgerservice`: administers the fagsystem's subscription in the
    Beskedfordeler."""
    return caseworker_username(fagsystem).replace("sagsbehandler-", "abonnent-", 1)


def beskedfordeler_users(plan: DemoPlan) -> list[WebUser]:
    """An administrator of each demo fagsystem's subscriber (the fagsystem's it-system) and
    the Beskedfordeler's operator."""
    admins = [
        WebUser(
            subscriber_admin_username(fagsystem),
            f"Abonnent-administrator for {fagsystem.name}",
            Role.BESKEDFORDELER_ADMIN,
            str(fagsystem.id),
            home=f"{BESKEDFORDELER_PAGES}/abonnenter/{fagsystem.id}/",
        )
        for fagsystem in plan.fagsystems
    ]
    operator = WebUser(
        BESKEDFORDELER_OPERATOR,
        "Drift af Beskedfordeleren",
        Role.BESKEDFORDELER_DRIFT,
        home=f"{BESKEDFORDELER_PAGES}/drift/",
    )
    return [*admins, operator]


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
        if user.role is Role.BESKEDFORDELER_ADMIN:
            entry["abonnent_id"] = user.scope
        users.append(entry)
    return users


def web_home(role: Role, scope: str | None) -> str:
    """The page a user of `role` in `scope` lands on after signing in (the same for a demo user
    and for one the identity provider signed in)."""
    match role:
        case Role.SAGSBEHANDLER:
            return f"/fagsystem/{scope}/"
        case Role.OPKRAEVNING:
            return f"{DEBITORSYSTEM_PAGES}myndigheder/{scope}/"
        case Role.FINANS:
            return FINANCE_PAGES
        case Role.BESKEDFORDELER_ADMIN:
            return f"{BESKEDFORDELER_PAGES}/abonnenter/{scope}/"
        case Role.BESKEDFORDELER_DRIFT:
            return f"{BESKEDFORDELER_PAGES}/drift/"

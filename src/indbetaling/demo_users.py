"""The demo's users of the web pages: a case worker per fagsystem, each signing in with a
password derived like the demo's other credentials (`demo_identity.web_password`), printed by
`indbetaling run` and written in `demo.json` (`web_users`).

The Beskedfordeler has an administrator per demo fagsystem (its subscriber) and an operator
(`beskedfordeler_accounts`). The roles for collections staff per authority and finance exist
(`ui.users.Role`); their users join this list when their pages do.
"""

from __future__ import annotations

from typing import Any

from indbetaling.demo_identity import web_password
from indbetaling.demo_plan import DemoFagsystem, DemoPlan
from indbetaling.fagsystem import app as fagsystem_app
from indbetaling.settings import Settings
from indbetaling.ui.users import Account, Role, WebUser

_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})


def caseworker_username(fagsystem: DemoFagsystem) -> str:
    """`sagsbehandler-borgerservice`: the first word of the fagsystem's name."""
    word = fagsystem.name.split()[0].lower().translate(_ASCII)
    return f"sagsbehandler-{''.join(c for c in word if c.isalnum())}"


def demo_accounts(settings: Settings, plan: DemoPlan) -> list[Account]:
    accounts = []
    for fagsystem in plan.fagsystems:
        username = caseworker_username(fagsystem)
        user = WebUser(
            username,
            f"Sagsbehandler i {fagsystem.name}",
            Role.SAGSBEHANDLER,
            str(fagsystem.id),
            home=fagsystem_app.prefix(fagsystem.id) + "/",
        )
        accounts.append(Account(user, web_password(settings, username)))
    return accounts + beskedfordeler_accounts(settings, plan)


BESKEDFORDELER_OPERATOR = "beskedfordeler-drift"
BESKEDFORDELER_PAGES = "/beskedfordeler/sider"


def subscriber_admin_username(fagsystem: DemoFagsystem) -> str:
    """`abonnent-borgerservice`: administers the fagsystem's subscription in the
    Beskedfordeler."""
    return caseworker_username(fagsystem).replace("sagsbehandler-", "abonnent-", 1)


def beskedfordeler_accounts(settings: Settings, plan: DemoPlan) -> list[Account]:
    """An administrator of each demo fagsystem's subscriber (the fagsystem's it-system) and
    the Beskedfordeler's operator."""
    accounts = []
    for fagsystem in plan.fagsystems:
        username = subscriber_admin_username(fagsystem)
        user = WebUser(
            username,
            f"Abonnent-administrator for {fagsystem.name}",
            Role.BESKEDFORDELER_ADMIN,
            str(fagsystem.id),
            home=f"{BESKEDFORDELER_PAGES}/abonnenter/{fagsystem.id}/",
        )
        accounts.append(Account(user, web_password(settings, username)))
    operator = WebUser(
        BESKEDFORDELER_OPERATOR,
        "Drift af Beskedfordeleren",
        Role.BESKEDFORDELER_DRIFT,
        home=f"{BESKEDFORDELER_PAGES}/drift/",
    )
    accounts.append(Account(operator, web_password(settings, BESKEDFORDELER_OPERATOR)))
    return accounts


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
        if user.role is Role.BESKEDFORDELER_ADMIN:
            entry["abonnent_id"] = user.scope
        users.append(entry)
    return users

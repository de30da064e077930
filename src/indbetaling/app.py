"""The composition root of the embedded default: every part in one process, on one port, each
with its own database (SQLite files under the data folder unless URLs are set).

The parts meet only here, and only through their entry points (`<part>/app.py`); none imports
another. Even in one process they reach each other over the wire: the gateway forwards over an
in-process HTTP transport, the debitorsystem publishes its claim messages through the gateway's
`BeskedAfsend` (or RabbitMQ), reversal orders travel through the gateway, and finance reads
what it reconciles from the others' APIs. So what runs here is what runs when each part is its
own process. `demo_setup.ensure_demo()` fills them with the demo dataset on first start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from indbetaling import composition
from indbetaling.beskedfordeler import app as beskedfordeler_app
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.composition import FagsystemSettings, Peers, Secrets
from indbetaling.db import make_engine, migrate
from indbetaling.debitorsystem import app as debitorsystem_app
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.demo_identity import (
    auditor_token,
    caseworker_token,
    debitorsystem_secret,
    demo_secret,
    fagsystem_client_id,
    finance_token,
    operator_token,
    push_secret,
    web_session_secret,
)
from indbetaling.demo_plan import DemoPlan, make_plan
from indbetaling.demo_users import demo_accounts, web_home
from indbetaling.fagsystem import app as fagsystem_app
from indbetaling.fagsystem.domain import ReversalPolicy
from indbetaling.finance import app as finance_app
from indbetaling.parts import mount, new_app
from indbetaling.public_openapi import Forwarded, publish
from indbetaling.serviceplatform import app as serviceplatform_app
from indbetaling.serviceplatform.service import Serviceplatform
from indbetaling.settings import Part, Settings
from indbetaling.ui.access import WebAccess
from indbetaling.ui.oidc import OidcConfig, OidcSignIn
from indbetaling.ui.pages import Pages
from indbetaling.ui.sessions import SessionCodec
from indbetaling.ui.signin import Link, signin_router
from indbetaling.ui.users import Account, Role, UserDirectory

PARTS_IN_PROCESS: tuple[Part, ...] = (
    "debitorsystem",
    "serviceplatform",
    "fagsystem",
    "beskedfordeler",
    "finance",
    "nemkonto",
)


@dataclass
class System:
    settings: Settings
    app: FastAPI
    engines: dict[str, Engine]
    debitor: DebitorService
    platform: Serviceplatform
    beskedfordeler: Beskedfordeler
    fagsystems: fagsystem_app.FagsystemApp
    web_accounts: list[Account]

    @property
    def debitorsystem_id(self) -> uuid.UUID:
        return self.debitor.system_id


def build(settings: Settings) -> System:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engines: dict[str, Engine] = {
        part: make_engine(
            settings.database_url(part), sqlite_synchronous=settings.sqlite_synchronous
        )
        for part in PARTS_IN_PROCESS
    }
    for part, engine in engines.items():
        migrate(engine, part)
    app, workers = new_app(
        "Indbetaling",
        "KOMBIT SF1590_B_03 Afsend DebitorIndbetaling: all five parts on one port.",
    )
    # In one process the parts call each other in-process over HTTP, all at this base URL; the
    # registered endpoints stay absolute URLs, so the same registrations serve parts that run
    # as separate processes.
    base = settings.base_url
    in_process = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base, timeout=30
    )
    secrets = demo_secrets(settings)
    platform = composition.gateway(engines["serviceplatform"], in_process, secrets)
    jwks = platform.platform.jwks()
    peers = Peers.at(in_process, base, lambda: jwks)
    plan = make_plan(settings.demo_seed, settings.demo_claims)
    hosted = demo_fagsystems(settings)
    oidc = _oidc_sign_in(settings, plan)
    # With an identity provider nobody signs in with a demo password.
    accounts = [] if oidc is not None else demo_accounts(settings, plan)
    access = WebAccess(
        SessionCodec(web_session_secret(settings), secure=base.startswith("https:")),
        UserDirectory(accounts),
    )
    names = {a.cvr: a.name for a in plan.authorities}
    debitorsystem = composition.debitorsystem(
        settings,
        engines["debitorsystem"],
        peers,
        secrets,
        web=debitorsystem_app.Web(access, names),
    )
    fagsystems = composition.fagsystem(
        engines["fagsystem"], peers, secrets, hosted, web=fagsystem_app.Web(access, names)
    )
    beskedfordeler = composition.beskedfordeler(
        settings,
        engines["beskedfordeler"],
        peers,
        web=beskedfordeler_app.Web(access, {str(f.id): f.name for f in plan.fagsystems}),
    )
    finance = composition.finance(
        engines["finance"], peers, secrets, hosted, web=finance_app.Web(access, names)
    )
    nemkonto = composition.nemkonto(engines["nemkonto"], secrets)
    mount(app, workers, [platform, debitorsystem, fagsystems, beskedfordeler, finance, nemkonto])
    app.include_router(
        signin_router(Pages(access, [], "Indbetaling"), _page_links(plan), oidc=oidc)
    )
    # Clients call the gateway's REST paths; the providers' own addresses stay private.
    publish(
        app,
        base_url=base,
        forwarded=[
            Forwarded(debitorsystem_app.REST_BASE, serviceplatform_app.REST_PREFIX),
            Forwarded(beskedfordeler_app.PREFIX, serviceplatform_app.BESKEDFORDELER_PREFIX),
        ],
        internal=[
            debitorsystem_app.REST_BASE,
            debitorsystem_app.SOAP_ENDPOINT,
            beskedfordeler_app.PREFIX,
        ],
    )
    return System(
        settings,
        app,
        engines,
        debitorsystem.service,
        platform.platform,
        beskedfordeler.service,
        fagsystems,
        accounts,
    )


def demo_secrets(settings: Settings) -> Secrets:
    """The embedded default's credentials: from the settings, else the demo's."""
    return Secrets(
        operator_token=operator_token(settings),
        debitorsystem_client_secret=debitorsystem_secret(settings),
        debitorsystem_auditor_token=auditor_token(settings),
        finance_token=finance_token(settings),
    )


def _oidc_sign_in(settings: Settings, plan: DemoPlan) -> OidcSignIn | None:
    """Signing in through the identity provider, when the settings name one (docs/oidc.md)."""
    if not settings.web_oidc_issuer:
        return None
    if not settings.web_oidc_client_id:
        raise ValueError("INDBETALING_WEB_OIDC_CLIENT_ID is needed with WEB_OIDC_ISSUER")
    if "openid" not in settings.web_oidc_scope.split():
        raise ValueError("INDBETALING_WEB_OIDC_SCOPE must include openid")
    fagsystems = {str(f.id) for f in plan.fagsystems}
    authorities = {a.cvr for a in plan.authorities}
    # A subscriber's administrator is not checked here: subscribers come and go in the
    # Beskedfordeler, whose pages show an unknown one's as empty.
    scopes = {Role.SAGSBEHANDLER: fagsystems, Role.OPKRAEVNING: authorities}

    def known(role: Role, scope: str | None) -> bool:
        return role not in scopes or scope in scopes[role]

    return OidcSignIn(
        OidcConfig(
            issuer=settings.web_oidc_issuer,
            client_id=settings.web_oidc_client_id,
            client_secret=settings.secret("web_oidc_client_secret"),
            base_url=settings.base_url,
            roles_claim=settings.web_oidc_roles_claim,
            scope=settings.web_oidc_scope,
            provider_name=settings.web_oidc_provider_name,
        ),
        secret=web_session_secret(settings),
        secure=settings.base_url.startswith("https:"),
        home=web_home,
        known=known,
    )


def _page_links(plan: DemoPlan) -> list[Link]:
    """What the front page links to: each part's pages."""
    return [
        *(
            Link(f.name, fagsystem_app.prefix(f.id) + "/", "fagsystemets sider for sagsbehandlere")
            for f in plan.fagsystems
        ),
        Link(
            "Debitorsystem",
            debitorsystem_app.PREFIX + "/",
            "opkrævningens sider: fordringer, nedreguleringer og tilbageførselsordrer",
        ),
        Link(
            "Beskedfordeler",
            beskedfordeler_app.PAGES_PATH,
            "abonnenternes dueslag, abonnementer og værdilister; driftens fejlkø",
        ),
        Link("Økonomi", "/finance/", "posteringer og afstemning"),
    ]


def demo_fagsystems(settings: Settings) -> list[FagsystemSettings]:
    """The demo's fagsystems, hosted by the embedded default, with the demo's credentials."""
    plan = make_plan(settings.demo_seed, settings.demo_claims)  # the same plan for a seed
    return [
        FagsystemSettings(
            id=f.id,
            name=f.name,
            client_id=fagsystem_client_id(f.id),
            client_secret=demo_secret(settings, str(f.id)),
            caseworker_token=caseworker_token(settings, f.id),
            push_secret=push_secret(settings, f.id),
            reversal_policy=ReversalPolicy(f.reversal_policy),
            org_units=f.org_units,
        )
        for f in plan.fagsystems
    ]

"""How each part is built from settings and the addresses of the others: the one wiring of
`indbetaling run` (every part in one process, calling each other over an in-process HTTP
transport at its own base URL) and `indbetaling serve PART` (each part alone, calling the others
over the network at the URLs its settings name).

A part gets `Peers` (where the others are, the HTTP client to reach them with, the platform's
public keys) and `Secrets` (its credentials); the fagsystem part and finance also get the
hosted fagsystems (`FagsystemSettings`, from a JSON settings file in production, from the demo
plan in `run`). Nothing here knows whether the others run in the same process.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Engine

from indbetaling.besked_afsend import AmqpPublisher, HttpPublisher, Publisher
from indbetaling.beskedfordeler import app as beskedfordeler_app
from indbetaling.debitorsystem import app as debitorsystem_app
from indbetaling.debitorsystem.relay import RelaySettings
from indbetaling.demo_identity import debitorsystem_id
from indbetaling.fagsystem import app as fagsystem_app
from indbetaling.fagsystem.client import GatewayDebitorClient
from indbetaling.fagsystem.domain import ReversalPolicy
from indbetaling.fagsystem.finance_client import BookingSettings
from indbetaling.finance import app as finance_app
from indbetaling.nemkonto import app as nemkonto_app
from indbetaling.serviceplatform import app as serviceplatform_app
from indbetaling.settings import SecretName, Settings
from indbetaling.sts_client import Credentials

Jwks = Mapping[str, Any]
log = logging.getLogger(__name__)


class MissingSetting(Exception):
    """A part cannot be built: a setting it needs is not set (the text names it)."""


PeerName = Literal["gateway", "debitorsystem", "fagsystem", "finance", "nemkonto"]
PEERS: tuple[PeerName, ...] = ("gateway", "debitorsystem", "fagsystem", "finance", "nemkonto")


@dataclass(frozen=True)
class Peers:
    """Where one part finds the others, and the HTTP client it calls them with."""

    http: httpx.AsyncClient
    urls: Mapping[PeerName, str]
    """Base URLs: the gateway (`/sts/token`, the routed services, `BeskedAfsend`,
    `/sts/jwks`), the debitorsystem, the fagsystem part, finance and NemKonto."""
    platform_jwks: Callable[[], Jwks]
    """The platform's public keys, which vouch for the callers the gateway forwards."""

    @classmethod
    def at(cls, http: httpx.AsyncClient, base_url: str, jwks: Callable[[], Jwks]) -> Peers:
        """Every part at one base URL (the embedded default)."""
        return cls(http, dict.fromkeys(PEERS, base_url), jwks)

    def url(self, name: PeerName) -> str:
        return peer_url(self.urls, name)


def peer_url(urls: Mapping[PeerName, str], name: PeerName) -> str:
    """The base URL of `name`, or `MissingSetting` naming the setting."""
    found = urls.get(name)
    if not found:
        raise MissingSetting(f"set INDBETALING_{name.upper()}_URL (the {name}'s base URL)")
    return found.rstrip("/")


@dataclass(frozen=True)
class Secrets:
    """The credentials parts use; `need` names the setting when one is missing."""

    operator_token: str | None = None
    debitorsystem_client_secret: str | None = None
    debitorsystem_auditor_token: str | None = None
    finance_token: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Secrets:
        return cls(
            operator_token=settings.secret("operator_token"),
            debitorsystem_client_secret=settings.secret("debitorsystem_client_secret"),
            debitorsystem_auditor_token=settings.secret("debitorsystem_auditor_token"),
            finance_token=settings.secret("finance_token"),
        )

    def need(self, name: SecretName) -> str:
        value: str | None = getattr(self, name)
        if not value:
            env = f"INDBETALING_{name.upper()}"
            raise MissingSetting(f"set {env} (or {env}_FILE, a file holding it)")
        return value


@dataclass(frozen=True)
class FagsystemSettings:
    """A fagsystem the fagsystem part hosts (and finance reconciles)."""

    id: uuid.UUID
    name: str
    client_id: str
    """Its client id at the platform's token service."""
    client_secret: str
    caseworker_token: str
    push_secret: str
    """The `whsec_…` secret the Beskedfordeler signs its pushes with."""
    reversal_policy: ReversalPolicy
    org_units: Mapping[str, tuple[uuid.UUID, ...]]
    """Its sortiment: the ORG units it pays from, per authority CVR."""
    url: str | None = None
    """Where its part is served, when not at the `fagsystem_url` setting (finance uses it)."""

    @property
    def authorities(self) -> tuple[str, ...]:
        return tuple(self.org_units)


# -- the fagsystems settings file ------------------------------------------------------------


class _FagsystemEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    name: str = ""
    client_id: str = Field(min_length=1)
    client_secret: str | None = None
    client_secret_file: Path | None = None
    caseworker_token: str | None = None
    caseworker_token_file: Path | None = None
    push_secret: str | None = None
    push_secret_file: Path | None = None
    reversal_policy: Literal["SAGSBEHANDLER", "AUTOMATISK"] = "SAGSBEHANDLER"
    org_units: dict[str, list[uuid.UUID]] = Field(min_length=1)
    """ORG units per authority CVR."""
    url: str | None = None

    @model_validator(mode="after")
    def _each_secret_once(self) -> _FagsystemEntry:
        for name in ("client_secret", "caseworker_token", "push_secret"):
            given = [getattr(self, name), getattr(self, f"{name}_file")]
            if sum(v is not None for v in given) != 1:
                raise ValueError(f"give exactly one of {name} and {name}_file")
        for cvr in self.org_units:
            if not (len(cvr) == 8 and cvr.isdigit()):
                raise ValueError(f"org_units: {cvr!r} is not a CVR number (8 digits)")
        return self


class _FagsystemsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fagsystemer: list[_FagsystemEntry] = Field(min_length=1)


def _secret_of(entry: _FagsystemEntry, name: str, folder: Path) -> str:
    value: str | None = getattr(entry, name)
    if value is not None:
        return value
    path: Path = getattr(entry, f"{name}_file")
    path = path if path.is_absolute() else folder / path
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise MissingSetting(f"{path} ({name} of fagsystem {entry.id}): {exc}") from None
    if not text:
        raise MissingSetting(f"{path} ({name} of fagsystem {entry.id}) is empty")
    return text


def load_fagsystems(path: Path) -> list[FagsystemSettings]:
    """The hosted fagsystems from their JSON settings file:
    `{"fagsystemer": [{"id", "name", "client_id", "client_secret" | "client_secret_file",
    "caseworker_token" | "caseworker_token_file", "push_secret" | "push_secret_file",
    "reversal_policy", "org_units": {CVR: [UUID, ...]}, "url"?}]}`."""
    try:
        parsed = _FagsystemsFile.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise MissingSetting(f"the fagsystems file {path} cannot be read: {exc}") from None
    folder = path.parent
    return [
        FagsystemSettings(
            id=e.id,
            name=e.name or f"Fagsystem {e.id}",
            client_id=e.client_id,
            client_secret=_secret_of(e, "client_secret", folder),
            caseworker_token=_secret_of(e, "caseworker_token", folder),
            push_secret=_secret_of(e, "push_secret", folder),
            reversal_policy=ReversalPolicy(e.reversal_policy),
            org_units={cvr: tuple(units) for cvr, units in e.org_units.items()},
            url=e.url.rstrip("/") if e.url else None,
        )
        for e in parsed.fagsystemer
    ]


def fagsystems_from_settings(settings: Settings) -> list[FagsystemSettings]:
    if settings.fagsystems_file is None:
        raise MissingSetting("set INDBETALING_FAGSYSTEMS_FILE (the hosted fagsystems, JSON)")
    return load_fagsystems(settings.fagsystems_file)


def peer_urls(settings: Settings) -> dict[PeerName, str]:
    """The others' base URLs the settings name (`INDBETALING_<PEER>_URL`)."""
    urls: dict[PeerName, str] = {}
    for name in PEERS:
        url: str | None = getattr(settings, f"{name}_url")
        if url:
            urls[name] = url
    return urls


def peers_from_settings(settings: Settings, http: httpx.AsyncClient) -> Peers:
    """The others where the settings say, and the platform's keys from `platform_jwks`,
    `platform_jwks_file`, or else the gateway."""
    return Peers(http, peer_urls(settings), lambda: platform_jwks(settings))


JWKS_PATH = "/sts/jwks"
JWKS_RETRY_SECONDS = 1.0


def platform_jwks(settings: Settings, *, wait: bool = True) -> Jwks:
    """The platform's public keys: the `platform_jwks` setting, its file, or else fetched from
    the gateway's `/sts/jwks`, trying again every second until it answers (`wait`)."""
    if settings.platform_jwks:
        return _jwks(settings.platform_jwks, "INDBETALING_PLATFORM_JWKS")
    if settings.platform_jwks_file is not None:
        path = settings.platform_jwks_file
        try:
            return _jwks(path.read_text(), str(path))
        except OSError as exc:
            raise MissingSetting(f"the platform's JWKS file {path} cannot be read: {exc}") from None
    if not settings.gateway_url:
        raise MissingSetting(
            "set INDBETALING_GATEWAY_URL (the platform's keys are at its /sts/jwks) or "
            "INDBETALING_PLATFORM_JWKS_FILE"
        )
    url = settings.gateway_url.rstrip("/") + JWKS_PATH
    said = False
    while True:
        try:
            answer = httpx.get(url, timeout=10)
            if answer.status_code == 200:
                return _jwks(answer.text, url)
            problem = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if not wait:
            raise MissingSetting(f"the platform's keys are not at {url}: {problem}")
        if not said:
            log.warning("waiting for the platform's keys at %s (%s)", url, problem)
            said = True
        time.sleep(JWKS_RETRY_SECONDS)


def _jwks(text: str, where: str) -> Jwks:
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("keys"), list):
        raise MissingSetting(f"{where} is no JWKS (a JSON object with a list of keys)")
    return found


# -- the parts ---------------------------------------------------------------------------------


def gateway(
    engine: Engine, http: httpx.AsyncClient, secrets: Secrets
) -> serviceplatform_app.ServiceplatformApp:
    """The Serviceplatform; it forwards with `http` to the endpoints registered with it."""
    return serviceplatform_app.build(engine, http, operator_token=secrets.operator_token)


def debitorsystem(
    settings: Settings,
    engine: Engine,
    peers: Peers,
    secrets: Secrets,
    *,
    web: debitorsystem_app.Web | None = None,
) -> debitorsystem_app.DebitorsystemApp:
    """The debitorsystem; with `web`, also collections staff's pages."""
    secret = secrets.need("debitorsystem_client_secret")
    return debitorsystem_app.build(
        engine,
        system_id=debitorsystem_id(settings),
        platform_jwks=peers.platform_jwks(),
        relay_settings=RelaySettings(
            gateway_url=peers.url("gateway"),
            client_id=settings.debitorsystem_client_id,
            client_secret=secret,
        ),
        publisher=_claim_publisher(settings, peers, secret),
        retention=timedelta(days=settings.idempotency_retention_days),
        auditor_token=secrets.debitorsystem_auditor_token,
        web=web,
    )


def _claim_publisher(settings: Settings, peers: Peers, secret: str) -> Publisher:
    """How the debitorsystem sends its claim messages: RabbitMQ when configured, otherwise the
    Beskedfordeler's `BeskedAfsend` through the gateway."""
    if settings.amqp_url:
        return AmqpPublisher(settings.amqp_url, str(debitorsystem_id(settings)))
    credentials = Credentials(peers.url("gateway"), settings.debitorsystem_client_id, secret)
    return HttpPublisher(credentials, peers.http)


def fagsystem(
    engine: Engine,
    peers: Peers,
    secrets: Secrets,
    hosted: Sequence[FagsystemSettings],
    *,
    web: fagsystem_app.Web | None = None,
) -> fagsystem_app.FagsystemApp:
    """The hosted fagsystems: each calls DebitorIndbetalingAfsend through the gateway with its
    own credentials, and books in finance and NemKonto; with `web`, also their case workers'
    pages."""
    return fagsystem_app.build(
        engine,
        [
            fagsystem_app.HostedFagsystem(
                f.id,
                f.push_secret,
                caseworker_token=f.caseworker_token,
                reversal_policy=f.reversal_policy,
                org_units=f.org_units,
                name=f.name,
            )
            for f in hosted
        ],
        platform_jwks=peers.platform_jwks(),
        payments=fagsystem_app.Payments(
            ports={
                f.id: GatewayDebitorClient(
                    Credentials(peers.url("gateway"), f.client_id, f.client_secret), peers.http
                )
                for f in hosted
            },
            bookings=BookingSettings(
                finance_url=peers.url("finance"),
                nemkonto_url=peers.url("nemkonto"),
                token=secrets.need("finance_token"),
            ),
            http=peers.http,
        ),
        web=web,
    )


def beskedfordeler(
    settings: Settings,
    engine: Engine,
    peers: Peers,
    *,
    web: beskedfordeler_app.Web | None = None,
) -> beskedfordeler_app.BeskedfordelerApp:
    """The Beskedfordeler; with `web`, also its pages for subscribers and operators."""
    return beskedfordeler_app.build(
        engine, platform_jwks=peers.platform_jwks(), amqp_url=settings.amqp_url, web=web
    )


def finance(
    engine: Engine,
    peers: Peers,
    secrets: Secrets,
    hosted: Sequence[FagsystemSettings],
    *,
    web: finance_app.Web | None = None,
) -> finance_app.FinanceApp:
    """Finance, reconciling over the APIs of the hosted fagsystems (case-worker tokens), the
    debitorsystem (auditor token) and NemKonto (finance token); with `web`, also its pages."""
    token = secrets.need("finance_token")
    sources = finance_app.ReconciliationSources(
        fagsystems=[
            finance_app.FagsystemSource(
                f.id,
                f"{f.url or peers.url('fagsystem')}{fagsystem_app.prefix(f.id)}/api/v1",
                f.caseworker_token,
                f.authorities,
            )
            for f in hosted
        ],
        debitorsystem=finance_app.ApiSource(
            f"{peers.url('debitorsystem')}{debitorsystem_app.PREFIX}/api/v1",
            secrets.need("debitorsystem_auditor_token"),
        ),
        nemkonto=finance_app.ApiSource(f"{peers.url('nemkonto')}{nemkonto_app.API_ROOT}", token),
    )
    return finance_app.build(engine, tokens=[token], http=peers.http, sources=sources, web=web)


def nemkonto(engine: Engine, secrets: Secrets) -> nemkonto_app.NemKontoApp:
    return nemkonto_app.build(engine, tokens=[secrets.need("finance_token")])

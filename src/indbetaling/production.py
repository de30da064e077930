"""Production: each part alone (CONTRACT §8, DESIGN "How it runs").

`indbetaling migrate PART` applies a part's migrations to its database; `indbetaling serve
PART` serves that part alone (see `serving`). The part names are those of CONTRACT §8; the
gateway keeps its data in the Serviceplatform's database.
"""

from __future__ import annotations

import asyncio
import json
import os
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from fastapi import FastAPI

from indbetaling import composition
from indbetaling.composition import (
    MissingSetting,
    PeerName,
    Secrets,
    fagsystems_from_settings,
    peer_url,
    peer_urls,
    peers_from_settings,
    platform_jwks,
)
from indbetaling.db import (
    SchemaMismatch,
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from indbetaling.observability import configure_logging
from indbetaling.parts import PartApp, mount, new_app
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS
from indbetaling.serviceplatform.api import FORWARD_TIMEOUT_SECONDS
from indbetaling.serviceplatform.service import Serviceplatform
from indbetaling.settings import SERVED_PARTS, SecretName, ServedPart, Settings, stored_part


class PartName(StrEnum):
    gateway = "gateway"
    debitorsystem = "debitorsystem"
    fagsystem = "fagsystem"
    beskedfordeler = "beskedfordeler"
    finance = "finance"
    nemkonto = "nemkonto"

    @property
    def served(self) -> ServedPart:
        part: ServedPart = self.value  # the same six names
        return part


DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="The part's database (default: INDBETALING_<PART>_DATABASE_URL)"),
]


def migrate_command(
    part: Annotated[PartName, typer.Argument(help="The part whose database to migrate")],
    database_url: DatabaseUrl = None,
) -> None:
    """Apply the part's Alembic migrations to its database."""
    stored = stored_part(part.served)
    engine = make_engine(database_url or Settings().database_url(stored))
    try:
        before = current_revision(engine, stored)
        try:
            migrate(engine, stored)
            after = check_schema(engine, stored)
        except SchemaMismatch as exc:
            typer.echo(f"indbetaling migrate {part.value}: {exc}", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:  # alembic's errors (e.g. a revision it does not know)
            typer.echo(
                f"indbetaling migrate {part.value}: the database is at revision {before}, "
                f"and this version's newest is {head_revision(stored)}: {exc}",
                err=True,
            )
            raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{part.value}: the schema is at revision {after} already")
    else:
        typer.echo(f"{part.value}: migrated from revision {before or '(empty)'} to {after}")


# -- serve -------------------------------------------------------------------------------------

SERVE_PART_ENV = "INDBETALING_SERVE_PART"
"""Which part the workers of `indbetaling serve` build (set by the command for its workers)."""
WORKER_APP = "indbetaling.production:worker_app"

NEEDS: dict[ServedPart, tuple[tuple[PeerName, ...], tuple[SecretName, ...]]] = {
    "gateway": ((), ()),
    "debitorsystem": (("gateway",), ("debitorsystem_client_secret",)),
    "fagsystem": (("gateway", "finance", "nemkonto"), ("finance_token",)),
    "beskedfordeler": ((), ()),
    "finance": (("debitorsystem", "nemkonto"), ("finance_token", "debitorsystem_auditor_token")),
    "nemkonto": ((), ("finance_token",)),
}
"""The other parts' URLs and the secrets each part needs (beyond its database)."""
NEEDS_PLATFORM_KEYS: frozenset[ServedPart] = frozenset(
    {"debitorsystem", "fagsystem", "beskedfordeler"}
)
"""The parts that check the callers the gateway vouches for (the platform's JWKS)."""
HOSTS_FAGSYSTEMS: frozenset[ServedPart] = frozenset({"fagsystem", "finance"})


def prepare(part: ServedPart, settings: Settings) -> dict[str, str]:
    """Everything a worker of `part` needs, checked once before any starts: the database's
    schema (`SchemaMismatch`), the settings (`MissingSetting`), the platform's signing key
    (made here once, for the gateway) and its public keys (fetched here once, waiting for the
    gateway); the environment the workers get on top of ours."""
    stored = stored_part(part)
    engine = make_engine(settings.database_url(stored))
    try:
        check_schema(engine, stored)
        if part == "gateway":
            Serviceplatform(engine, KNOWN_ENTITY_IDS).signing_key()
    finally:
        engine.dispose()
    urls, secrets = NEEDS[part]
    found = peer_urls(settings)
    for name in urls:
        peer_url(found, name)
    for secret in secrets:
        Secrets.from_settings(settings).need(secret)
    if part in HOSTS_FAGSYSTEMS:
        hosted = fagsystems_from_settings(settings)
        if part == "finance" and not all(f.url for f in hosted):
            peer_url(found, "fagsystem")
    env = {SERVE_PART_ENV: part, "INDBETALING_HOST": settings.host}
    env["INDBETALING_PORT"] = str(settings.port)
    if part in NEEDS_PLATFORM_KEYS:
        env["INDBETALING_PLATFORM_JWKS"] = json.dumps(platform_jwks(settings))
    return env


def build_part(part: ServedPart, settings: Settings) -> FastAPI:
    """One part alone: its application, with its routes, background work and health checks,
    calling the others where the settings say."""
    stored = stored_part(part)
    engine = make_engine(
        settings.database_url(stored), sqlite_synchronous=settings.sqlite_synchronous
    )
    app, workers = new_app(f"Indbetaling: {part}", f"KOMBIT SF1590_B_03: the {part} alone.")
    http = httpx.AsyncClient(timeout=FORWARD_TIMEOUT_SECONDS)

    async def close_http(stop: asyncio.Event) -> None:
        await stop.wait()
        await http.aclose()

    workers.add_task("http", close_http)
    peers = peers_from_settings(settings, http)
    secrets = Secrets.from_settings(settings)
    built: PartApp
    if part == "gateway":
        built = composition.gateway(engine, http, secrets)
    elif part == "debitorsystem":
        built = composition.debitorsystem(settings, engine, peers, secrets)
    elif part == "fagsystem":
        built = composition.fagsystem(engine, peers, secrets, fagsystems_from_settings(settings))
    elif part == "beskedfordeler":
        built = composition.beskedfordeler(settings, engine, peers)
    elif part == "finance":
        built = composition.finance(engine, peers, secrets, fagsystems_from_settings(settings))
    else:
        built = composition.nemkonto(engine, secrets)
    mount(app, workers, [built])
    return app


def worker_app() -> FastAPI:
    """The application of one worker of `indbetaling serve` (uvicorn's factory)."""
    part = os.environ.get(SERVE_PART_ENV, "")
    if part not in SERVED_PARTS:
        raise RuntimeError(f"{SERVE_PART_ENV} must name a part, one of {SERVED_PARTS}")
    settings = Settings()
    configure_logging(json=settings.log_json)
    return build_part(part, settings)


def serve_command(
    part: Annotated[PartName, typer.Argument(help="The part to serve")],
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: INDBETALING_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: INDBETALING_PORT)")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Serve one part alone, on its own database, configured by settings (README,
    "Production"): it refuses a database whose schema is not the one it is made for."""
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)
    configure_logging(json=settings.log_json)
    try:
        env = prepare(part.served, settings)
    except (SchemaMismatch, MissingSetting) as exc:
        typer.echo(f"indbetaling serve {part.value}: {exc}", err=True)
        raise typer.Exit(2) from None
    os.environ.update(env)  # the workers build their part from the same settings
    uvicorn.run(
        WORKER_APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        timeout_worker_healthcheck=settings.worker_start_seconds,
        log_config=None,
    )

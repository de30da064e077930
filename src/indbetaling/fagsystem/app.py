"""The fagsystem's entry point: the hosted fagsystems' receivers of reversal orders (through
the gateway, IndbetalingTilbagefoerOrdreAfsend) and of pushed claim messages (BeskedFaaTilsendt),
which keep the overview of payable claims current; their case-worker API (CONTRACT §9); and
the background work of their payments: the sender (R8) and the relay of postings to finance and
pay-backs to NemKonto (R11).

One database serves every fagsystem this process hosts; each is reached under
`/fagsystem/<its UUID>`, its case-worker API under `/fagsystem/<its UUID>/api/v1`, described at
`/fagsystem/<its UUID>/api/v1/openapi.json`; its case worker's pages under
`/fagsystem/<its UUID>/` (`fagsystem/ui`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Depends
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

from indbetaling import __version__, db
from indbetaling.caller import CallerVerifier
from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.fagsystem import claims, payments_store
from indbetaling.fagsystem.api import payments_router
from indbetaling.fagsystem.caseworker_auth import caseworker_guard
from indbetaling.fagsystem.claims_api import claims_router
from indbetaling.fagsystem.client import (
    BusinessAnswer,
    DebitorIndbetaling,
    NoBusinessAnswer,
    PaymentCall,
    ReversalCall,
    SearchQuery,
)
from indbetaling.fagsystem.domain import Chart, ReversalPolicy
from indbetaling.fagsystem.finance_client import BookingClient, BookingSettings
from indbetaling.fagsystem.push_receiver import push_receiver_router
from indbetaling.fagsystem.reversal_orders import reversal_order_router
from indbetaling.fagsystem.sender import BookingRelay, PaymentSender
from indbetaling.fagsystem.service import FagsystemConfig, PaymentService, Timing
from indbetaling.fagsystem.ui.routes import fagsystem_pages
from indbetaling.fordring import ClaimView
from indbetaling.http_errors import with_problems
from indbetaling.parts import PartApp
from indbetaling.ui.access import WebAccess

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class HostedFagsystem:
    id: uuid.UUID
    push_secret: str
    """The `whsec_…` secret its pushed messages are signed with."""
    caseworker_token: str | None = None
    """Its case workers' Bearer token; without it the fagsystem offers no case-worker API."""
    reversal_policy: ReversalPolicy = ReversalPolicy.SAGSBEHANDLER
    org_units: Mapping[str, Sequence[uuid.UUID]] = field(default_factory=dict)
    """Its sortiment: the ORG units it pays from, per authority it has an agreement with."""
    name: str = ""
    """What its pages call it."""

    @property
    def authorities(self) -> tuple[str, ...]:
        return tuple(self.org_units)


@dataclass(frozen=True)
class Payments:
    """What the fagsystems' payments need from the composition root."""

    ports: Mapping[uuid.UUID, DebitorIndbetaling]
    """DebitorIndbetalingAfsend (through the gateway) of each hosted fagsystem."""
    bookings: BookingSettings | None = None
    """Where postings and pay-backs go; without it they wait in the outbox."""
    http: httpx.AsyncClient | None = None
    """The client the booking relay posts with (in-process ASGI in the embedded default)."""
    chart: Chart = field(default_factory=Chart)
    timing: Timing = field(default_factory=Timing)
    sweep_seconds: float = 1.0


class _NoPort:
    """The port of a fagsystem the composition root gave none: nothing is answered, so what
    it stores waits (`AFSENDT`) until a process with a port sends it."""

    async def search(self, cvr: str, query: SearchQuery) -> list[ClaimView]:
        raise NoBusinessAnswer("the fagsystem has no DebitorIndbetaling client")

    async def pay(self, cvr: str, transaction_uuid: uuid.UUID, call: PaymentCall) -> BusinessAnswer:
        raise NoBusinessAnswer("the fagsystem has no DebitorIndbetaling client")

    async def reverse(
        self, cvr: str, transaction_uuid: uuid.UUID, call: ReversalCall
    ) -> BusinessAnswer:
        raise NoBusinessAnswer("the fagsystem has no DebitorIndbetaling client")


@dataclass(frozen=True)
class Web:
    """What the fagsystems' pages need from the composition root: sign-in, and the names of
    the authorities they serve."""

    access: WebAccess
    authority_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class FagsystemApp(PartApp):
    services: Mapping[uuid.UUID, PaymentService]
    """Each hosted fagsystem's payments, by its id."""

    def bookings_waiting(self) -> int:
        """Postings and pay-backs not yet taken by finance or NemKonto."""
        with db.read(self.engine) as conn:
            return payments_store.outbox_waiting(conn)


def prefix(fagsystem_id: uuid.UUID) -> str:
    return f"/fagsystem/{fagsystem_id}"


def caseworker_api(fagsystem_id: uuid.UUID, guard: Any, routers: Iterable[APIRouter]) -> APIRouter:
    """One fagsystem's case-worker API: `routers` under `<prefix>/api/v1`, each call behind
    `guard`, and their OpenAPI description at `<prefix>/api/v1/openapi.json` (no token)."""
    base = prefix(fagsystem_id) + API_PREFIX
    api = APIRouter(prefix=base)
    for router in routers:
        api.include_router(router, dependencies=[Depends(guard)])
    described = list(api.routes)

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        schema = get_openapi(
            title=f"Fagsystem {fagsystem_id}: sagsbehandler",
            version=__version__,
            description="The case worker's API (CONTRACT §9). Bearer: the fagsystem's "
            "case-worker token.",
            routes=described,
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "caseworker": {"type": "http", "scheme": "bearer"}
        }
        schema["security"] = [{"caseworker": []}]
        return with_problems(schema)

    return api


def build(
    engine: Engine,
    fagsystems: Iterable[HostedFagsystem],
    *,
    platform_jwks: Mapping[str, Any],
    payments: Payments | None = None,
    web: Web | None = None,
) -> FagsystemApp:
    """The part; with `web`, each hosted fagsystem also has its case worker's pages under
    `/fagsystem/<its UUID>/` (`ui`)."""
    fagsystems = list(fagsystems)
    payments = payments or Payments(ports={})
    orders_verifier = CallerVerifier(platform_jwks, TILBAGEFOER_ORDRE_ENTITY_ID)
    tokens = {f.id: f.caseworker_token for f in fagsystems if f.caseworker_token}
    services: dict[uuid.UUID, PaymentService] = {}
    part = FagsystemApp(name="fagsystem", engine=engine, services=services)
    for fagsystem in fagsystems:
        port = payments.ports.get(fagsystem.id)
        config = FagsystemConfig(
            fagsystem.id,
            {cvr: frozenset(units) for cvr, units in fagsystem.org_units.items()},
            fagsystem.reversal_policy,
            payments.chart,
        )
        service = PaymentService(engine, config, port or _NoPort(), timing=payments.timing)
        services[fagsystem.id] = service
        router = APIRouter(prefix=prefix(fagsystem.id))
        router.include_router(
            reversal_order_router(engine, fagsystem.id, orders_verifier, intake=service)
        )
        router.include_router(
            push_receiver_router(
                engine,
                fagsystem.push_secret,
                path="/beskeder",
                fagsystem_id=str(fagsystem.id),
                on_stored=claims.message_handler(fagsystem.id),
            )
        )
        part.routers.append(router)
        if fagsystem.id in tokens:
            guard = caseworker_guard(tokens, fagsystem.id)
            claims_api = claims_router(
                engine, fagsystem.id, authorities=fagsystem.authorities, debitor=port
            )
            part.routers.append(
                caseworker_api(fagsystem.id, guard, [claims_api, payments_router(service)])
            )
        if web is not None:
            part.routers.append(
                fagsystem_pages(
                    service,
                    web.access,
                    name=fagsystem.name,
                    authority_names=web.authority_names,
                )
            )
        sender = PaymentSender(service, sweep_seconds=payments.sweep_seconds)
        part.tasks.append((f"indbetalinger {fagsystem.id}", sender.run))
    if payments.bookings is not None:
        if payments.http is None:
            raise ValueError("the booking relay needs an HTTP client (Payments.http)")
        relay = BookingRelay(engine, BookingClient(payments.bookings, payments.http))
        part.tasks.append(("bogføring", relay.run))
    return part

"""Test harness: a gateway, two echo debitorsystems and two echo fagsystems, on both backends.

One uvicorn server on 127.0.0.1 serves the current test's app, so zeep talks real HTTP; the
gateway reaches the providers in-process (ASGI), at URLs as if they ran elsewhere.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS
from indbetaling.serviceplatform.api import Gateway
from indbetaling.serviceplatform.domain import Role
from indbetaling.serviceplatform.service import Serviceplatform
from serviceplatform.dummy_providers import EchoDebitorsystem, EchoFagsystem
from serviceplatform.soap_client import fetch_token

CVR_A = "11111111"
CVR_B = "22222222"
CVR_OTHER = "33333333"
PROVIDER_BASE = "http://providers.internal"


class CurrentApp:
    """An ASGI app that hands every request to the app the running test installed."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            return
        await self.app(scope, receive, send)


@dataclass
class LiveServer:
    base_url: str
    current: CurrentApp


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    current = CurrentApp()
    config = uvicorn.Config(current, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(base_url=f"http://127.0.0.1:{port}", current=current)
    server.should_exit = True
    thread.join(timeout=10)


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class ItSystem:
    id: uuid.UUID
    client_id: str
    client_secret: str


@dataclass
class Platform:
    app: FastAPI
    base_url: str
    platform: Serviceplatform
    clock: FakeClock
    debitor_a: EchoDebitorsystem
    debitor_b: EchoDebitorsystem
    fagsystem_1: EchoFagsystem
    fagsystem_2: EchoFagsystem
    systems: dict[str, ItSystem] = field(default_factory=dict)

    def token(self, system: str, cvr: str, entity_id: str = DEBITOR_INDBETALING_ENTITY_ID) -> str:
        s = self.systems[system]
        return fetch_token(self.base_url, s.client_id, s.client_secret, entity_id, cvr)

    def token_without_agreement(
        self, system: str, cvr: str, entity_id: str = DEBITOR_INDBETALING_ENTITY_ID
    ) -> str:
        """A valid token of `system` whose service agreement has ended since it was issued (the
        token service issues none without an agreement)."""
        it_system = self.systems[system].id
        self.platform.add_agreement(it_system, cvr, entity_id, Role.CONSUMER)
        token = self.token(system, cvr, entity_id)
        self.platform.end_agreement(it_system, cvr, entity_id, Role.CONSUMER)
        return token

    def forwarded_calls(self) -> int:
        return (
            len(self.debitor_a.calls)
            + len(self.debitor_b.calls)
            + len(self.debitor_a.rest_calls)
            + len(self.debitor_b.rest_calls)
            + len(self.fagsystem_1.calls)
            + len(self.fagsystem_2.calls)
        )


OPERATOR_TOKEN = "operator-test-token"


@pytest.fixture
def sp(live_server: LiveServer, part_engine: Any, backend: str) -> Iterator[Platform]:
    engine = part_engine("serviceplatform", backend)
    clock = FakeClock()
    # a cheap secret hash keeps the suite fast; production uses the default cost
    platform = Serviceplatform(engine, KNOWN_ENTITY_IDS, clock=clock, secret_cost=2**8)
    app = FastAPI()
    providers_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PROVIDER_BASE
    )
    gateway = Gateway(platform, providers_client, operator_token=OPERATOR_TOKEN)
    app.include_router(gateway.router())
    jwks = platform.jwks()
    debitor_a, debitor_b = EchoDebitorsystem("a"), EchoDebitorsystem("b")
    fagsystem_1, fagsystem_2 = EchoFagsystem("f1"), EchoFagsystem("f2")
    for provider in (debitor_a, debitor_b, fagsystem_1, fagsystem_2):
        provider.mount(app, jwks)
    live_server.current.app = app
    env = Platform(
        app=app,
        base_url=live_server.base_url,
        platform=platform,
        clock=clock,
        debitor_a=debitor_a,
        debitor_b=debitor_b,
        fagsystem_1=fagsystem_1,
        fagsystem_2=fagsystem_2,
    )
    _register(env)
    yield env
    live_server.current.app = None


def _register(env: Platform) -> None:
    p = env.platform
    names = ["debitor_a", "debitor_b", "fagsystem_1", "fagsystem_2", "stranger"]
    for name in names:
        system = ItSystem(uuid.uuid4(), f"client-{name}", f"s3cret-{name}")
        p.register_it_system(system.id, name, system.client_id, client_secret=system.client_secret)
        env.systems[name] = system
    debitor = DEBITOR_INDBETALING_ENTITY_ID
    reversal = TILBAGEFOER_ORDRE_ENTITY_ID
    s = env.systems
    for name, cvr in (("debitor_a", CVR_A), ("debitor_b", CVR_B)):
        p.add_agreement(s[name].id, cvr, debitor, Role.PROVIDER)
        p.route_authority(cvr, debitor, s[name].id)
        p.add_agreement(s[name].id, cvr, reversal, Role.CONSUMER)
        short = name.split("_")[1]
        p.set_endpoint(
            s[name].id,
            debitor,
            f"{PROVIDER_BASE}/dummy/{short}/soap",
            f"{PROVIDER_BASE}/dummy/{short}/rest",
        )
    for name in ("fagsystem_1", "fagsystem_2"):
        for cvr in (CVR_A, CVR_B):
            p.add_agreement(s[name].id, cvr, debitor, Role.CONSUMER)
    p.add_agreement(s["fagsystem_1"].id, CVR_A, reversal, Role.PROVIDER)
    p.set_endpoint(s["fagsystem_1"].id, reversal, f"{PROVIDER_BASE}/dummy/f1/tilbagefoer")
    # fagsystem_2 offers the reversal service for CVR_B only
    p.add_agreement(s["fagsystem_2"].id, CVR_B, reversal, Role.PROVIDER)
    p.set_endpoint(s["fagsystem_2"].id, reversal, f"{PROVIDER_BASE}/dummy/f2/tilbagefoer")

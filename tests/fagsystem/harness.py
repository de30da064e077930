"""Reversal orders over the wire: the real gateway and real fagsystem receivers, on one server.

The gateway forwards over real HTTP (not in-process), so a fagsystem endpoint can be down for
real: a port nobody listens on, or a route that answers 503. Receivers run on the fagsystem's
own database. A receiver's intake is the real payments service where the test gives one;
otherwise a stand-in that takes every order whose payment `knows[fagsystem]` says it made (for
tests of the debitorsystem's delivery, whose payments no fagsystem made).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, Engine
from starlette.responses import Response

from indbetaling.caller import CallerVerifier
from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.fagsystem.reversal_orders import SERVICE_PATH, OrderIntake, ReversalOrderReceiver
from indbetaling.fagsystem.store import ReceivedReversalOrder
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS
from indbetaling.serviceplatform.api import Gateway
from indbetaling.serviceplatform.domain import Role
from indbetaling.serviceplatform.service import Serviceplatform
from serviceplatform.harness import LiveServer
from serviceplatform.soap_client import fetch_token

DEBITOR_CLIENT_ID = "debitorsystem"
DEBITOR_SECRET = "s3cret-debitorsystem"
UNAVAILABLE_PATH = "/unavailable"


@dataclass
class KnownPayments:
    """An intake that takes an order when `knows` says the fagsystem made its payment."""

    knows: Callable[[uuid.UUID], bool]

    def take(self, conn: Connection, order: ReceivedReversalOrder, now: datetime) -> bool:
        del conn, now
        return self.knows(order.payment_id)

    def taken(self, order: ReceivedReversalOrder) -> None:
        del order


@dataclass
class ReversalWorld:
    base_url: str
    app: FastAPI
    platform: Serviceplatform
    fagsystem_engine: Engine
    debitorsystem_id: uuid.UUID
    verifier: CallerVerifier
    receivers: dict[uuid.UUID, ReversalOrderReceiver] = field(default_factory=dict)
    knows: dict[uuid.UUID, Callable[[uuid.UUID], bool]] = field(default_factory=dict)

    def add_debitorsystem(self, cvr: str) -> None:
        """The debitorsystem may send reversal orders for `cvr` (a consumer agreement)."""
        self.platform.add_agreement(
            self.debitorsystem_id, cvr, TILBAGEFOER_ORDRE_ENTITY_ID, Role.CONSUMER
        )

    def add_fagsystem(
        self,
        fagsystem_id: uuid.UUID,
        cvr: str,
        *,
        endpoint: bool = True,
        intake: OrderIntake | None = None,
    ) -> None:
        """A fagsystem with its receiver mounted; with `endpoint`, registered at the gateway
        (provider agreement for `cvr` and its endpoint URL); `intake` is what it does with an
        order (default: `KnownPayments` asking `knows[fagsystem_id]`)."""
        self.platform.register_it_system(
            fagsystem_id,
            f"fagsystem {fagsystem_id}",
            f"fagsystem-{fagsystem_id}",
            client_secret=f"s3cret-{fagsystem_id}",
        )
        self.knows[fagsystem_id] = lambda _payment: True

        def knows_payment(payment: uuid.UUID) -> bool:  # what the test sets at the time
            return self.knows[fagsystem_id](payment)

        receiver = ReversalOrderReceiver(
            self.fagsystem_engine, fagsystem_id, intake=intake or KnownPayments(knows_payment)
        )
        self.receivers[fagsystem_id] = receiver
        self.app.include_router(receiver.router(self.verifier), prefix=f"/fagsystem/{fagsystem_id}")
        if endpoint:
            self.platform.add_agreement(
                fagsystem_id, cvr, TILBAGEFOER_ORDRE_ENTITY_ID, Role.PROVIDER
            )
            self.point_at(fagsystem_id, self.endpoint_url(fagsystem_id))

    def endpoint_url(self, fagsystem_id: uuid.UUID) -> str:
        return f"{self.base_url}/fagsystem/{fagsystem_id}{SERVICE_PATH}"

    def point_at(self, fagsystem_id: uuid.UUID, url: str) -> None:
        self.platform.set_endpoint(fagsystem_id, TILBAGEFOER_ORDRE_ENTITY_ID, url)

    @property
    def unavailable_url(self) -> str:
        """An endpoint that answers every call 503 Service Unavailable."""
        return f"{self.base_url}{UNAVAILABLE_PATH}"

    def token(self, cvr: str) -> str:
        return fetch_token(
            self.base_url, DEBITOR_CLIENT_ID, DEBITOR_SECRET, TILBAGEFOER_ORDRE_ENTITY_ID, cvr
        )

    def audited_calls(self) -> list[dict[str, Any]]:
        """The gateway's audit entries of reversal-order calls, oldest first."""
        entries = [
            e
            for e in self.platform.audit_log(limit=1000, it_system_id=self.debitorsystem_id)
            if e["entity_id"] == TILBAGEFOER_ORDRE_ENTITY_ID
        ]
        return list(reversed(entries))


def closed_port_url() -> str:
    """A URL on this machine where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/fagsystem{SERVICE_PATH}"


@pytest.fixture
def reversal_world(
    live_server: LiveServer, part_engine: Callable[[str, str], Engine], backend: str
) -> Iterator[ReversalWorld]:
    platform = Serviceplatform(
        part_engine("serviceplatform", backend), KNOWN_ENTITY_IDS, secret_cost=2**8
    )
    app = FastAPI()
    # no kept-alive connections: they would outlive the test on the server's event loop
    forwarder = httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_keepalive_connections=0))
    app.include_router(Gateway(platform, forwarder).router())

    @app.post(UNAVAILABLE_PATH, include_in_schema=False)
    async def unavailable() -> Response:
        return Response("Service Unavailable", status_code=503, media_type="text/plain")

    debitorsystem_id = uuid.uuid4()
    platform.register_it_system(
        debitorsystem_id, "Debitorsystem", DEBITOR_CLIENT_ID, client_secret=DEBITOR_SECRET
    )
    world = ReversalWorld(
        base_url=live_server.base_url,
        app=app,
        platform=platform,
        fagsystem_engine=part_engine("fagsystem", backend),
        debitorsystem_id=debitorsystem_id,
        verifier=CallerVerifier(platform.jwks(), TILBAGEFOER_ORDRE_ENTITY_ID),
    )
    live_server.current.app = app
    yield world
    live_server.current.app = None

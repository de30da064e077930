"""The debitorsystem's entry point: DebitorIndbetalingAfsend (SOAP and REST), the collections
staff API, and its background work: reversal orders to their owners (R7), claim messages from
its outbox to the Beskedfordeler (§6), and forgetting old idempotent answers.

It calls other parts only over the wire: reversal orders through the gateway (`relay`), claim
messages through a `Publisher` (the gateway's `BeskedAfsend` over HTTP, or RabbitMQ).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine

from indbetaling.besked_afsend import Publisher
from indbetaling.besked_afsend import run_relay as run_outbox_relay
from indbetaling.caller import CallerVerifier
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.api import coverage_router, staff_router
from indbetaling.debitorsystem.payability import run_payability_loop
from indbetaling.debitorsystem.relay import (
    RelaySettings,
    ReversalOrderClient,
    ReversalOrderRelay,
    run_relay,
)
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.debitorsystem.ui.routes import debitorsystem_pages
from indbetaling.debitorsystem.wire import REST_PATH, SOAP_PATH, provider_routers
from indbetaling.parts import PartApp
from indbetaling.ui.access import WebAccess

PREFIX = "/debitorsystem"
REST_BASE = PREFIX + REST_PATH
"""The REST mirror's base, which only the gateway calls (clients call the gateway's)."""
SOAP_ENDPOINT = PREFIX + SOAP_PATH
PURGE_INTERVAL_SECONDS = 6 * 3600
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Web:
    """What the staff's pages need from the composition root: sign-in, and the authorities'
    names."""

    access: WebAccess
    authority_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class DebitorsystemApp(PartApp):
    service: DebitorService


def build(
    engine: Engine,
    *,
    system_id: uuid.UUID,
    platform_jwks: Mapping[str, Any],
    relay_settings: RelaySettings,
    publisher: Publisher,
    retention: timedelta,
    auditor_token: str | None = None,
    web: Web | None = None,
) -> DebitorsystemApp:
    """The debitorsystem on `engine`; it trusts the callers the platform (`platform_jwks`)
    vouches for. `auditor_token` lets its bearer read every authority's coverages (the
    reconciliation's view); without it only each authority's staff read theirs. With `web`, the
    collections staff's pages are under `/debitorsystem/` (`ui`)."""
    service = DebitorService(engine, system_id=system_id)
    verifier = CallerVerifier(platform_jwks, DEBITOR_INDBETALING_ENTITY_ID)
    routers = list(provider_routers(service, verifier))
    staff = APIRouter(prefix=PREFIX)
    staff.include_router(staff_router(service))
    staff.include_router(coverage_router(service, auditor_token=auditor_token))
    routers.append(staff)
    if web is not None:
        routers.append(debitorsystem_pages(service, web.access, web.authority_names))

    def deliver_reversal_orders(stop: threading.Event) -> None:
        client = ReversalOrderClient(relay_settings)
        try:
            run_relay(stop, ReversalOrderRelay(engine, client))
        finally:
            client.close()  # its kept-alive connections to the gateway end with the server

    async def publish_claim_messages(stop: asyncio.Event) -> None:
        await run_outbox_relay(engine, store.outbox, publisher, stop)

    def forget_old_answers(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                service.forget_old_answers(retention)
            except Exception:
                log.exception("forgetting old idempotent answers failed; trying again later")
            stop.wait(PURGE_INTERVAL_SECONDS)

    def announce_payability_by_date(stop: threading.Event) -> None:
        run_payability_loop(stop, service)

    return DebitorsystemApp(
        name="debitorsystem",
        engine=engine,
        routers=routers,
        threads=[
            ("tilbageførselsordrer", deliver_reversal_orders),
            ("glemte svar", forget_old_answers),
            ("betalbarhed", announce_payability_by_date),
        ],
        tasks=[("beskedafsendelse", publish_claim_messages)],
        service=service,
    )

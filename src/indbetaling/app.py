"""The composition root of the embedded default: every part in one process, on one port, each
with its own database (SQLite files under the data folder unless URLs are set).

The parts meet only here; none imports another. `build()` wires them and their background
loops; `demo_setup.ensure_demo()` fills them with the demo dataset on first start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from indbetaling import __version__, http_errors
from indbetaling.background import BackgroundWorkers, until_connected
from indbetaling.besked_afsend import Publisher, sender
from indbetaling.besked_afsend import run_relay as run_outbox_relay
from indbetaling.beskedfordeler.api import (
    BESKEDFORDELER_ENTITY_ID,
    beskedfordeler_router,
    gateway_caller,
)
from indbetaling.beskedfordeler.push import run_push_loop
from indbetaling.beskedfordeler.service import (
    Beskedfordeler,
)
from indbetaling.beskedfordeler.transport import (
    AmqpDistributor,
    AmqpPublisher,
    AmqpTransport,
    DatabasePublisher,
)
from indbetaling.caller import CallerVerifier
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.db import make_engine, migrate, read
from indbetaling.debitorsystem import demo
from indbetaling.debitorsystem import store as debitor_store
from indbetaling.debitorsystem.api import staff_router
from indbetaling.debitorsystem.demo import DemoFagsystem
from indbetaling.debitorsystem.relay import (
    RelaySettings,
    ReversalOrderClient,
    ReversalOrderRelay,
    run_relay,
)
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.debitorsystem.wire import provider_routers
from indbetaling.demo_setup import demo_secret, demo_uuid, operator_token, push_secret
from indbetaling.fagsystem.push_receiver import push_receiver_router
from indbetaling.fagsystem.reversal_orders import reversal_order_router
from indbetaling.serviceplatform.api import Gateway
from indbetaling.serviceplatform.service import Serviceplatform
from indbetaling.settings import Part, Settings

PURGE_INTERVAL_SECONDS = 6 * 3600
PARTS_IN_PROCESS: tuple[Part, ...] = (
    "debitorsystem",
    "serviceplatform",
    "fagsystem",
    "beskedfordeler",
)
log = logging.getLogger("indbetaling")


@dataclass
class System:
    settings: Settings
    app: FastAPI
    engines: dict[str, Engine]
    debitor: DebitorService
    platform: Serviceplatform
    beskedfordeler: Beskedfordeler

    @property
    def debitorsystem_id(self) -> uuid.UUID:
        return self.debitor.system_id


def build(settings: Settings) -> System:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engines: dict[str, Engine] = {
        part: make_engine(settings.database_url(part)) for part in PARTS_IN_PROCESS
    }
    for part, engine in engines.items():
        migrate(engine, part)
    workers = BackgroundWorkers()
    app = FastAPI(
        lifespan=workers.lifespan,
        title="Indbetaling",
        version=__version__,
        description="KOMBIT SF1590_B_03 Afsend DebitorIndbetaling: all five parts on one port.",
        openapi_url="/api/v1/openapi.json",
    )
    http_errors.install(app)
    platform = _mount_serviceplatform(app, settings, engines["serviceplatform"])
    debitor = _mount_debitorsystem(app, workers, settings, engines["debitorsystem"], platform)
    plan = demo.make_plan(settings.demo_seed, settings.demo_claims)
    _mount_fagsystems(app, settings, engines["fagsystem"], platform, plan.fagsystems)
    bf = _mount_beskedfordeler(app, workers, settings, engines, platform=platform, debitor=debitor)
    _mount_health(app, engines)
    return System(settings, app, engines, debitor, platform, bf)


def _mount_serviceplatform(app: FastAPI, settings: Settings, engine: Engine) -> Serviceplatform:
    platform = Serviceplatform(
        engine, frozenset({DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID})
    )
    # In one process the gateway forwards in-process; the registered endpoints stay absolute
    # URLs, so the same registrations serve parts that run as separate processes.
    in_process = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=30)
    gateway = Gateway(platform, in_process, operator_token=operator_token(settings))
    app.include_router(gateway.router())
    return platform


def _mount_debitorsystem(
    app: FastAPI,
    workers: BackgroundWorkers,
    settings: Settings,
    engine: Engine,
    platform: Serviceplatform,
) -> DebitorService:
    debitor = DebitorService(engine, system_id=demo_uuid(settings, "debitorsystem"))
    verifier = CallerVerifier(platform.jwks(), DEBITOR_INDBETALING_ENTITY_ID)
    for router in provider_routers(debitor, verifier):
        app.include_router(router)
    app.include_router(staff_router(debitor), prefix="/debitorsystem")
    workers.add_thread(
        "tilbageførselsordrer",
        lambda stop: run_relay(stop, _reversal_order_relay(settings, engine)),
    )
    workers.add_thread("glemte svar", lambda stop: _forget_old_answers(stop, settings, debitor))
    return debitor


def _mount_fagsystems(
    app: FastAPI,
    settings: Settings,
    engine: Engine,
    platform: Serviceplatform,
    fagsystems: Iterable[DemoFagsystem],
) -> None:
    """The hosted fagsystems' receivers: reversal orders (through the gateway) and pushes."""
    orders_verifier = CallerVerifier(platform.jwks(), TILBAGEFOER_ORDRE_ENTITY_ID)
    for fagsystem in fagsystems:
        app.include_router(
            reversal_order_router(engine, fagsystem.id, orders_verifier),
            prefix=f"/fagsystem/{fagsystem.id}",
        )
        app.include_router(
            push_receiver_router(
                engine,
                push_secret(settings, fagsystem.id),
                path=f"/fagsystem/{fagsystem.id}/beskeder",
                fagsystem_id=str(fagsystem.id),
            )
        )


def _mount_beskedfordeler(
    app: FastAPI,
    workers: BackgroundWorkers,
    settings: Settings,
    engines: dict[str, Engine],
    *,
    platform: Serviceplatform,
    debitor: DebitorService,
) -> Beskedfordeler:
    """The Beskedfordeler, and the debitorsystem's relay of claim messages to it: through the
    database on the embedded default, over RabbitMQ when `amqp_url` is set."""
    bf = Beskedfordeler(engines["beskedfordeler"])
    subscriber = gateway_caller(CallerVerifier(platform.jwks(), BESKEDFORDELER_ENTITY_ID))
    amqp = AmqpTransport(settings.amqp_url) if settings.amqp_url else None
    app.include_router(beskedfordeler_router(bf, subscriber, amqp), prefix="/beskedfordeler")
    if amqp is None:
        publisher: Publisher = DatabasePublisher(bf, str(debitor.system_id))
    else:
        publisher = AmqpPublisher(amqp.url, str(debitor.system_id))
        workers.add_task("beskedfordeler (AMQP)", lambda stop: _distribute(bf, amqp, stop))
    workers.add_task(
        "beskedafsendelse",
        lambda stop: _relay_outbox(engines["debitorsystem"], publisher, stop),
    )
    workers.add_task("push", lambda stop: run_push_loop(bf, stop))
    return bf


def _mount_health(app: FastAPI, engines: dict[str, Engine]) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        failing = []
        for part, engine in engines.items():
            try:
                with read(engine) as conn:
                    conn.execute(text("SELECT 1"))
            except Exception:  # readiness reports any failure as not ready
                failing.append(part)
        status = 503 if failing else 200
        return JSONResponse({"ready": not failing, "failing": failing}, status_code=status)


def _reversal_order_relay(settings: Settings, engine: Engine) -> ReversalOrderRelay:
    client = ReversalOrderClient(
        RelaySettings(
            gateway_url=settings.base_url,
            client_id="debitorsystem",
            client_secret=demo_secret(settings, "debitorsystem"),
        )
    )
    return ReversalOrderRelay(engine, client)


async def _relay_outbox(engine: Engine, publisher: Publisher, stop: asyncio.Event) -> None:
    """BeskedAfsend: the debitorsystem's claim messages, from its outbox to the Beskedfordeler."""
    if isinstance(publisher, AmqpPublisher):
        await until_connected(publisher.connect, stop)
    try:
        await run_outbox_relay(engine, debitor_store.outbox, sender(publisher), stop)
    finally:
        if isinstance(publisher, AmqpPublisher):
            await publisher.close()


async def _distribute(bf: Beskedfordeler, amqp: AmqpTransport, stop: asyncio.Event) -> None:
    """On RabbitMQ: consume what publishers send and place it in the mailboxes' queues."""
    await until_connected(amqp.connect, stop)
    distributor = AmqpDistributor(bf, amqp)
    await distributor.start()
    try:
        await stop.wait()
    finally:
        await distributor.stop()
        await amqp.close()


def _forget_old_answers(stop: threading.Event, settings: Settings, debitor: DebitorService) -> None:
    retention = timedelta(days=settings.idempotency_retention_days)
    while not stop.is_set():
        try:
            debitor.forget_old_answers(retention)
        except Exception:
            log.exception("forgetting old idempotent answers failed; trying again later")
        stop.wait(PURGE_INTERVAL_SECONDS)

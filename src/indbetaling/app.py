"""The composition root of the embedded default: every part in one process, on one port, each
with its own database (SQLite files under the data folder unless URLs are set).

The parts meet only here; none imports another. `build()` wires them, `ensure_demo()` fills
them with the demo dataset on first start and registers the demo it-systems with the platform.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, select, text

from indbetaling import __version__, http_errors
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.besked_afsend import Publisher, sender
from indbetaling.besked_afsend import run_relay as run_outbox_relay
from indbetaling.beskedfordeler.api import (
    BESKEDFORDELER_ENTITY_ID,
    beskedfordeler_router,
    gateway_caller,
)
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.push import run_push_loop
from indbetaling.beskedfordeler.service import (
    Beskedfordeler,
    create_mailbox,
    grant_publish,
    subscribe,
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
from indbetaling.debitorsystem.relay import (
    RelaySettings,
    ReversalOrderClient,
    ReversalOrderRelay,
    run_relay,
)
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.debitorsystem.wire import provider_routers
from indbetaling.fagsystem.push_receiver import push_receiver_router
from indbetaling.fagsystem.reversal_orders import reversal_order_router
from indbetaling.serviceplatform.api import DEBITOR_PATH, TILBAGEFOER_PATH, Gateway
from indbetaling.serviceplatform.domain import Role
from indbetaling.serviceplatform.service import Serviceplatform
from indbetaling.settings import Settings

PURGE_INTERVAL_SECONDS = 6 * 3600
AMQP_RETRY_SECONDS = 5.0
log = logging.getLogger("indbetaling")
DEMO_NAMESPACE = uuid.UUID("6f0c1b1e-2b8f-4f7e-9a51-1590b0300001")


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


def _demo_uuid(settings: Settings, name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{settings.demo_seed}:{name}")


def _demo_secret(settings: Settings, name: str) -> str:
    """A demo credential, the same for a given seed (so demo.json stays valid across restarts)."""
    digest = hmac.new(str(settings.demo_seed).encode(), name.encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


def operator_token(settings: Settings) -> str:
    """The platform operators' token for the audit log: set it, or the demo derives one."""
    return settings.operator_token or _demo_secret(settings, "operator")


def build(settings: Settings) -> System:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engines = {
        part: make_engine(settings.database_url(part))
        for part in ("debitorsystem", "serviceplatform", "fagsystem", "beskedfordeler")
    }
    for part, engine in engines.items():
        migrate(engine, part)
    debitor = DebitorService(
        engines["debitorsystem"], system_id=_demo_uuid(settings, "debitorsystem")
    )
    platform = Serviceplatform(
        engines["serviceplatform"],
        frozenset({DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID}),
    )
    workers = BackgroundWorkers()
    app = FastAPI(
        lifespan=workers.lifespan,
        title="Indbetaling",
        version=__version__,
        description="KOMBIT SF1590_B_03 Afsend DebitorIndbetaling: all five parts on one port.",
        openapi_url="/api/v1/openapi.json",
    )
    http_errors.install(app)
    # In one process the gateway forwards in-process; the registered endpoints stay absolute
    # URLs, so the same registrations serve parts that run as separate processes.
    in_process = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=30)
    app.include_router(
        Gateway(platform, in_process, operator_token=operator_token(settings)).router()
    )
    verifier = CallerVerifier(platform.jwks(), DEBITOR_INDBETALING_ENTITY_ID)
    for router in provider_routers(debitor, verifier):
        app.include_router(router)
    app.include_router(staff_router(debitor), prefix="/debitorsystem")
    orders_verifier = CallerVerifier(platform.jwks(), TILBAGEFOER_ORDRE_ENTITY_ID)
    plan = demo.make_plan(settings.demo_seed, settings.demo_claims)
    for fagsystem in plan.fagsystems:
        app.include_router(
            reversal_order_router(engines["fagsystem"], fagsystem.id, orders_verifier),
            prefix=f"/fagsystem/{fagsystem.id}",
        )
    workers.add_thread(
        "tilbageførselsordrer",
        lambda stop: run_relay(stop, _reversal_order_relay(settings, engines["debitorsystem"])),
    )
    workers.add_thread("glemte svar", lambda stop: _forget_old_answers(stop, settings, debitor))
    bf = Beskedfordeler(engines["beskedfordeler"])
    subscriber = gateway_caller(CallerVerifier(platform.jwks(), BESKEDFORDELER_ENTITY_ID))
    amqp = AmqpTransport(settings.amqp_url) if settings.amqp_url else None
    app.include_router(beskedfordeler_router(bf, subscriber, amqp), prefix="/beskedfordeler")
    for fagsystem in plan.fagsystems:
        app.include_router(
            push_receiver_router(
                engines["fagsystem"],
                _push_secret(settings, fagsystem.id),
                path=f"/fagsystem/{fagsystem.id}/beskeder",
                fagsystem_id=str(fagsystem.id),
            )
        )
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

    return System(settings, app, engines, debitor, platform, bf)


def _reversal_order_relay(settings: Settings, engine: Engine) -> ReversalOrderRelay:
    client = ReversalOrderClient(
        RelaySettings(
            gateway_url=settings.base_url,
            client_id="debitorsystem",
            client_secret=_demo_secret(settings, "debitorsystem"),
        )
    )
    return ReversalOrderRelay(engine, client)


async def _relay_outbox(engine: Engine, publisher: Publisher, stop: asyncio.Event) -> None:
    """BeskedAfsend: the debitorsystem's claim messages, from its outbox to the Beskedfordeler."""
    if isinstance(publisher, AmqpPublisher):
        await _until_connected(publisher.connect, stop)
    try:
        await run_outbox_relay(engine, debitor_store.outbox, sender(publisher), stop)
    finally:
        if isinstance(publisher, AmqpPublisher):
            await publisher.close()


async def _distribute(bf: Beskedfordeler, amqp: AmqpTransport, stop: asyncio.Event) -> None:
    """On RabbitMQ: consume what publishers send and place it in the mailboxes' queues."""
    await _until_connected(amqp.connect, stop)
    distributor = AmqpDistributor(bf, amqp)
    await distributor.start()
    try:
        await stop.wait()
    finally:
        await distributor.stop()
        await amqp.close()


async def _until_connected(connect: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Connect, trying again every few seconds while the broker is away (the robust connection
    takes over once made)."""
    while not stop.is_set():
        try:
            await connect()
            return
        except Exception as exc:  # aio-pika's connection errors are not all OSErrors
            log.warning("RabbitMQ is not reachable yet (%s); trying again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), AMQP_RETRY_SECONDS)


def _forget_old_answers(stop: threading.Event, settings: Settings, debitor: DebitorService) -> None:
    retention = timedelta(days=settings.idempotency_retention_days)
    while not stop.is_set():
        try:
            debitor.forget_old_answers(retention)
        except Exception:
            log.exception("forgetting old idempotent answers failed; trying again later")
        stop.wait(PURGE_INTERVAL_SECONDS)


class BackgroundWorkers:
    """The parts' background loops (relays, clean-up), started and stopped with the server."""

    def __init__(self) -> None:
        self._loops: list[tuple[str, Callable[[threading.Event], None]]] = []
        self._tasks: list[tuple[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add_thread(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        self._loops.append((name, loop))

    def add_task(
        self, name: str, loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]]
    ) -> None:
        self._tasks.append((name, loop))

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=loop, args=(self._stop,), name=name, daemon=True)
            for name, loop in self._loops
        ]
        for thread in self._threads:
            thread.start()
        stop_tasks = asyncio.Event()
        tasks = [asyncio.create_task(loop(stop_tasks), name=name) for name, loop in self._tasks]
        try:
            yield
        finally:
            stop_tasks.set()
            self._stop.set()
            await asyncio.wait(tasks, timeout=10)
            for thread in self._threads:
                thread.join(timeout=10)


def ensure_demo(system: System, *, progress: bool = False) -> dict[str, Any]:
    """Make the demo dataset on first start (an empty debitorsystem); return demo.json's data."""
    settings = system.settings
    plan = demo.make_plan(settings.demo_seed, settings.demo_claims)
    with read(system.engines["debitorsystem"]) as conn:
        empty = conn.execute(select(debitor_store.authorities.c.cvr).limit(1)).first() is None
    if empty:
        summary = demo.generate(system.engines["debitorsystem"], plan, progress=progress)
        demo_data = summary.demo_json()
        _register_demo_it_systems(system, plan)
        _subscribe_demo_fagsystems(system, plan)
        for authority in plan.authorities:
            token = system.debitor.issue_staff_token(authority.cvr, f"Opkrævning {authority.name}")
            demo_data.setdefault("staff_tokens", {})[authority.cvr] = token
        (settings.data_dir / "demo-data.json").write_text(json.dumps(demo_data, indent=2))
    stored: dict[str, Any] = json.loads((settings.data_dir / "demo-data.json").read_text())
    return _demo_json(system, plan, stored)


def _register_demo_it_systems(system: System, plan: demo.DemoPlan) -> None:
    settings, platform = system.settings, system.platform
    debitor_id = system.debitorsystem_id
    platform.register_it_system(
        debitor_id,
        "Debitorsystem",
        "debitorsystem",
        client_secret=_demo_secret(settings, "debitorsystem"),
    )
    base = settings.base_url
    platform.set_endpoint(
        debitor_id,
        DEBITOR_INDBETALING_ENTITY_ID,
        f"{base}/debitorsystem{DEBITOR_PATH}",
        f"{base}/debitorsystem/api/v1/debitorindbetaling",
    )
    for authority in plan.authorities:
        platform.add_agreement(
            debitor_id, authority.cvr, DEBITOR_INDBETALING_ENTITY_ID, Role.PROVIDER
        )
        platform.route_authority(authority.cvr, DEBITOR_INDBETALING_ENTITY_ID, debitor_id)
        platform.add_agreement(
            debitor_id, authority.cvr, TILBAGEFOER_ORDRE_ENTITY_ID, Role.CONSUMER
        )
    for fagsystem in plan.fagsystems:
        platform.register_it_system(
            fagsystem.id,
            fagsystem.name,
            f"fagsystem-{fagsystem.id}",
            client_secret=_demo_secret(settings, str(fagsystem.id)),
        )
        platform.set_endpoint(
            fagsystem.id,
            TILBAGEFOER_ORDRE_ENTITY_ID,
            f"{base}/fagsystem/{fagsystem.id}{TILBAGEFOER_PATH}",
        )
        for cvr in fagsystem.authorities:
            platform.add_agreement(fagsystem.id, cvr, DEBITOR_INDBETALING_ENTITY_ID, Role.CONSUMER)
            platform.add_agreement(fagsystem.id, cvr, TILBAGEFOER_ORDRE_ENTITY_ID, Role.PROVIDER)


def _subscribe_demo_fagsystems(system: System, plan: demo.DemoPlan) -> None:
    """The debitorsystem may publish claims; each fagsystem gets its claims pushed (§6)."""
    bf = system.beskedfordeler
    grant_publish(bf, str(system.debitorsystem_id), BESKEDTYPE_FORDRING_TIL_INDBETALING)
    base = system.settings.base_url
    for fagsystem in plan.fagsystems:
        mailbox = create_mailbox(
            bf,
            str(fagsystem.id),
            name=f"{fagsystem.name}: fordringer til indbetaling",
            push_url=f"{base}/fagsystem/{fagsystem.id}/beskeder",
            push_secret=_push_secret(system.settings, fagsystem.id),
        )
        for cvr in fagsystem.authorities:
            subscribe(
                bf,
                mailbox.mailbox_id,
                Filter(message_type=BESKEDTYPE_FORDRING_TIL_INDBETALING, authority_cvr=cvr),
            )


def _push_secret(settings: Settings, fagsystem_id: uuid.UUID) -> str:
    key = _demo_secret(settings, f"push:{fagsystem_id}").encode()
    return "whsec_" + base64.b64encode(key).decode()


def _demo_json(system: System, plan: demo.DemoPlan, stored: dict[str, Any]) -> dict[str, Any]:
    settings = system.settings
    base = settings.base_url
    fagsystemer = []
    for f in stored["fagsystemer"]:
        fagsystemer.append(
            {
                **f,
                "client_id": f"fagsystem-{f['id']}",
                "client_secret": _demo_secret(settings, f["id"]),
                "push_url": f"{base}/fagsystem/{f['id']}/beskeder",
                "push_secret": _push_secret(settings, uuid.UUID(f["id"])),
            }
        )
    return {
        "base_url": base,
        "authorities": stored["authorities"],
        "fagsystemer": fagsystemer,
        "debitorsystemer": [
            {
                "id": str(system.debitorsystem_id),
                "client_id": "debitorsystem",
                "client_secret": _demo_secret(settings, "debitorsystem"),
                "authorities": [a.cvr for a in plan.authorities],
            }
        ],
        "sample_claims": stored["sample_claims"],
        "staff_tokens": stored.get("staff_tokens", {}),
        "operator_token": operator_token(settings),
    }


def write_demo_json(data_dir: Path, data: dict[str, Any]) -> Path:
    path = data_dir / "demo.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    tmp.replace(path)
    return path

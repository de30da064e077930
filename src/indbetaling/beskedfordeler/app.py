"""The Beskedfordeler's entry point: `BeskedAfsend`, mailboxes, value lists and the error queue
under `/beskedfordeler`, reached by publishers and subscribers through the gateway; push
delivery in the background, and on RabbitMQ the distributor that consumes what publishers send.
With `web`, the pages of subscribers' administrators and of the operator under
`/beskedfordeler/sider/` (`ui`), signed in with the session cookie.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine

from indbetaling.background import until_connected
from indbetaling.beskedfordeler.api import beskedfordeler_router, gateway_caller
from indbetaling.beskedfordeler.push import run_push_loop
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.transport import AmqpDistributor, AmqpTransport
from indbetaling.beskedfordeler.ui.routes import beskedfordeler_pages
from indbetaling.caller import CallerVerifier
from indbetaling.contracts import BESKEDFORDELER_ENTITY_ID
from indbetaling.parts import PartApp, TaskLoop
from indbetaling.ui.access import WebAccess

PREFIX = "/beskedfordeler"
PAGES_PATH = "/beskedfordeler/sider/"


@dataclass(frozen=True)
class Web:
    """What the pages need from the composition root: sign-in, and what to call subscribers."""

    access: WebAccess
    subscriber_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class BeskedfordelerApp(PartApp):
    service: Beskedfordeler


def build(
    engine: Engine,
    *,
    platform_jwks: Mapping[str, Any],
    amqp_url: str | None,
    web: Web | None = None,
) -> BeskedfordelerApp:
    """The Beskedfordeler on `engine`; mailboxes are RabbitMQ queues when `amqp_url` is set."""
    bf = Beskedfordeler(engine)
    subscriber = gateway_caller(CallerVerifier(platform_jwks, BESKEDFORDELER_ENTITY_ID))
    amqp = AmqpTransport(amqp_url) if amqp_url else None
    router = APIRouter(prefix=PREFIX)
    router.include_router(beskedfordeler_router(bf, subscriber, amqp))
    routers = [router]
    if web is not None:
        routers.append(
            beskedfordeler_pages(bf, web.access, subscriber_names=web.subscriber_names, amqp=amqp)
        )

    async def push(stop: asyncio.Event) -> None:
        await run_push_loop(bf, stop)

    tasks: list[tuple[str, TaskLoop]] = [("push", push)]
    if amqp is not None:

        async def distribute(stop: asyncio.Event) -> None:
            await until_connected(amqp.connect, stop)
            distributor = AmqpDistributor(bf, amqp)
            await distributor.start()
            try:
                await stop.wait()
            finally:
                await distributor.stop()
                await amqp.close()

        tasks.append(("beskedfordeler (AMQP)", distribute))
    return BeskedfordelerApp(
        name="beskedfordeler", engine=engine, routers=routers, tasks=tasks, service=bf
    )

"""The publisher's side of `BeskedAfsend`: relay messages from a part's outbox.

A part writes a `Haendelsesbesked` to its outbox (topic `BESKED_TOPIC`, message id =
TransaktionsId) in the same transaction as the change it describes. The relay sends what is
pending, in order, and marks each batch published only after the transport confirmed every
message of it. A crash or a broker outage in between means the batch is sent again: delivery is
at least once, and receivers deduplicate by BeskedId.

The debitorsystem's outbox holds each FordringTilIndbetaling message as canonical JSON
(`BeskedId`, `TransaktionsId`, `ObjektHandling`, `Dannelsestidspunkt`, `Kildesystem`,
`FordringTilIndbetaling`); `envelope_from_outbox` turns it into KOMBIT's `Haendelsesbesked`, and
`sender(publisher)` sends that with `messageId` = TransaktionsId through any publisher: AMQP to
`AFSEND_BESKED_EXCHANGE`, or `HttpPublisher`, which calls the Beskedfordeler's `BeskedAfsend`
through the Serviceplatform gateway with a token of the publisher's own, as any publisher would
(the embedded default does so over the in-process HTTP transport). `run_relay` is the background
task that keeps relaying until it is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import aio_pika
import httpx
from sqlalchemy import Engine, Table
from starlette.concurrency import run_in_threadpool

from indbetaling import outbox
from indbetaling.background import until_connected
from indbetaling.besked import InvalidMessage, ObjectAction, build_envelope, read_status_code
from indbetaling.contracts import BESKEDFORDELER_ENTITY_ID
from indbetaling.db import write
from indbetaling.fordring import view_from_json
from indbetaling.sts_client import AsyncTokenClient, Credentials

log = logging.getLogger(__name__)

BESKED_TOPIC = "beskedfordeler.afsend"
BESKED_AFSEND_PATH = "/api/v1/beskedfordeler/BeskedAfsend"
"""`BeskedAfsend` as the gateway offers it to publishers."""

Send = Callable[[outbox.OutboxMessage], Awaitable[None]]


@dataclass(frozen=True)
class Outgoing:
    besked_id: str
    transaction_id: str
    authority_cvr: str
    """The authority the message is about (its ObjektAnsvarligMyndighed)."""
    xml: bytes


class Publisher(Protocol):
    """Anything that publishes one envelope and returns only once it is safely taken over."""

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, message: Outgoing) -> None: ...


class PublishFailed(Exception):
    """The Beskedfordeler did not take the message over; it is sent again later."""


AFSEND_BESKED_EXCHANGE = "AFSEND_BESKED_EXCHANGE"
"""The durable fanout exchange publishers send to over AMQP (CONTRACT §6)."""


async def declare_exchange(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(
        AFSEND_BESKED_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True
    )


class AmqpPublisher:
    """`BeskedAfsend` over AMQP to `AFSEND_BESKED_EXCHANGE`, with publisher confirms.

    `publish` returns once the broker confirmed the message; a refused or lost confirmation, a
    broker that is away, or no confirmation within `confirm_timeout` seconds raises, so the relay
    sends the message again (the robust connection reconnects by itself meanwhile).
    """

    def __init__(
        self,
        url: str,
        publisher_id: str,
        *,
        confirm_timeout: float = 10.0,
        reconnect_interval: float = 5.0,
    ) -> None:
        self.url = url
        self.publisher_id = publisher_id
        self.confirm_timeout = confirm_timeout
        self.reconnect_interval = reconnect_interval
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self.url, reconnect_interval=self.reconnect_interval
        )
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await declare_exchange(channel)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def publish(self, message: Outgoing, **properties: Any) -> None:
        """Publish one message; returns once the broker has confirmed it (raises otherwise)."""
        if self._exchange is None:
            raise RuntimeError("AmqpPublisher.connect() first")
        amqp_message = aio_pika.Message(
            message.xml,
            message_id=message.transaction_id,
            app_id=self.publisher_id,
            content_type="application/xml",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            **properties,
        )
        await self._exchange.publish(amqp_message, routing_key="", timeout=self.confirm_timeout)


class HttpPublisher:
    """`BeskedAfsend` over HTTP through the Serviceplatform gateway.

    The publisher takes a token for the Beskedfordeler in the message's authority and posts the
    envelope; `StandardRetur` 20 means taken over. 40 means refused for good (an invalid message,
    or a publisher without permission for its type): it is logged and not sent again, as over
    AMQP. Anything else (no answer, 401/403/5xx) raises, so the relay sends it again.
    """

    def __init__(self, credentials: Credentials, http: httpx.AsyncClient) -> None:
        self.url = credentials.gateway_url.rstrip("/") + BESKED_AFSEND_PATH
        self.http = http
        self.tokens = AsyncTokenClient(credentials, http)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, message: Outgoing) -> None:
        answer = await self._post(message)
        if answer.status_code == 401:  # the token ran out early: once more with a new one
            self.tokens.forget(BESKEDFORDELER_ENTITY_ID, message.authority_cvr)
            answer = await self._post(message)
        code = read_status_code(answer.content) if answer.status_code == 200 else None
        if code == 20:
            return
        if code == 40:
            log.warning("message %s refused by the Beskedfordeler", message.transaction_id)
            return
        raise PublishFailed(f"BeskedAfsend svarede HTTP {answer.status_code}, StatusKode {code}")

    async def _post(self, message: Outgoing) -> httpx.Response:
        token = await self.tokens.token(BESKEDFORDELER_ENTITY_ID, message.authority_cvr)
        return await self.http.post(
            self.url,
            content=message.xml,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "text/xml; charset=utf-8",
            },
        )


def envelope_from_outbox(message: outbox.OutboxMessage) -> Outgoing:
    """The `Haendelsesbesked` for one outbox message written by the debitorsystem."""
    try:
        data = json.loads(message.payload)
        view = view_from_json(data["FordringTilIndbetaling"])
        besked_id = UUID(str(data["BeskedId"]))
        transaction_id = UUID(str(data["TransaktionsId"]))
        xml = build_envelope(
            view,
            action=ObjectAction(data["ObjektHandling"]),
            transaction_id=transaction_id,
            source_system=UUID(str(data["Kildesystem"])),
            besked_id=besked_id,
            created_at=datetime.fromisoformat(str(data["Dannelsestidspunkt"])),
        )
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise InvalidMessage(
            f"Outbox-besked {message.seq} kan ikke læses som FordringTilIndbetaling: "
            f"{type(exc).__name__}"
        ) from None
    return Outgoing(str(besked_id), str(transaction_id), view.authority_cvr, xml)


def sender(publisher: Publisher) -> Send:
    """A `Send` for the relay: build the envelope and publish it with its TransaktionsId."""

    async def send(message: outbox.OutboxMessage) -> None:
        await publisher.publish(envelope_from_outbox(message))

    return send


LEASE_SECONDS = 15.0
"""How long a relay holds the messages it sends before another relay may send them again."""


async def relay_once(engine: Engine, table: Table, send: Send, batch: int = 500) -> int:
    """Send one batch of pending messages concurrently, leased while they are being sent;
    returns how many were published. A batch that failed is let go at once, to be sent again."""
    pending = await run_in_threadpool(_lease, engine, table, batch)
    if not pending:
        return 0
    seqs = [m.seq for m in pending]
    try:
        await asyncio.gather(*(send(message) for message in pending))
    except Exception:
        with contextlib.suppress(Exception):  # else its lease runs out
            await run_in_threadpool(_let_go, engine, table, seqs)
        raise
    await run_in_threadpool(_mark_published, engine, table, seqs)
    return len(pending)


def _lease(engine: Engine, table: Table, batch: int) -> list[outbox.OutboxMessage]:
    with write(engine) as conn:
        now = datetime.now(UTC)
        until = now + timedelta(seconds=LEASE_SECONDS)
        return outbox.lease_pending(conn, table, now=now, lease_until=until, limit=batch)


def _let_go(engine: Engine, table: Table, seqs: list[int]) -> None:
    with write(engine) as conn:
        outbox.hold_until(conn, table, seqs, None)


def _mark_published(engine: Engine, table: Table, seqs: list[int]) -> None:
    with write(engine) as conn:
        outbox.mark_published(conn, table, seqs, datetime.now(UTC))


async def relay_until_empty(
    engine: Engine,
    table: Table,
    send: Send,
    *,
    batch: int = 500,
    retry_seconds: float = 0.2,
    on_error: Callable[[Exception], None] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Relay until nothing is pending (or `stop` is set); a failed batch is retried after
    `retry_seconds`."""
    total = 0
    while stop is None or not stop.is_set():
        try:
            sent = await relay_once(engine, table, send, batch)
        except Exception as exc:  # any transport failure means: try again
            if on_error is not None:
                on_error(exc)
            await asyncio.sleep(retry_seconds)
            continue
        if sent == 0:
            return total
        total += sent
    return total


async def run_relay(
    engine: Engine,
    table: Table,
    publisher: Publisher,
    stop: asyncio.Event,
    *,
    idle_seconds: float = 0.5,
    batch: int = 500,
) -> None:
    """The relay as a background task: relay what is pending, then wait, until `stop` is set."""

    def report(exc: Exception) -> None:
        log.warning("relay of the outbox failed, trying again: %s", exc)

    await until_connected(publisher.connect, stop)
    send = sender(publisher)
    try:
        while not stop.is_set():
            await relay_until_empty(engine, table, send, batch=batch, on_error=report, stop=stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_seconds)
    finally:
        await publisher.close()

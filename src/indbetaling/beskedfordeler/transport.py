"""Mailbox transports behind one interface: the database (embedded default) and RabbitMQ.

Both give at-least-once delivery with the same semantics: a pulled message stays the
subscriber's until it acks it; a nack, or a subscriber that goes away (AMQP: the channel closes;
database: the lease runs out), makes it come back.

On RabbitMQ, publishers send to the durable exchange `AFSEND_BESKED_EXCHANGE` with publisher
confirms, `message_id` = TransaktionsId and `app_id` = their it-system UUID (with one broker user
per publisher, `user_id` validation makes that trustworthy; the publisher's side is
`indbetaling.besked_afsend.AmqpPublisher`). The distributor consumes the
exchange's intake queue, routes each message and places it, again with confirms, in every
matching mailbox: a pull mailbox is a durable queue named by its UUID, which the subscriber
consumes with manual ack; a push mailbox is a database row for the push loop. Only then is the
intake message acked, so a crash anywhere means a redelivery, never a loss. A publisher that
sets `reply_to` gets an `AfsendBeskedOutput` with StandardRetur 20 or 40.

Database work and parsing run in the threadpool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from starlette.concurrency import run_in_threadpool

from indbetaling.besked import afsend_besked_output
from indbetaling.besked_afsend import declare_exchange
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.service import Beskedfordeler, BeskedfordelerError

INTAKE_QUEUE = "beskedfordeler.afsend"
BROKER_TROUBLE = (
    TimeoutError,
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
)
"""What a busy, restarting or vanished broker raises."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    tag: int
    besked_id: str
    payload: bytes
    redelivered: bool


class MailboxTransport(Protocol):
    async def place(self, mailbox_id: str, besked_id: str, payload: bytes) -> None: ...

    async def pull(self, mailbox_id: str, limit: int) -> list[Delivery]: ...

    async def ack(self, mailbox_id: str, tag: int) -> bool: ...

    async def nack(self, mailbox_id: str, tag: int) -> bool: ...


class DatabaseTransport:
    """Mailboxes as rows in the Beskedfordeler's database (see `store.mailbox_messages`)."""

    def __init__(self, bf: Beskedfordeler) -> None:
        self.bf = bf

    async def place(self, mailbox_id: str, besked_id: str, payload: bytes) -> None:
        await run_in_threadpool(service.place_message, self.bf, mailbox_id, besked_id, payload)

    async def pull(self, mailbox_id: str, limit: int) -> list[Delivery]:
        taken = await run_in_threadpool(service.take_messages, self.bf, mailbox_id, limit)
        return [Delivery(m.seq, m.besked_id, m.payload, m.deliveries > 1) for m in taken]

    async def ack(self, mailbox_id: str, tag: int) -> bool:
        return await run_in_threadpool(service.ack_message, self.bf, mailbox_id, tag)

    async def nack(self, mailbox_id: str, tag: int) -> bool:
        return await run_in_threadpool(service.release_message, self.bf, mailbox_id, tag)


class AmqpTransport:
    """Mailboxes as durable RabbitMQ queues named by their UUID (aio-pika, robust connection)."""

    def __init__(
        self, url: str, *, confirm_timeout: float = 10.0, reconnect_interval: float = 5.0
    ) -> None:
        self.url = url
        self.confirm_timeout = confirm_timeout
        self.reconnect_interval = reconnect_interval
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._declared: set[str] = set()
        self._unacked: dict[tuple[str, int], AbstractIncomingMessage] = {}

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self.url, reconnect_interval=self.reconnect_interval
        )
        self._channel = await self._connection.channel(publisher_confirms=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @property
    def channel(self) -> aio_pika.abc.AbstractChannel:
        if self._channel is None:
            raise RuntimeError("AmqpTransport.connect() first")
        return self._channel

    async def declare_mailbox(self, mailbox_id: str) -> aio_pika.abc.AbstractQueue:
        queue = await self.channel.declare_queue(mailbox_id, durable=True)
        self._declared.add(mailbox_id)
        return queue

    async def place(self, mailbox_id: str, besked_id: str, payload: bytes) -> None:
        if mailbox_id not in self._declared:
            await self.declare_mailbox(mailbox_id)
        message = aio_pika.Message(
            payload,
            message_id=besked_id,
            content_type="application/xml",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.channel.default_exchange.publish(
            message, routing_key=mailbox_id, timeout=self.confirm_timeout
        )

    async def pull(self, mailbox_id: str, limit: int) -> list[Delivery]:
        queue = await self.declare_mailbox(mailbox_id)
        deliveries: list[Delivery] = []
        for _ in range(limit):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            tag = int(message.delivery_tag or 0)
            self._unacked[(mailbox_id, tag)] = message
            deliveries.append(
                Delivery(tag, str(message.message_id), message.body, bool(message.redelivered))
            )
        return deliveries

    async def ack(self, mailbox_id: str, tag: int) -> bool:
        message = self._unacked.pop((mailbox_id, tag), None)
        if message is None:
            return False
        await message.ack()
        return True

    async def nack(self, mailbox_id: str, tag: int) -> bool:
        message = self._unacked.pop((mailbox_id, tag), None)
        if message is None:
            return False
        await message.nack(requeue=True)
        return True


class AmqpDistributor:
    """Consumes `AFSEND_BESKED_EXCHANGE`, routes each message and places it in its mailboxes."""

    def __init__(
        self,
        bf: Beskedfordeler,
        transport: AmqpTransport,
        prefetch: int = 200,
        *,
        intake_queue: str = INTAKE_QUEUE,
    ) -> None:
        self.bf = bf
        self.transport = transport
        self.prefetch = prefetch
        self.intake_queue = intake_queue
        self._consumer_tag: str | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None

    async def start(self) -> None:
        channel = self.transport.channel
        await channel.set_qos(prefetch_count=self.prefetch)
        exchange = await declare_exchange(channel)
        self._queue = await channel.declare_queue(self.intake_queue, durable=True)
        await self._queue.bind(exchange)
        self._consumer_tag = await self._queue.consume(self.handle)

    async def stop(self) -> None:
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        publisher = str(message.app_id or "")
        try:
            routed = await run_in_threadpool(
                service.route_only, self.bf, publisher, message.body, "amqp"
            )
        except BeskedfordelerError as exc:  # recorded among the refused publications
            log.warning("message %s refused: %s", message.message_id, exc)
            await self._reply(message, exc.status, str(exc))
            await message.ack()
            return
        pulled = [m for m in routed.mailboxes if not m.is_push]
        pushed = [m for m in routed.mailboxes if m.is_push]
        try:
            await asyncio.gather(
                *(
                    self.transport.place(
                        m.mailbox_id, routed.envelope.besked_id, routed.envelope.xml
                    )
                    for m in pulled
                )
            )
        except BROKER_TROUBLE as exc:
            # Not placed everywhere (a busy or restarting broker did not confirm in time): the
            # message goes back on the intake queue and is routed again. A mailbox that got it
            # already gets it twice, which its receiver's BeskedId deduplication absorbs.
            log.warning("message %s not placed, routed again: %r", message.message_id, exc)
            await self._requeue(message)
            return
        if pushed:
            await run_in_threadpool(service.place_in_database, self.bf, routed.envelope, pushed)
        await self._reply(message, 20, None)
        await message.ack()

    @staticmethod
    async def _requeue(message: AbstractIncomingMessage) -> None:
        try:
            await message.nack(requeue=True)
        except BROKER_TROUBLE as exc:  # the channel is gone:
            # the broker returns every unacknowledged message to the queue by itself
            log.warning("message %s left to the broker: %r", message.message_id, exc)

    async def _reply(self, message: AbstractIncomingMessage, status: int, text: str | None) -> None:
        if not message.reply_to:
            return
        await self.transport.channel.default_exchange.publish(
            aio_pika.Message(afsend_besked_output(status, text), correlation_id=message.message_id),
            routing_key=message.reply_to,
        )

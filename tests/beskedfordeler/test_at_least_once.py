"""At-least-once on a real RabbitMQ: 10,000 messages from the debitorsystem's outbox to a
subscriber's mailbox queue, with the broker stopped and started again in the middle."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import aio_pika
import pytest
from sqlalchemy import Engine

from besked_samples import claim, fill_outbox
from conftest import DEBITORSYSTEM, FAGSYSTEM_A
from indbetaling import outbox
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.besked_afsend import AmqpPublisher, relay_until_empty, sender
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.transport import AmqpDistributor, AmqpTransport
from indbetaling.db import read
from indbetaling.debitorsystem import store as debitor_store

pytestmark = pytest.mark.anyio
MESSAGES = 10_000
RESTART_AFTER = 3_000
GIVE_UP_SECONDS = 180  # only so that a broken delivery fails instead of hanging the suite


class Receiver:
    """A subscriber's consumer: manual ack, and its effect applied once per BeskedId."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.changed = asyncio.Event()

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        besked_id = str(message.message_id)
        self.deliveries[besked_id] += 1
        if besked_id not in self.effects:
            self.effects[besked_id] += 1  # the effect, kept with the BeskedId that caused it
        await message.ack()
        self.changed.set()


async def wait_until(done: Callable[[], bool], event: asyncio.Event) -> None:
    async def loop() -> None:
        while not done():
            event.clear()
            await event.wait()

    await asyncio.wait_for(loop(), GIVE_UP_SECONDS)


def fill_and_subscribe(
    bf: Beskedfordeler, part_engine: Callable[[str, str], Engine], messages: int = MESSAGES
) -> tuple[Engine, set[str], str]:
    """The debitorsystem with `messages` in its outbox, their BeskedIds, and A's mailbox."""
    debitor = part_engine("debitorsystem", "sqlite")
    expected = set(fill_outbox(debitor, (claim() for _ in range(messages))))
    box = service.create_mailbox(bf, FAGSYSTEM_A).mailbox_id
    service.subscribe(bf, box, Filter(message_type=BESKEDTYPE_FORDRING_TIL_INDBETALING))
    return debitor, expected, box


def pending(debitor: Engine) -> list[outbox.OutboxMessage]:
    with read(debitor) as conn:
        return outbox.pending(conn, debitor_store.outbox, limit=10)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_every_message_arrives_across_a_broker_restart(
    bf: Beskedfordeler,
    part_engine: Callable[[str, str], Engine],
    rabbit_node: Any,
) -> None:
    url = rabbit_node.url
    debitor, expected, box = await asyncio.to_thread(fill_and_subscribe, bf, part_engine)

    transport = AmqpTransport(url, reconnect_interval=0.5)
    await transport.connect()
    distributor = AmqpDistributor(bf, transport, intake_queue=f"intake-{uuid.uuid4()}")
    await distributor.start()
    publisher = AmqpPublisher(url, DEBITORSYSTEM, reconnect_interval=0.5, confirm_timeout=5)
    await publisher.connect()
    subscriber = await aio_pika.connect_robust(url, reconnect_interval=0.5)
    channel = await subscriber.channel()
    await channel.set_qos(prefetch_count=500)
    receiver = Receiver()
    mailbox = await channel.declare_queue(box, durable=True)
    await mailbox.consume(receiver.on_message)

    sent = 0
    restart_due, broker_stopped = asyncio.Event(), asyncio.Event()
    send = sender(publisher)

    async def counting_send(message: outbox.OutboxMessage) -> None:
        """The relay's send; from message RESTART_AFTER on it goes on only once the broker is
        down, so the outage falls in the middle of the stream, whatever the machine's speed."""
        nonlocal sent
        if sent >= RESTART_AFTER:
            restart_due.set()
            await broker_stopped.wait()
        await send(message)
        sent += 1

    relay_errors: list[Exception] = []

    async def restart() -> None:
        await restart_due.wait()
        await asyncio.to_thread(rabbit_node.stop)
        broker_stopped.set()
        await asyncio.to_thread(rabbit_node.start)

    try:
        restarted = asyncio.create_task(restart())
        await relay_until_empty(
            debitor,
            debitor_store.outbox,
            counting_send,
            retry_seconds=0.5,
            on_error=relay_errors.append,
        )
        await restarted
        # The relay may have finished before the broker went down: send what is left after it.
        await relay_until_empty(
            debitor,
            debitor_store.outbox,
            counting_send,
            retry_seconds=0.5,
            on_error=relay_errors.append,
        )
        await wait_until(lambda: expected <= set(receiver.effects), receiver.changed)
    finally:
        await distributor.stop()
        await subscriber.close()
        await publisher.close()
        await transport.close()

    assert await asyncio.to_thread(pending, debitor) == []
    assert set(receiver.deliveries) == expected  # each at least once, nothing foreign
    assert receiver.effects == Counter(dict.fromkeys(expected, 1))  # exactly once in effect
    assert relay_errors  # the restart did hit the relay: it had to send again


class StallingTransport(AmqpTransport):
    """A broker that does not confirm the first placement of each message in time."""

    def __init__(self, url: str) -> None:
        super().__init__(url, reconnect_interval=0.5)
        self.stalled: set[str] = set()

    async def place(self, mailbox_id: str, besked_id: str, payload: bytes) -> None:
        if besked_id not in self.stalled:
            self.stalled.add(besked_id)
            raise TimeoutError("no publisher confirm in time")
        await super().place(mailbox_id, besked_id, payload)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_placement_the_broker_did_not_confirm_is_routed_again(
    bf: Beskedfordeler, part_engine: Callable[[str, str], Engine], amqp_url: str
) -> None:
    """A busy broker that does not confirm in time costs a retry, never the message, and no
    error escapes the consumer."""
    debitor, expected, box = await asyncio.to_thread(fill_and_subscribe, bf, part_engine, 20)
    transport = StallingTransport(amqp_url)
    await transport.connect()
    distributor = AmqpDistributor(bf, transport, intake_queue=f"intake-{uuid.uuid4()}")
    await distributor.start()
    publisher = AmqpPublisher(amqp_url, DEBITORSYSTEM, reconnect_interval=0.5)
    await publisher.connect()
    subscriber = await aio_pika.connect_robust(amqp_url)
    receiver = Receiver()
    try:
        mailbox = await (await subscriber.channel()).declare_queue(box, durable=True)
        await mailbox.consume(receiver.on_message)
        await relay_until_empty(debitor, debitor_store.outbox, sender(publisher))
        await wait_until(lambda: expected <= set(receiver.effects), receiver.changed)
    finally:
        await distributor.stop()
        await subscriber.close()
        await publisher.close()
        await transport.close()
    assert transport.stalled == expected  # every message was refused once
    assert set(receiver.deliveries) == expected

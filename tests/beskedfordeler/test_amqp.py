"""The RabbitMQ transport: publish to AFSEND_BESKED_EXCHANGE, routed into mailbox queues; a
pulled message comes back after a nack or a disconnect."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from besked_samples import claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A, FAGSYSTEM_B
from indbetaling.besked_afsend import AmqpPublisher, Outgoing
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.transport import AmqpDistributor, AmqpTransport

pytestmark = pytest.mark.anyio
PERSON = "urn:oio:cpr-nr:0101800001"


async def drain(url: str, queue_name: str, expect: int, timeout: float = 20) -> list[str]:
    """Consume a mailbox queue with manual ack until `expect` messages or the timeout."""
    connection = await aio_pika.connect(url)
    got: list[str] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                if len(got) >= expect:
                    break
                await asyncio.sleep(0.05)
                continue
            got.append(str(message.message_id))
            await message.ack()
    return got


def two_mailboxes(bf: Beskedfordeler) -> tuple[str, str]:
    """A: its value list holds PERSON; B: another authority only."""
    list_a = service.create_value_list(bf, FAGSYSTEM_A, "A", [PERSON])
    box_a = service.create_mailbox(bf, FAGSYSTEM_A, mailbox_id=str(uuid.uuid4())).mailbox_id
    box_b = service.create_mailbox(bf, FAGSYSTEM_B, mailbox_id=str(uuid.uuid4())).mailbox_id
    service.subscribe(bf, box_a, Filter(value_list_id=list_a))
    service.subscribe(bf, box_b, Filter(authority_cvr="99999999"))
    return box_a, box_b


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_amqp_pull_reaches_exactly_the_matching_mailboxes(
    bf: Beskedfordeler, amqp_url: str
) -> None:
    box_a, box_b = await asyncio.to_thread(two_mailboxes, bf)
    transport = AmqpTransport(amqp_url)
    await transport.connect()
    distributor = AmqpDistributor(bf, transport, intake_queue=f"intake-{uuid.uuid4()}")
    await distributor.start()
    publisher = AmqpPublisher(amqp_url, DEBITORSYSTEM)
    await publisher.connect()
    try:
        t_match, match = envelope(claim(PERSON))
        t_none, nobody = envelope(claim("urn:oio:cpr-nr:0909800009"))
        await publisher.publish(Outgoing(str(t_match), str(t_match), "12345678", match))
        await publisher.publish(Outgoing(str(t_none), str(t_none), "12345678", nobody))
        assert await drain(amqp_url, box_a, expect=1, timeout=5) == [str(t_match)]
        assert await drain(amqp_url, box_b, expect=0, timeout=1) == []
    finally:
        await distributor.stop()
        await publisher.close()
        await transport.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_pulled_message_comes_back_after_nack_and_after_disconnect(
    bf: Beskedfordeler, amqp_url: str
) -> None:
    box = str(uuid.uuid4())
    first = AmqpTransport(amqp_url)
    await first.connect()
    try:
        await first.place(box, "besked-1", b"<x/>")
        taken = await first.pull(box, 10)
        assert [(d.besked_id, d.redelivered) for d in taken] == [("besked-1", False)]
        assert await first.pull(box, 10) == []  # unacked: not handed out twice
        assert await first.nack(box, taken[0].tag)
        again = await first.pull(box, 10)
        assert [(d.besked_id, d.redelivered) for d in again] == [("besked-1", True)]
    finally:
        await first.close()  # the subscriber goes away without acking
    second = AmqpTransport(amqp_url)
    await second.connect()
    try:
        after_disconnect = await second.pull(box, 10)
        assert [(d.besked_id, d.redelivered) for d in after_disconnect] == [("besked-1", True)]
        assert await second.ack(box, after_disconnect[0].tag)
        assert not await second.ack(box, after_disconnect[0].tag)  # unknown tag now
        assert await second.pull(box, 10) == []
        await second.channel.queue_delete(box)
    finally:
        await second.close()

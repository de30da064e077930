"""On RabbitMQ a pull mailbox is a queue: the pages show its depth from the broker, a push
mailbox's from the database, and "unknown" (None) while the broker cannot be asked."""

from __future__ import annotations

import asyncio

import pytest

from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.transport import AmqpTransport
from indbetaling.beskedfordeler.ui.site import BeskedfordelerSite
from indbetaling.ui.access import WebAccess
from indbetaling.ui.pages import Pages
from indbetaling.ui.sessions import SessionCodec
from indbetaling.ui.users import UserDirectory

pytestmark = pytest.mark.anyio
FAGSYSTEM = "f0000000-0000-4000-8000-0000000000aa"


def site_on(bf: Beskedfordeler, amqp: AmqpTransport) -> BeskedfordelerSite:
    access = WebAccess(SessionCodec("x" * 32, secure=False), UserDirectory([]))
    return BeskedfordelerSite(bf, Pages(access, [], "Beskedfordeler"), amqp=amqp)


async def test_a_pull_mailboxs_depth_is_its_queues(bf: Beskedfordeler, amqp_url: str) -> None:
    pull = await asyncio.to_thread(service.create_mailbox, bf, FAGSYSTEM, name="hentes")
    push = await asyncio.to_thread(
        service.create_mailbox, bf, FAGSYSTEM, push_url="http://x/", push_secret="s"
    )
    away = site_on(bf, AmqpTransport(amqp_url))
    assert await away.depths([pull, push], {push.mailbox_id: 3}) == {
        pull.mailbox_id: None,
        push.mailbox_id: 3,
    }
    transport = AmqpTransport(amqp_url)
    await transport.connect()
    try:
        for n in range(2):
            await transport.place(pull.mailbox_id, f"besked-{n}", b"<besked/>")
        site = site_on(bf, transport)
        assert await site.depths([pull, push], {push.mailbox_id: 3}) == {
            pull.mailbox_id: 2,
            push.mailbox_id: 3,
        }
    finally:
        await transport.close()

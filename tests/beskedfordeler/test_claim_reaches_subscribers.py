"""A claim created in the debitorsystem reaches exactly the subscribers whose filters match.

The whole way: `DebitorService.create_claim` → outbox → relay → Beskedfordeler (database
transport, or AMQP through AFSEND_BESKED_EXCHANGE and the distributor) → filters → a pull
mailbox, and a signed push over HTTP to a fagsystem's receiver running in a real uvicorn server
on a loopback port. Subscribers whose filters do not match get nothing.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, select

from conftest import DEBITORSYSTEM, FAGSYSTEM_A, FAGSYSTEM_B
from indbetaling import webhooks
from indbetaling.besked import parse_envelope
from indbetaling.besked_afsend import AmqpPublisher, Outgoing, relay_until_empty, sender
from indbetaling.beskedfordeler import push, service
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.transport import (
    AmqpDistributor,
    AmqpTransport,
    DatabaseTransport,
    MailboxTransport,
)
from indbetaling.db import make_engine, migrate, read, write
from indbetaling.debitorsystem import store as debitor_store
from indbetaling.debitorsystem.service import DebitorService, NewClaim
from indbetaling.fagsystem.push_receiver import push_receiver_router
from indbetaling.fagsystem.store import received_besked_ids
from indbetaling.fordring import LiableParty

pytestmark = pytest.mark.anyio
CVR, OTHER_CVR = "29189846", "55133018"
PART = "urn:oio:cpr-nr:0101801234"
FAGSYSTEM_C = "f0000000-0000-4000-8000-00000000000c"
FAGSYSTEM_D = "f0000000-0000-4000-8000-00000000000d"


class LoopbackServer:
    """A uvicorn server in a thread on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(app, lifespan="off", ws="none", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass
class Receivers:
    """Two fagsystems' push receivers (A matches, C does not), each on its own database."""

    server: LoopbackServer
    engine_a: Engine
    engine_c: Engine
    secret_a: str
    secret_c: str


@pytest.fixture
def receivers(
    part_engine: Callable[[str, str], Engine], tmp_path: Path, backend: str
) -> Iterator[Receivers]:
    engine_a = part_engine("fagsystem", backend)
    engine_c = make_engine(f"sqlite:///{tmp_path / 'fagsystem-c.sqlite'}")
    migrate(engine_c, "fagsystem")
    secret_a, secret_c = webhooks.make_secret(), webhooks.make_secret()
    app = FastAPI()
    app.include_router(push_receiver_router(engine_a, secret_a, path="/a/beskeder"))
    app.include_router(push_receiver_router(engine_c, secret_c, path="/c/beskeder"))
    with LoopbackServer(app) as server:
        yield Receivers(server, engine_a, engine_c, secret_a, secret_c)
    engine_c.dispose()


@dataclass(frozen=True)
class Mailboxes:
    push_a: str  # FAGSYSTEM_A: push, its value list holds the claim's party
    pull_b: str  # FAGSYSTEM_B: pull, everything of the claim's authority
    push_c: str  # FAGSYSTEM_C: push, another authority only
    pull_d: str  # FAGSYSTEM_D: pull, only claims that are closed


def subscribe_all(bf: Beskedfordeler, receivers: Receivers) -> Mailboxes:
    people = service.create_value_list(bf, FAGSYSTEM_A, "A's parties", [PART])
    a = service.create_mailbox(
        bf,
        FAGSYSTEM_A,
        push_url=receivers.server.url("/a/beskeder"),
        push_secret=receivers.secret_a,
    ).mailbox_id
    b = service.create_mailbox(bf, FAGSYSTEM_B).mailbox_id
    c = service.create_mailbox(
        bf,
        FAGSYSTEM_C,
        push_url=receivers.server.url("/c/beskeder"),
        push_secret=receivers.secret_c,
    ).mailbox_id
    d = service.create_mailbox(bf, FAGSYSTEM_D).mailbox_id
    service.subscribe(bf, a, Filter(value_list_id=people))
    service.subscribe(bf, b, Filter(authority_cvr=CVR))
    service.subscribe(bf, c, Filter(authority_cvr=OTHER_CVR))
    service.subscribe(bf, d, Filter(object_action="Afsluttet"))
    return Mailboxes(a, b, c, d)


def create_claim(part_engine: Callable[[str, str], Engine]) -> tuple[Engine, str]:
    """A claim made through the debitorsystem's own use case; returns its engine and BeskedId."""
    engine = part_engine("debitorsystem", "sqlite")
    debitor = DebitorService(engine, system_id=uuid.UUID(DEBITORSYSTEM))
    debitor.create_authority(CVR, "Testrup Kommune")
    account = debitor.create_account(CVR, "KONTO.BORGER")
    debitor.create_claim(
        CVR,
        NewClaim(
            account_id=account,
            claim_type_code="KRAV.DAGTILBUD",
            principal=123_450,
            due_date=date(2026, 12, 1),
            last_timely_payment_date=date(2026, 12, 10),
            liable_parties=(LiableParty(PART, "PRIMAER"),),
        ),
    )
    with read(engine) as conn:
        besked_id = conn.execute(select(debitor_store.outbox.c.message_id)).scalar_one()
    return engine, str(besked_id)


def resend_outbox(engine: Engine) -> None:
    """As after a crash between publishing and marking published, once the crashed relay's lease
    ran out: a relay sends it again."""
    with write(engine) as conn:
        conn.execute(debitor_store.outbox.update().values(published_at=None, leased_until=None))


async def push_until_quiet(bf: Beskedfordeler) -> int:
    """Run push rounds until nothing is due; returns how many pushes were answered 20."""
    delivered = 0
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            outcome = await push.deliver_due(bf, client)
            if outcome == push.PushOutcome():
                return delivered
            assert outcome.retried == outcome.failed == 0, outcome
            delivered += outcome.delivered


async def pulled_ids(transport: MailboxTransport, mailbox_id: str) -> list[str]:
    taken = await transport.pull(mailbox_id, 100)
    for delivery in taken:
        assert await transport.ack(mailbox_id, delivery.tag)
    return [d.besked_id for d in taken]


def received(engine: Engine) -> set[str]:
    with read(engine) as conn:
        return received_besked_ids(conn)


def received_envelope(engine: Engine) -> bytes:
    with read(engine) as conn:
        return bytes(conn.exec_driver_sql("SELECT envelope FROM received_messages").scalar_one())


async def check_deliveries(
    bf: Beskedfordeler,
    receivers: Receivers,
    boxes: Mailboxes,
    transport: MailboxTransport,
    besked_id: str,
) -> None:
    assert await push_until_quiet(bf) == 1  # only A's push
    assert await asyncio.to_thread(received, receivers.engine_a) == {besked_id}
    assert await asyncio.to_thread(received, receivers.engine_c) == set()
    assert await pulled_ids(transport, boxes.pull_b) == [besked_id]
    assert await pulled_ids(transport, boxes.pull_d) == []


class BeskedAfsendOnTheDatabase:
    """What the Beskedfordeler's `BeskedAfsend` endpoint does with a publisher's message on the
    database transport (the way there, through the gateway, is tested end to end)."""

    def __init__(self, bf: Beskedfordeler, publisher_id: str) -> None:
        self.bf = bf
        self.publisher_id = publisher_id

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, message: Outgoing) -> None:
        await asyncio.to_thread(service.publish, self.bf, self.publisher_id, message.xml)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_claim_reaches_exactly_the_matching_subscribers_on_the_database_transport(
    bf: Beskedfordeler, part_engine: Callable[[str, str], Engine], receivers: Receivers
) -> None:
    boxes = await asyncio.to_thread(subscribe_all, bf, receivers)
    debitor, besked_id = await asyncio.to_thread(create_claim, part_engine)
    send = sender(BeskedAfsendOnTheDatabase(bf, DEBITORSYSTEM))
    assert await relay_until_empty(debitor, debitor_store.outbox, send) == 1
    transport = DatabaseTransport(bf)
    await check_deliveries(bf, receivers, boxes, transport, besked_id)

    await asyncio.to_thread(
        resend_outbox, debitor
    )  # the same message once more: received once in effect
    assert await relay_until_empty(debitor, debitor_store.outbox, send) == 1
    assert await push_until_quiet(bf) == 1
    assert await asyncio.to_thread(received, receivers.engine_a) == {besked_id}
    claim = parse_envelope(await asyncio.to_thread(received_envelope, receivers.engine_a)).claim
    assert claim is not None
    assert (claim.authority_cvr, claim.restance) == (CVR, 123_450)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_claim_reaches_exactly_the_matching_subscribers_over_amqp(
    bf: Beskedfordeler,
    part_engine: Callable[[str, str], Engine],
    receivers: Receivers,
    amqp_url: str,
) -> None:
    boxes = await asyncio.to_thread(subscribe_all, bf, receivers)
    debitor, besked_id = await asyncio.to_thread(create_claim, part_engine)
    transport = AmqpTransport(amqp_url)
    await transport.connect()
    distributor = AmqpDistributor(bf, transport, intake_queue=f"intake-{uuid.uuid4()}")
    await distributor.start()
    publisher = AmqpPublisher(amqp_url, DEBITORSYSTEM)
    await publisher.connect()
    try:
        assert await relay_until_empty(debitor, debitor_store.outbox, sender(publisher)) == 1
        for _ in range(500):  # the distributor routes asynchronously: wait for A's push row
            if await asyncio.to_thread(service.error_queue, bf) or await _waiting_push(bf):
                break
            await asyncio.sleep(0.02)
        await check_deliveries(bf, receivers, boxes, transport, besked_id)
    finally:
        await distributor.stop()
        await publisher.close()
        for box in (boxes.pull_b, boxes.pull_d):
            await transport.channel.queue_delete(box)
        await transport.close()


async def _waiting_push(bf: Beskedfordeler) -> bool:
    return await asyncio.to_thread(_messages_waiting, bf)


def _messages_waiting(bf: Beskedfordeler) -> bool:
    with read(bf.engine) as conn:
        return bool(conn.exec_driver_sql("SELECT count(*) FROM mailbox_messages").scalar_one())

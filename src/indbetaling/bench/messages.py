"""Messages: envelope → Beskedfordeler → mailboxes, on RabbitMQ and on the database transport,
with 100 subscriptions of which one filters on a large value list; signed push delivery to a
receiver of the bench's own; and claim change → subscriber latency.

Setup goes through the gateway as a subscriber does (mailboxes, subscriptions, the value list in
chunks). Throughput: the bench publishes FordringTilIndbetaling envelopes as the debitorsystem
(its identity from demo.json): over AMQP to `AFSEND_BESKED_EXCHANGE`, or through the gateway's
`BeskedAfsend`, 16 in flight, half of them about a party in the value list; it counts until
every pull mailbox holds what it should and every push has arrived. Latency: ForetagIndbetaling
through the gateway (the real change, whose message the debitorsystem's outbox relays), from
its answer to the push's arrival at the receiver. Limits: the same placements done by the
broker (a fanout to 100 queues) or by SQL alone, and signed POSTs straight to the receiver.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import aio_pika
import httpx
import uvicorn
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from indbetaling.bench.payments import payable_claims
from indbetaling.bench.report import Report, ms_text, percentile, rate_text
from indbetaling.bench.server import Server, drop_database, fresh_database
from indbetaling.besked import (
    BESKEDTYPE_FORDRING_TIL_INDBETALING,
    ObjectAction,
    build_envelope,
    modtag_besked_input,
    modtag_besked_output,
)
from indbetaling.besked_afsend import AmqpPublisher, HttpPublisher, Outgoing, Publisher
from indbetaling.contracts import BESKEDFORDELER_ENTITY_ID, DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.fordring import ClaimStatus, ClaimView, LiableParty
from indbetaling.sts_client import Credentials
from indbetaling.throwaway import free_port
from indbetaling.webhooks import InvalidSignature, signed_headers, verify

SUBSCRIPTIONS = 100
IN_FLIGHT = 16
CHUNK = 20_000
API = "/api/v1/beskedfordeler"
FORDRING = re.compile(rb"FordringId>([0-9a-fA-F-]{36})<")
RESTANCE = re.compile(rb"Restance>([0-9.]+)<")
OK = modtag_besked_output(20)


@dataclass
class Receiver:
    """The subscriber's push receiver: checks each signature, answers StatusKode 20, and notes
    when each message, and each claim's Restance, first arrived."""

    secret: str = ""
    arrived: dict[str, float] = field(default_factory=dict)
    restances: dict[tuple[str, str], float] = field(default_factory=dict)
    refused: int = 0
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/beskeder"

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        now = time.time()
        try:
            besked_id = verify(self.secret, request.headers, body, now=int(now))
        except InvalidSignature:
            self.refused += 1
            return Response("invalid signature", status_code=401)
        self.arrived.setdefault(besked_id, now)
        claim, restance = FORDRING.search(body), RESTANCE.search(body)
        if claim and restance:
            key = (claim.group(1).decode().lower(), restance.group(1).decode())
            self.restances.setdefault(key, now)
        return Response(OK, media_type="text/xml; charset=utf-8")

    async def serve(self) -> tuple[uvicorn.Server, asyncio.Task[None]]:
        app = Starlette(routes=[Route("/beskeder", self.receive, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        return server, task


def cpr(n: int) -> str:
    return f"urn:oio:cpr-nr:{n:010d}"


def envelope(cvr: str, party: str, source: uuid.UUID) -> Outgoing:
    view = payable_claim(cvr, party)
    transaction = uuid.uuid4()
    xml = build_envelope(
        view, action=ObjectAction.AENDRET, transaction_id=transaction, source_system=source
    )
    return Outgoing(str(transaction), str(transaction), cvr, xml)


def payable_claim(cvr: str, party: str) -> ClaimView:
    """A payable claim of `party` in `cvr`, as the messages about it carry it."""
    return ClaimView(
        claim_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        authority_cvr=cvr,
        account_type_code="KONTO.BORGER",
        claim_type_code="KRAV.DAGTILBUD",
        principal=150_000,
        restance=123_450,
        due_date=date(2026, 12, 1),
        last_timely_payment_date=date(2026, 12, 10),
        payment_period_from=None,
        payment_period_to=None,
        liable_parties=(LiableParty(party, "PRIMAER"),),
        status=ClaimStatus.AKTIV,
    )


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], limit: int) -> None:
    queue = list(reversed(jobs))

    async def worker() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(worker() for _ in range(limit)))


@dataclass
class Setup:
    pull: list[str]
    list_mailbox: str
    push: str
    inside: list[str]


async def subscribe(
    http: httpx.AsyncClient, server: Server, values: int, receiver: Receiver
) -> Setup:
    """A value list of `values` CPR numbers, SUBSCRIPTIONS - 2 pull mailboxes on the authority,
    one on the value list and one push mailbox to `receiver`, through the gateway."""
    inside = [cpr(3_200_000_000 + n) for n in range(min(values, 1000))]
    everything = inside + [cpr(3_300_000_000 + n) for n in range(values - len(inside))]
    made = await http.post(f"{API}/vaerdilister", json={"navn": "bench", "vaerdier": []})
    made.raise_for_status()
    list_id = made.json()["id"]
    for start in range(0, len(everything), CHUNK):
        added = await http.post(
            f"{API}/vaerdilister/{list_id}/vaerdier",
            json={"vaerdier": everything[start : start + CHUNK]},
        )
        added.raise_for_status()

    async def mailbox(name: str, rule: dict[str, str], push_url: str | None = None) -> str:
        body: dict[str, Any] = {"navn": name}
        if push_url:
            body["push_url"] = push_url
        box = await http.post(f"{API}/dueslag", json=body)
        box.raise_for_status()
        data = box.json()
        if push_url:
            receiver.secret = data["push_hemmelighed"]
        sub = await http.post(f"{API}/dueslag/{data['id']}/abonnementer", json=rule)
        sub.raise_for_status()
        return str(data["id"])

    on_authority = {"beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING, "myndighed_cvr": server.cvr}
    pull: list[str] = []

    def make(i: int) -> Callable[[], Awaitable[None]]:
        async def one() -> None:
            pull.append(await mailbox(f"bench {i}", on_authority))

        return one

    await gather_limited([make(i) for i in range(SUBSCRIPTIONS - 2)], 8)
    on_list = {"beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING, "vaerdiliste_id": list_id}
    list_box = await mailbox("bench list", on_list)
    push = await mailbox("bench push", on_authority, receiver.url)
    return Setup(pull, list_box, push, inside)


class Depths:
    """How many messages the bench's pull mailboxes hold: RabbitMQ queues or database rows."""

    def __init__(self, server: Server, mailboxes: list[str]) -> None:
        self.server = server
        self.mailboxes = mailboxes
        self.engine = create_engine(server.database_url("beskedfordeler"))
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self.connection: aio_pika.abc.AbstractConnection | None = None

    async def open(self) -> None:
        if self.server.amqp_url:
            self.connection = await aio_pika.connect(self.server.amqp_url)
            self.channel = await self.connection.channel()

    async def total(self) -> int:
        if self.channel is not None:
            n = 0
            for box in self.mailboxes:
                queue = await self.channel.declare_queue(box, durable=True)
                n += queue.declaration_result.message_count or 0
            return n
        return await asyncio.to_thread(self._rows)

    def _rows(self) -> int:
        names = ", ".join(f"'{m}'" for m in self.mailboxes)
        with self.engine.connect() as conn:
            found = conn.execute(
                text(f"SELECT count(*) FROM mailbox_messages WHERE mailbox_id IN ({names})")
            ).scalar_one()
        return int(found)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        self.engine.dispose()


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


def _publisher(server: Server, http: httpx.AsyncClient) -> Publisher:
    debitor = server.demo["debitorsystemer"][0]
    if server.amqp_url:
        return AmqpPublisher(server.amqp_url, debitor["id"])
    credentials = Credentials(server.base_url, debitor["client_id"], debitor["client_secret"])
    return HttpPublisher(credentials, http)


async def _direct_posts(receiver: Receiver, bodies: list[bytes], concurrency: int) -> float:
    """Signed POSTs straight to the receiver, `concurrency` at once; per second."""
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        def job(body: bytes) -> Callable[[], Awaitable[None]]:
            async def post() -> None:
                besked_id = str(uuid.uuid4())
                headers = signed_headers(receiver.secret, besked_id, int(time.time()), body)
                answer = await http.post(receiver.url, content=body, headers=headers)
                answer.raise_for_status()

            return post

        started = time.perf_counter()
        await gather_limited([job(b) for b in bodies], concurrency)
        return len(bodies) / (time.perf_counter() - started)


async def _direct_latency(receiver: Receiver, body: bytes, n: int) -> list[float]:
    times: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(n):
            headers = signed_headers(receiver.secret, str(uuid.uuid4()), int(time.time()), body)
            started = time.perf_counter()
            (await http.post(receiver.url, content=body, headers=headers)).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


async def _limit_rabbitmq(url: str, payload: bytes, messages: int) -> float:
    """Placements/s of the broker alone: persistent messages with confirms, IN_FLIGHT at once,
    through a fanout exchange into SUBSCRIPTIONS durable queues."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("bench.limit", aio_pika.ExchangeType.FANOUT)
        queues = []
        for i in range(SUBSCRIPTIONS):
            queue = await channel.declare_queue(f"bench.limit.{i}", durable=True)
            await queue.bind(exchange)
            queues.append(queue)

        def job() -> Callable[[], Awaitable[Any]]:
            message = aio_pika.Message(payload, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            return lambda: exchange.publish(message, routing_key="")

        started = time.perf_counter()
        await gather_limited([job() for _ in range(messages)], IN_FLIGHT)

        async def all_in() -> bool:
            for i in range(SUBSCRIPTIONS):
                q = await channel.declare_queue(f"bench.limit.{i}", durable=True)
                if (q.declaration_result.message_count or 0) < messages:
                    return False
            return True

        await until(all_in, 300)
        elapsed = time.perf_counter() - started
        for queue in queues:
            await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        return messages * SUBSCRIPTIONS / elapsed
    finally:
        await connection.close()


def _limit_database(admin_url: str, payload: bytes, messages: int) -> float:
    """Placements/s of SQL alone: per message one transaction that inserts its row into each
    of SUBSCRIPTIONS mailboxes, IN_FLIGHT at once, on a database of its own."""
    url = fresh_database(admin_url, "bench_limit_messages")
    engine = create_engine(url, pool_size=IN_FLIGHT)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE box (seq BIGSERIAL PRIMARY KEY, mailbox_id TEXT NOT NULL,"
                    " besked_id TEXT NOT NULL, payload BYTEA NOT NULL,"
                    " UNIQUE (mailbox_id, besked_id))"
                )
            )
        boxes = [str(uuid.uuid4()) for _ in range(SUBSCRIPTIONS)]
        insert = text("INSERT INTO box (mailbox_id, besked_id, payload) VALUES (:m, :b, :p)")

        def place(_: int) -> None:
            besked = str(uuid.uuid4())
            with engine.begin() as conn:
                conn.execute(insert, [{"m": m, "b": besked, "p": payload} for m in boxes])

        started = time.perf_counter()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(place, range(messages)))
        return messages * SUBSCRIPTIONS / (time.perf_counter() - started)
    finally:
        engine.dispose()
        drop_database(admin_url, "bench_limit_messages")


@dataclass(frozen=True)
class Flow:
    per_s: float
    placements_per_s: float
    pushes_per_s: float
    pushes: int
    complete: bool
    publish_s: float


async def _throughput(
    server: Server, depths: Depths, receiver: Receiver, batch: list[Outgoing], expected: int
) -> Flow:
    """Publish `batch` as the debitorsystem, IN_FLIGHT at once; wait until the pull mailboxes
    hold `expected` messages and every push has arrived."""
    await asyncio.to_thread(server.quiet)
    async with httpx.AsyncClient(timeout=60) as http:
        publisher = _publisher(server, http)
        await publisher.connect()
        started = time.perf_counter()
        await gather_limited(
            [(lambda m=m: publisher.publish(m)) for m in batch],  # type: ignore[misc]
            IN_FLIGHT,
        )
        published = time.perf_counter()

        async def placed() -> bool:
            return await depths.total() >= expected

        complete = await until(placed, 600)
        pull_done = time.perf_counter()
        wanted = {m.besked_id for m in batch}

        async def pushed() -> bool:
            return wanted <= receiver.arrived.keys()

        await until(pushed, 600)
        push_done = time.perf_counter()
        await publisher.close()
    arrivals = len(wanted & receiver.arrived.keys())
    messages = len(batch)
    return Flow(
        per_s=messages / (pull_done - started),
        placements_per_s=expected / (pull_done - started),
        pushes_per_s=arrivals / (push_done - started),
        pushes=arrivals,
        complete=complete,
        publish_s=published - started,
    )


async def _measure(
    report: Report, server: Server, admin_url: str, *, messages: int, values: int, payments: int
) -> None:
    transport = "RabbitMQ" if server.amqp_url else "database transport"
    receiver = Receiver()
    web, web_task = await receiver.serve()
    subscriber = server.token(BESKEDFORDELER_ENTITY_ID)
    headers = {"Authorization": f"Bearer {subscriber}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=300) as http:
        setup = await subscribe(http, server, values, receiver)
    depths = Depths(server, [*setup.pull, setup.list_mailbox])
    await depths.open()
    source = uuid.UUID(server.demo["debitorsystemer"][0]["id"])
    outside = [cpr(3_400_000_000 + n) for n in range(messages)]
    batch = [
        envelope(server.cvr, setup.inside[i % len(setup.inside)] if i % 2 else outside[i], source)
        for i in range(messages)
    ]
    expected = messages * (SUBSCRIPTIONS - 2) + messages // 2
    flow = await _throughput(server, depths, receiver, batch, expected)
    per_s, placements, push_per_s = flow.per_s, flow.placements_per_s, flow.pushes_per_s
    complete, arrivals, published = flow.complete, flow.pushes, flow.publish_s
    payload = batch[0].xml
    await asyncio.to_thread(server.quiet)
    if server.amqp_url:
        limit = await _limit_rabbitmq(server.amqp_url, payload, messages)
        limit_text = "broker alone"
    else:
        limit = await asyncio.to_thread(_limit_database, admin_url, payload, messages)
        limit_text = "SQL alone"
    note = "" if complete else " (incomplete after 600 s)"
    report.add(
        "messages",
        f"{transport}: envelope → {SUBSCRIPTIONS} subscriptions, value list of {values:,}",
        f"{rate_text(per_s, ' msg/s')} = {rate_text(placements, ' placed/s')}{note}",
        f"{limit_text} {rate_text(limit, ' placed/s')}",
        placements / limit if limit else None,
        transport=transport,
        messages=messages,
        subscriptions=SUBSCRIPTIONS,
        value_list=values,
        messages_per_s=per_s,
        placements_per_s=placements,
        publish_s=published,
        limit_placements_per_s=limit,
    )
    body = modtag_besked_input(payload)
    direct = await _direct_posts(receiver, [body] * messages, 100)
    report.add(
        "messages",
        f"{transport}: signed push to a local receiver",
        f"{rate_text(push_per_s, ' pushes/s')} ({arrivals:,} of {messages:,})",
        f"direct POSTs {rate_text(direct, '/s')}",
        push_per_s / direct if direct else None,
        transport=transport,
        pushes=arrivals,
        pushes_per_s=push_per_s,
        limit_posts_per_s=direct,
    )
    await asyncio.to_thread(server.quiet)
    latencies = await _change_latency(server, receiver, payments)
    direct_ms = await _direct_latency(receiver, body, 100)
    p50, p99, limit_p99 = (
        percentile(latencies, 50),
        percentile(latencies, 99),
        percentile(direct_ms, 99),
    )
    report.add(
        "messages",
        f"{transport}: claim change → subscriber ({len(latencies)} payments)",
        f"p50 {ms_text(p50)} · p99 {ms_text(p99)}",
        f"direct POST p99 {ms_text(limit_p99)}",
        limit_p99 / p99 if p99 else None,
        transport=transport,
        changes=len(latencies),
        p50_ms=p50,
        p99_ms=p99,
        limit_p99_ms=limit_p99,
    )
    await depths.close()
    web.should_exit = True
    await web_task


async def _change_latency(server: Server, receiver: Receiver, payments: int) -> list[float]:
    """Pay through the gateway (4 at once); for each accepted payment, the time from its answer
    to the push of the claim with its new Restance at the receiver."""
    token = server.token(DEBITOR_INDBETALING_ENTITY_ID)
    claims = await asyncio.to_thread(payable_claims, server, token, 20, 0)
    org_unit = server.org_unit()
    answered: dict[tuple[str, str], float] = {}
    pending = list(range(payments))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:

        async def worker() -> None:
            while pending:
                i = pending.pop()
                claim, party = claims.spread[i % len(claims.spread)]
                answer = await http.post(
                    "/api/v1/debitorindbetaling/foretag-indbetaling",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": str(uuid.uuid4()),
                    },
                    json={
                        "Indbetaling": {
                            "IndbetalingId": str(uuid.uuid4()),
                            "FordringId": claim,
                            "Beloeb": "0.01",
                            "Betalingsdato": date.today().isoformat(),
                            "IndbetalerPartId": party,
                            "IndbetalendeOrganisationsenhedId": org_unit,
                        }
                    },
                )
                body = answer.json()
                if body.get("Forretningskvittering", {}).get("ForretningsValideringsKode") == (
                    "ACCEPTERET"
                ):
                    restance = str(Decimal(body["Restance"]))
                    answered[(claim.lower(), restance)] = time.time()

        await asyncio.gather(*(worker() for _ in range(4)))

    async def all_arrived() -> bool:
        return answered.keys() <= receiver.restances.keys()

    await until(all_arrived, 300)
    return [
        (receiver.restances[k] - t) * 1000 for k, t in answered.items() if k in receiver.restances
    ]


def measure(
    report: Report, server: Server, admin_url: str, *, messages: int, values: int, payments: int
) -> None:
    asyncio.run(
        _measure(report, server, admin_url, messages=messages, values=values, payments=payments)
    )

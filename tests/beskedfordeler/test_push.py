"""Signed push to the fagsystem's receiver: retries, error queue, re-delivery, refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine, func, select

from besked_samples import RESTDELIVERY_MESSAGE, claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A
from indbetaling import webhooks
from indbetaling.besked import modtag_besked_input, read_status_code
from indbetaling.beskedfordeler import push, service
from indbetaling.beskedfordeler.cli import redeliver_from_error_queue
from indbetaling.beskedfordeler.domain import Filter, RetryPolicy
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.db import read
from indbetaling.fagsystem.push_receiver import push_receiver_router
from indbetaling.fagsystem.store import received_besked_ids, received_messages

pytestmark = pytest.mark.anyio
SECRET = webhooks.make_secret()
PUSH_URL = "http://fagsystem/beskeder"


def receiver_app(
    engine: Engine, failures: list[int], now: Callable[[], float] = time.time
) -> FastAPI:
    """The fagsystem's receiver, behind a gate that first answers each status in `failures`."""
    app = FastAPI()
    app.include_router(push_receiver_router(engine, SECRET, now=now))

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[..., object]) -> Response:
        if failures:
            return Response(status_code=failures.pop(0))
        return await call_next(request)  # type: ignore[no-any-return, misc]

    return app


@pytest.fixture
def fagsystem_engine(part_engine: Callable[[str, str], Engine], backend: str) -> Engine:
    return part_engine("fagsystem", backend)


def push_mailbox(bf: Beskedfordeler) -> str:
    box = service.create_mailbox(bf, FAGSYSTEM_A, push_url=PUSH_URL, push_secret=SECRET)
    service.subscribe(bf, box.mailbox_id, Filter())
    return box.mailbox_id


def received(engine: Engine, fagsystem_id: str | None = None) -> set[str]:
    with read(engine) as conn:
        return received_besked_ids(conn, fagsystem_id)


def received_rows(engine: Engine) -> int:
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(received_messages)).scalar_one())


def advance(bf: Beskedfordeler, seconds: float) -> None:
    later = bf.clock() + timedelta(seconds=seconds)
    bf.clock = lambda: later


async def test_500_three_times_then_20_is_received_once(
    bf: Beskedfordeler, fagsystem_engine: Engine
) -> None:
    await asyncio.to_thread(push_mailbox, bf)
    transaction, xml = envelope(claim())
    await asyncio.to_thread(service.publish, bf, DEBITORSYSTEM, xml)
    failures = [500, 500, 500]
    app = receiver_app(fagsystem_engine, failures, now=lambda: bf.clock().timestamp())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        outcomes = []
        for _ in range(4):
            outcomes.append(await push.deliver_due(bf, client))
            advance(bf, 3600)
        assert [o.delivered for o in outcomes] == [0, 0, 0, 1]
        assert [o.retried for o in outcomes] == [1, 1, 1, 0]
        await asyncio.to_thread(
            service.publish, bf, DEBITORSYSTEM, xml
        )  # the same message once more
        assert (await push.deliver_due(bf, client)).delivered == 1
    assert await asyncio.to_thread(received, fagsystem_engine) == {str(transaction)}


async def test_never_answering_subscriber_ends_in_error_queue_and_is_redelivered(
    bf: Beskedfordeler, fagsystem_engine: Engine
) -> None:
    bf.retry = RetryPolicy(max_attempts=3)
    box = await asyncio.to_thread(push_mailbox, bf)
    transaction, xml = envelope(claim())
    await asyncio.to_thread(service.publish, bf, DEBITORSYSTEM, xml)
    dead = httpx.AsyncClient(transport=httpx.MockTransport(_no_answer))
    for _ in range(3):
        await push.deliver_due(bf, dead)
        advance(bf, 3600)
    failed = await asyncio.to_thread(service.error_queue, bf)
    assert [(f.mailbox_id, f.besked_id, f.attempts) for f in failed] == [(box, str(transaction), 3)]
    assert (await push.deliver_due(bf, dead)).failed == 0  # nothing left to try
    assert await asyncio.to_thread(redeliver_from_error_queue, bf, failed[0].seq) == 1
    assert await asyncio.to_thread(service.error_queue, bf) == []
    app = receiver_app(fagsystem_engine, [], now=lambda: bf.clock().timestamp())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        assert (await push.deliver_due(bf, client)).delivered == 1
    assert await asyncio.to_thread(received, fagsystem_engine) == {str(transaction)}


def _no_answer(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("no answer", request=request)


async def post(engine: Engine, body: bytes, headers: dict[str, str]) -> httpx.Response:
    app = receiver_app(engine, [])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        return await client.post(PUSH_URL, content=body, headers=headers)


async def test_unsigned_badly_signed_and_stale_pushes_are_refused(fagsystem_engine: Engine) -> None:
    _, xml = envelope(claim())
    body = modtag_besked_input(xml)
    now = int(time.time())
    good = webhooks.signed_headers(SECRET, "id-1", now, body)
    cases = [
        {},
        {**good, "webhook-signature": webhooks.sign(webhooks.make_secret(), "id-1", now, body)},
        webhooks.signed_headers(SECRET, "id-1", now - 301, body),
        {**good, "webhook-id": "id-2"},
    ]
    for headers in cases:
        assert (await post(fagsystem_engine, body, headers)).status_code == 401
    assert await asyncio.to_thread(received, fagsystem_engine) == set()
    answer = await post(fagsystem_engine, body, good)
    assert answer.status_code == 200
    assert read_status_code(answer.content) == 20


async def test_kombit_example_is_answered_20_and_invalid_message_40(
    fagsystem_engine: Engine,
) -> None:
    body = RESTDELIVERY_MESSAGE.read_bytes()
    headers = webhooks.signed_headers(SECRET, "kombit", int(time.time()), body)
    answer = await post(fagsystem_engine, body, headers)
    assert read_status_code(answer.content) == 20
    bad = b"<ModtagBeskedInput/>"
    headers = webhooks.signed_headers(SECRET, "bad", int(time.time()), bad)
    answer = await post(fagsystem_engine, bad, headers)
    assert answer.status_code == 200
    assert read_status_code(answer.content) == 40
    assert await asyncio.to_thread(received, fagsystem_engine) == {
        "248ce14c-a863-4fb5-9e6f-7df9ea850809"
    }


async def test_one_database_keeps_a_message_for_each_fagsystem_it_serves(
    fagsystem_engine: Engine,
) -> None:
    """The embedded default hosts several fagsystems on one database: the same BeskedId pushed
    to two of them is kept for each, and a repeat to either is kept once."""
    app = FastAPI()
    for name in ("a", "b"):
        app.include_router(
            push_receiver_router(fagsystem_engine, SECRET, path=f"/{name}", fagsystem_id=name)
        )
    transaction, xml = envelope(claim())
    body = modtag_besked_input(xml)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fagsystem"
    ) as client:
        for path in ("/a", "/b", "/a"):
            headers = webhooks.signed_headers(SECRET, str(transaction), int(time.time()), body)
            answer = await client.post(path, content=body, headers=headers)
            assert read_status_code(answer.content) == 20
    for fagsystem_id in ("a", "b", None):
        received_by = await asyncio.to_thread(received, fagsystem_engine, fagsystem_id)
        assert received_by == {str(transaction)}
    assert await asyncio.to_thread(received_rows, fagsystem_engine) == 2

"""Push delivery (`BeskedFaaTilsendt`): POST a signed `ModtagBeskedInput` to the subscriber.

A `StatusKode` 20 answer means received: the message leaves the mailbox. A 40 (the receiver
finds it invalid) will not get better by trying again: it goes straight to the error queue.
Anything else (another code, an HTTP error, no answer) is tried again after the retry policy's
backoff, and after its last try the message goes to the error queue, from which an operator
re-delivers it. Each attempt is recorded. A message is leased while it is being pushed, so two
push loops never push the same message at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

import httpx
from starlette.concurrency import run_in_threadpool

from indbetaling.besked import modtag_besked_input, read_standard_retur
from indbetaling.beskedfordeler import store
from indbetaling.beskedfordeler.domain import STATUS_INVALID, STATUS_OK, Mailbox
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.db import write
from indbetaling.webhooks import signed_headers

PUSH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class PushOutcome:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class DuePush:
    """A message leased for one push attempt, with its mailbox and the body to POST."""

    message: store.StoredMessage
    mailbox: Mailbox
    body: bytes


async def push_one(client: httpx.AsyncClient, due: DuePush, now: int) -> tuple[int | None, str]:
    """POST one message; returns (StatusKode or None, a short description of the outcome)."""
    mailbox = due.mailbox
    if mailbox.push_url is None or mailbox.push_secret is None:
        return None, "dueslaget har ingen push-URL"
    headers = signed_headers(mailbox.push_secret, due.message.besked_id, now, due.body)
    headers["content-type"] = "text/xml; charset=utf-8"
    try:
        response = await client.post(mailbox.push_url, content=due.body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"ingen svar: {type(exc).__name__}"
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}, StatusKode None"
    code, text = await run_in_threadpool(read_standard_retur, response.content)
    outcome = f"HTTP {response.status_code}, StatusKode {code}"
    return code, outcome if text is None else f"{outcome}: {text}"


def lease_due(bf: Beskedfordeler, limit: int) -> tuple[list[DuePush], datetime]:
    """The messages due for a push, leased while in flight, and the time they were taken."""
    with write(bf.engine) as conn:
        now = bf.clock()
        due = store.due_push_messages(conn, now, limit)
        boxes = {m.mailbox_id: m for m in store.get_mailboxes(conn, {d.mailbox_id for d in due})}
        for message in due:
            store.release_message(conn, message.mailbox_id, message.seq, now + bf.lease, count=True)
    pushes = [DuePush(m, boxes[m.mailbox_id], modtag_besked_input(m.payload)) for m in due]
    return pushes, now


def record_outcomes(
    bf: Beskedfordeler, due: list[DuePush], results: list[tuple[int | None, str]]
) -> PushOutcome:
    """Record each attempt: ack the received, queue the failed, schedule the rest again."""
    delivered = retried = failed = 0
    with write(bf.engine) as conn:
        now = bf.clock()
        for push, (code, outcome) in zip(due, results, strict=True):
            message = push.message
            attempt = message.deliveries + 1
            store.record_push_attempt(
                conn, message.mailbox_id, message.besked_id, attempt, outcome=outcome, now=now
            )
            if code == STATUS_OK:
                store.ack_message(conn, message.mailbox_id, message.seq)
                delivered += 1
            elif code == STATUS_INVALID or bf.retry.exhausted(attempt):
                store.move_to_error_queue(conn, message, attempt, outcome, now)
                failed += 1
            else:
                store.release_message(
                    conn, message.mailbox_id, message.seq, now + bf.retry.delay_after(attempt)
                )
                retried += 1
    return PushOutcome(delivered, retried, failed)


async def deliver_due(
    bf: Beskedfordeler, client: httpx.AsyncClient, limit: int = 100
) -> PushOutcome:
    """One round of the push loop: every due message is tried once, concurrently. The
    database work runs in the threadpool; only the POSTs are awaited on the loop."""
    due, now = await run_in_threadpool(lease_due, bf, limit)
    if not due:
        return PushOutcome()
    stamp = int(now.timestamp())
    results = await asyncio.gather(*(push_one(client, d, stamp) for d in due))
    return await run_in_threadpool(record_outcomes, bf, due, list(results))


async def run_push_loop(bf: Beskedfordeler, stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
    """Push until `stop` is set; sleeps `idle_seconds` when nothing was due."""
    async with httpx.AsyncClient(timeout=PUSH_TIMEOUT_SECONDS) as client:
        while not stop.is_set():
            outcome = await deliver_due(bf, client)
            if outcome == PushOutcome():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_seconds)

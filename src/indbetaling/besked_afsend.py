"""The publisher's side of `BeskedAfsend`: relay messages from a part's outbox.

A part writes a `Haendelsesbesked` to its outbox (topic `BESKED_TOPIC`, message id =
TransaktionsId) in the same transaction as the change it describes. The relay sends what is
pending, in order, and marks each batch published only after the transport confirmed every
message of it. A crash or a broker outage in between means the batch is sent again: delivery is
at least once, and receivers deduplicate by BeskedId.

The debitorsystem's outbox holds each FordringTilIndbetaling message as canonical JSON
(`BeskedId`, `TransaktionsId`, `ObjektHandling`, `Dannelsestidspunkt`, `Kildesystem`,
`FordringTilIndbetaling`); `envelope_from_outbox` turns it into KOMBIT's `Haendelsesbesked`, and
`sender(publisher)` sends that with `messageId` = TransaktionsId through any publisher (AMQP to
`AFSEND_BESKED_EXCHANGE`, or the Beskedfordeler's database transport on the embedded default).
`run_relay` is the background task that keeps relaying until it is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from sqlalchemy import Engine, Table

from indbetaling import outbox
from indbetaling.besked import InvalidMessage, ObjectAction, build_envelope
from indbetaling.db import read, write
from indbetaling.fordring import view_from_json

log = logging.getLogger(__name__)

BESKED_TOPIC = "beskedfordeler.afsend"

Send = Callable[[outbox.OutboxMessage], Awaitable[None]]


class Publisher(Protocol):
    """Anything that publishes one envelope and returns only once it is safely taken over."""

    async def publish(self, transaction_id: str, envelope_xml: bytes) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    besked_id: str
    transaction_id: str
    xml: bytes


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
    return Outgoing(str(besked_id), str(transaction_id), xml)


def sender(publisher: Publisher) -> Send:
    """A `Send` for the relay: build the envelope and publish it with its TransaktionsId."""

    async def send(message: outbox.OutboxMessage) -> None:
        outgoing = envelope_from_outbox(message)
        await publisher.publish(outgoing.transaction_id, outgoing.xml)

    return send


async def relay_once(engine: Engine, table: Table, send: Send, batch: int = 500) -> int:
    """Send one batch of pending messages concurrently; returns how many were published."""
    with read(engine) as conn:
        pending = outbox.pending(conn, table, limit=batch)
    if not pending:
        return 0
    await asyncio.gather(*(send(message) for message in pending))
    with write(engine) as conn:
        outbox.mark_published(conn, table, [m.seq for m in pending], datetime.now(UTC))
    return len(pending)


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
    send: Send,
    stop: asyncio.Event,
    *,
    idle_seconds: float = 0.5,
    batch: int = 500,
) -> None:
    """The relay as a background task: relay what is pending, then wait, until `stop` is set."""

    def report(exc: Exception) -> None:
        log.warning("relay of the outbox failed, trying again: %s", exc)

    while not stop.is_set():
        await relay_until_empty(engine, table, send, batch=batch, on_error=report, stop=stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), idle_seconds)

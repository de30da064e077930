"""The publisher's side of `BeskedAfsend`: relay messages from a part's outbox.

A part writes a `Haendelsesbesked` to its outbox (topic `BESKED_TOPIC`, message id =
TransaktionsId) in the same transaction as the change it describes. The relay sends what is
pending, in order, and marks each batch published only after the transport confirmed every
message of it. A crash or a broker outage in between means the batch is sent again: delivery is
at least once, and receivers deduplicate by BeskedId.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, Table

from indbetaling import outbox
from indbetaling.db import read, write

BESKED_TOPIC = "beskedfordeler.afsend"

Send = Callable[[outbox.OutboxMessage], Awaitable[None]]


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
) -> int:
    """Relay until nothing is pending; a failed batch is retried after `retry_seconds`."""
    total = 0
    while True:
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

"""The fagsystem's background work: the sender that keeps its payments and reversals going until
each has a business answer (R8), and the relay that delivers its outbox of postings to finance
and pay-backs to NemKonto (R11). Both are async tasks for `PartApp.tasks`; their database work
runs in worker threads.

The sender looks for due work every `sweep_seconds`, or at once when woken (an order arrived
under the `AUTOMATISK` policy). Its first look after a start takes every payment still `AFSENDT`
and every reversal still waiting for an answer, whenever they were due, so after a restart they
are sent again within seconds, each with the TransactionUUID it was written with. A send runs as
a task of its own (`PaymentService.ensure_running`) that stopping the sender does not cancel.

The relay sends each outbox message (its stored bytes, under its own id) until finance or
NemKonto took it (201, or 200 for the same again), backing off per message. With several relay
processes each leases the batch it sends (`outbox.lease_pending`) and holds a failed message
until its next try, so one process at a time sends a message; one that dies lets its batch go
when the lease runs out. A message sent again after all (a send that outlived its lease) is
taken by both receivers as the same booking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from indbetaling import db, outbox
from indbetaling.crash_points import crash_point
from indbetaling.fagsystem import payments_store as store
from indbetaling.fagsystem.finance_client import (
    PAYOUTS_PATH,
    POSTINGS_PATH,
    BookingClient,
    Delivery,
)
from indbetaling.fagsystem.service import PaymentService, Timing, retry_delay

log = logging.getLogger(__name__)

PATH_OF_TOPIC = {store.POSTING_TOPIC: POSTINGS_PATH, store.PAYOUT_TOPIC: PAYOUTS_PATH}


async def _pause(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Until `seconds` have passed, or `stop` or `wake` is set."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        wake.clear()


class PaymentSender:
    """Sends one hosted fagsystem's unanswered payments and reversals."""

    def __init__(self, service: PaymentService, *, sweep_seconds: float = 1.0) -> None:
        if sweep_seconds <= 0:
            raise ValueError("sweep_seconds must be positive")
        self.service = service
        self.sweep_seconds = sweep_seconds

    async def sweep(self, everything: bool = False) -> int:
        """Start a send of due payments and reversals not being sent here already, up to
        `Timing.batch_size` sends at a time; how many are being sent afterwards."""
        room = self.service.timing.batch_size - self.service.running
        if room > 0:
            for work, item_id in (await asyncio.to_thread(self.service.due, everything))[:room]:
                self.service.ensure_running(work, item_id)
        return self.service.running

    async def run(self, stop: asyncio.Event) -> None:
        """The loop for `PartApp.tasks`."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def wake_up() -> None:  # from any thread
            loop.call_soon_threadsafe(wake.set)

        self.service.wake = wake_up
        everything = True
        try:
            while not stop.is_set():
                try:
                    await self.sweep(everything)
                    everything = False
                except Exception:  # a database that is away for a while: look again later
                    log.exception("the payment sender of %s failed", self.service.fagsystem_id)
                await _pause(stop, wake, self.sweep_seconds)
        finally:
            self.service.wake = lambda: None


@dataclass(frozen=True)
class RelayTiming:
    sweep_seconds: float = 1.0
    batch_size: int = 100
    lease_seconds: float = 15.0
    """How long the relay holds a batch it sends before another relay may send it."""
    backoff: Timing = field(
        default_factory=lambda: Timing(backoff_base_seconds=1.0, backoff_cap_seconds=300.0)
    )


class BookingRelay:
    """Delivers the outbox of one fagsystem database: postings and payout requests."""

    def __init__(
        self,
        engine: Engine,
        client: BookingClient,
        *,
        timing: RelayTiming | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.timing = timing or RelayTiming()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._failures: dict[int, tuple[int, datetime]] = {}
        """Per outbox message (seq): failed sends so far and when to send it again."""

    def _pending(self, skip: set[int]) -> list[outbox.OutboxMessage]:
        """The due messages, leased to this relay while it sends them."""
        with db.write(self.engine) as conn:
            now = self.clock()
            return outbox.lease_pending(
                conn,
                store.outbox,
                now=now,
                lease_until=now + timedelta(seconds=self.timing.lease_seconds),
                limit=self.timing.batch_size,
                skip=skip,
            )

    def _retry_at(self, seq: int, when: datetime) -> None:
        """No relay sends the message again before `when` (its backoff, for every process)."""
        with db.write(self.engine) as conn:
            outbox.hold_until(conn, store.outbox, [seq], when)

    def _delivered(self, seq: int) -> None:
        with db.write(self.engine) as conn:
            outbox.mark_published(conn, store.outbox, [seq], self.clock())

    async def deliver_due(self) -> int:
        """Send every pending message that is not backing off; how many arrived."""
        now = self.clock()
        delivered = 0
        waiting = {seq for seq, (_, when) in self._failures.items() if when > now}
        for message in await asyncio.to_thread(self._pending, waiting):
            failed = self._failures.get(message.seq)
            path = PATH_OF_TOPIC.get(message.topic)
            if path is None:  # pragma: no cover - only the two topics are ever written
                log.error("outbox message %s has an unknown topic", message.message_id)
                continue
            outcome = await self.client.deliver(path, message.payload)
            if outcome is Delivery.DELIVERED:
                crash_point(f"fagsystem.{message.topic}.delivered")
                await asyncio.to_thread(self._delivered, message.seq)
                self._failures.pop(message.seq, None)
                delivered += 1
                continue
            attempts = 1 if failed is None else failed[0] + 1
            delay = retry_delay(attempts, self.timing.backoff, self.rng)
            if outcome is Delivery.REFUSED:  # a person must look; do not hammer
                delay = timedelta(seconds=self.timing.backoff.backoff_cap_seconds)
            self._failures[message.seq] = (attempts, now + delay)
            await asyncio.to_thread(self._retry_at, message.seq, now + delay)
        return delivered

    async def run(self, stop: asyncio.Event) -> None:
        """The loop for `PartApp.tasks`."""
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:  # a database that is away for a while: look again later
                log.exception("the booking relay failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.timing.sweep_seconds)

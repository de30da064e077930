"""A hosted fagsystem's payments on a real database (SQLite or PostgreSQL) with a fake
debitorsystem behind its port, and helpers to read what it stored and booked."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, select

from fagsystem.fakes import FakeDebitorsystem
from indbetaling.db import read, write
from indbetaling.fagsystem import payments_store
from indbetaling.fagsystem.domain import ReversalPolicy
from indbetaling.fagsystem.sender import PaymentSender
from indbetaling.fagsystem.service import (
    FagsystemConfig,
    PaymentRequest,
    PaymentService,
    Timing,
)
from indbetaling.fagsystem.store import ReceivedReversalOrder, metadata

T = TypeVar("T")
CVR = "29189846"
OTHER_CVR = "55133018"
PART = "urn:oio:cpr-nr:0101901234"
FAST = Timing(
    answer_wait_seconds=5.0, lease_seconds=30, backoff_base_seconds=0.01, backoff_cap_seconds=0.02
)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def settled(service: PaymentService, timeout: float = 10.0) -> None:
    """Until no send of `service` runs any more."""
    deadline = time.monotonic() + timeout
    while service.running:
        assert time.monotonic() < deadline, "sends still running"
        await asyncio.sleep(0.01)


@dataclass
class PaymentsEnv:
    engine: Engine
    fake: FakeDebitorsystem
    fagsystem_id: uuid.UUID = field(default_factory=uuid.uuid4)
    unit: uuid.UUID = field(default_factory=uuid.uuid4)
    policy: ReversalPolicy = ReversalPolicy.SAGSBEHANDLER

    def service(
        self, policy: ReversalPolicy | None = None, timing: Timing = FAST
    ) -> PaymentService:
        """A service on the env's database: each call is a process started anew."""
        config = FagsystemConfig(
            self.fagsystem_id, {CVR: frozenset({self.unit})}, policy or self.policy
        )
        return PaymentService(self.engine, config, self.fake, timing=timing)

    def request(self, claim_id: uuid.UUID, amount: int, **changes: Any) -> PaymentRequest:
        fields: dict[str, Any] = {
            "claim_id": claim_id,
            "amount": amount,
            "payer_part_id": PART,
            "org_unit_id": self.unit,
        }
        fields.update(changes)
        return PaymentRequest(**fields)

    def order(
        self, payment_id: uuid.UUID, *, overcoverage: int = 100, order_id: uuid.UUID | None = None
    ) -> ReceivedReversalOrder:
        """A reversal order for `payment_id`, as the receiver reads it from the wire."""
        with read(self.engine) as conn:
            p = payments_store.find_payment(conn, self.fagsystem_id, payment_id)
        assert p is not None
        return ReceivedReversalOrder(
            order_id=order_id or self.fake.order(payment_id),
            fagsystem_id=self.fagsystem_id,
            payment_id=payment_id,
            claim_id=p.claim_id,
            authority_cvr=p.authority_cvr,
            amount=p.amount,
            overcoverage=overcoverage,
            reason="NEDREGULERING",
            text="Takst nedsat",
            created_at=datetime.now(UTC),
            sender_id=uuid.uuid4(),
            transaction_uuid=uuid.uuid4(),
        )

    def receive(self, service: PaymentService, order: ReceivedReversalOrder) -> bool:
        """What the receiver does with a new order (its transaction, then `taken`)."""
        with write(self.engine) as conn:
            taken = service.take(conn, order, datetime.now(UTC))
        if taken:
            service.taken(order)
        return taken

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        """(topic, body) of every posting and payout request, in the order they were made."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(payments_store.outbox.c.topic, payments_store.outbox.c.payload).order_by(
                    payments_store.outbox.c.seq
                )
            ).all()
        return [(r.topic, json.loads(r.payload)) for r in rows]

    def postings(self) -> list[dict[str, Any]]:
        return [body for topic, body in self.outbox() if topic == payments_store.POSTING_TOPIC]

    def count(self, table: str) -> int:
        with read(self.engine) as conn:
            return len(conn.execute(select(metadata.tables[table])).all())


async def sweep_until(sender: PaymentSender, done: Callable[[], bool], timeout: float = 10) -> None:
    """Let `sender` sweep (as its loop would) until `done()` (checked in a thread)."""
    deadline = time.monotonic() + timeout
    everything = True
    while not await asyncio.to_thread(done):
        assert time.monotonic() < deadline, "the sender did not get there"
        await sender.sweep(everything)
        everything = False
        await asyncio.sleep(0.02)
    await settled(sender.service)


@pytest.fixture
def env(part_engine: Callable[[str, str], Engine], backend: str) -> PaymentsEnv:
    return PaymentsEnv(part_engine("fagsystem", backend), FakeDebitorsystem())

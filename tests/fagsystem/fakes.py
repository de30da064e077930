"""A small in-memory debitorsystem behind the fagsystem's port `DebitorIndbetaling`.

It keeps a Restance per claim and the coverages payments made, answers a repeat of a
TransactionUUID with the stored answer (as the real one does, CONTRACT §5), and can lose
answers: the call takes effect and its answer is stored, but the caller gets `NoBusinessAnswer`
(a timeout after the debitorsystem did the work). It counts every call per TransactionUUID, so a
test can show that a resend carried the same one.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

from indbetaling.fagsystem.client import (
    BusinessAnswer,
    NoBusinessAnswer,
    PaymentCall,
    ReversalCall,
    ReversalReason,
    SearchQuery,
)
from indbetaling.fordring import ClaimView


@dataclass
class Coverage:
    id: UUID
    claim_id: UUID
    amount: int
    reversed: bool = False


@dataclass
class FakeDebitorsystem:
    restance: dict[UUID, int] = field(default_factory=dict)
    coverages: dict[UUID, Coverage] = field(default_factory=dict)
    """Per IndbetalingId."""
    answers: dict[UUID, BusinessAnswer] = field(default_factory=dict)
    """Per TransactionUUID."""
    calls: Counter[UUID] = field(default_factory=Counter)
    """Calls per TransactionUUID."""
    orders: dict[UUID, UUID] = field(default_factory=dict)
    """Reversal orders it made: order id → IndbetalingId."""
    lose: int = 0
    """How many of the next answers to lose (the work is done, the answer not delivered)."""
    fail: int = 0
    """How many of the next calls fail before they reach it (nothing done)."""
    delay: float = 0.0
    """Seconds each call takes."""
    hold: threading.Event | None = None
    """When given, calls arrive only once it is set (from any thread)."""

    def claim(self, restance: int) -> UUID:
        claim_id = uuid.uuid4()
        self.restance[claim_id] = restance
        return claim_id

    def write_down(self, claim_id: UUID, amount: int) -> None:
        self.restance[claim_id] -= amount

    def order(self, payment_id: UUID) -> UUID:
        order_id = uuid.uuid4()
        self.orders[order_id] = payment_id
        return order_id

    def live_coverages(self, claim_id: UUID | None = None) -> list[Coverage]:
        return [
            c
            for c in self.coverages.values()
            if not c.reversed and (claim_id is None or c.claim_id == claim_id)
        ]

    async def search(self, cvr: str, query: SearchQuery) -> list[ClaimView]:
        raise NotImplementedError

    async def _answer(self, transaction_uuid: UUID, work: BusinessAnswer) -> BusinessAnswer:
        self.answers[transaction_uuid] = work
        if self.lose > 0:
            self.lose -= 1
            raise NoBusinessAnswer("timeout (the answer was lost)")
        return work

    async def _arrive(self, transaction_uuid: UUID) -> BusinessAnswer | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        while self.hold is not None and not self.hold.is_set():
            await asyncio.sleep(0.01)
        if self.fail > 0:
            self.fail -= 1
            raise NoBusinessAnswer("connection refused")
        self.calls[transaction_uuid] += 1
        return self.answers.get(transaction_uuid)

    async def pay(self, cvr: str, transaction_uuid: UUID, call: PaymentCall) -> BusinessAnswer:
        stored = await self._arrive(transaction_uuid)
        if stored is not None:
            return await self._answer(transaction_uuid, stored)
        earlier = self.coverages.get(call.payment_id)
        if earlier is not None:
            answer = BusinessAnswer(
                True, restance=self.restance[call.claim_id], coverage_id=earlier.id
            )
            return await self._answer(transaction_uuid, answer)
        restance = self.restance.get(call.claim_id)
        if restance is None:
            answer = BusinessAnswer(False, "FORDRING_UKENDT", "Fordringen findes ikke")
        elif call.amount > restance:
            answer = BusinessAnswer(
                False,
                "BELOEB_OVERSTIGER_RESTANCE",
                "Beløbet er større end restancen",
                restance=max(0, restance),
            )
        else:
            coverage = Coverage(uuid.uuid4(), call.claim_id, call.amount)
            self.coverages[call.payment_id] = coverage
            self.restance[call.claim_id] = restance - call.amount
            answer = BusinessAnswer(
                True, restance=self.restance[call.claim_id], coverage_id=coverage.id
            )
        return await self._answer(transaction_uuid, answer)

    async def reverse(self, cvr: str, transaction_uuid: UUID, call: ReversalCall) -> BusinessAnswer:
        stored = await self._arrive(transaction_uuid)
        if stored is not None:
            return await self._answer(transaction_uuid, stored)
        coverage = self.coverages.get(call.payment_id)
        if coverage is None:
            answer = BusinessAnswer(False, "INDBETALING_UKENDT", "Indbetalingen findes ikke")
            return await self._answer(transaction_uuid, answer)
        if call.reason is ReversalReason.TILBAGEFOERSELSORDRE and (
            call.order_id is None or self.orders.get(call.order_id) != call.payment_id
        ):
            answer = BusinessAnswer(
                False, "TILBAGEFOERSELSORDRE_UKENDT", "Tilbageførselsordren findes ikke"
            )
            return await self._answer(transaction_uuid, answer)
        if not coverage.reversed:
            coverage.reversed = True
            self.restance[coverage.claim_id] += coverage.amount
        answer = BusinessAnswer(True, restance=max(0, self.restance[coverage.claim_id]))
        return await self._answer(transaction_uuid, answer)

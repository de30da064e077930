"""The fagsystem's side of DebitorIndbetalingAfsend: what it asks a debitorsystem, through the
gateway, and what it gets back.

`DebitorIndbetaling` is the typed port the fagsystem's service and sender use; the gateway
client below it speaks SOAP through the Serviceplatform with tokens from its STS. Amounts are
øre. A call either returns a business answer (`BusinessAnswer`: the debitorsystem's
Forretningskvittering, accepted or refused) or raises `NoBusinessAnswer` (timeout, lost
connection, 5xx, server fault): then nothing is known, and the caller retries later with the
same TransactionUUID (R8), which the debitorsystem answers idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from indbetaling.fordring import ClaimView


class NoBusinessAnswer(Exception):
    """The call got no business answer; retry it later with the same TransactionUUID."""


class ReversalReason(StrEnum):
    """`AarsagKode` of ForetagIndbetalingNedregulering."""

    FEJLREGISTRERING = "FEJLREGISTRERING"
    TILBAGEFOERSELSORDRE = "TILBAGEFOERSELSORDRE"
    ANDET = "ANDET"


@dataclass(frozen=True)
class SearchQuery:
    """SoegFordringTilIndbetaling: at least one of the three ids."""

    part_id: str | None = None
    account_id: UUID | None = None
    claim_id: UUID | None = None


@dataclass(frozen=True)
class PaymentCall:
    """ForetagIndbetaling's `Indbetaling`."""

    payment_id: UUID
    claim_id: UUID
    amount: int
    payment_date: date
    payer_part_id: str
    org_unit_id: UUID
    text: str | None = None


@dataclass(frozen=True)
class ReversalCall:
    """ForetagIndbetalingNedregulering's request."""

    payment_id: UUID
    reason: ReversalReason
    order_id: UUID | None = None
    text: str | None = None


@dataclass(frozen=True)
class BusinessAnswer:
    """A Forretningskvittering: `ACCEPTERET`, or `AFVIST` with its FejlKode and FejlTekst."""

    accepted: bool
    error_code: str | None = None
    error_text: str | None = None
    restance: int | None = None
    """After an accepted payment or reversal; the current one with BELOEB_OVERSTIGER_RESTANCE."""
    coverage_id: UUID | None = None
    """DaekningId of an accepted payment."""


class DebitorIndbetaling(Protocol):
    """DebitorIndbetalingAfsend as the fagsystem uses it, for one authority per call."""

    async def search(self, cvr: str, query: SearchQuery) -> list[ClaimView]:
        """Every payable claim that matches, following FortsaettelsesNoegle to the end."""
        ...

    async def pay(self, cvr: str, transaction_uuid: UUID, call: PaymentCall) -> BusinessAnswer: ...

    async def reverse(
        self, cvr: str, transaction_uuid: UUID, call: ReversalCall
    ) -> BusinessAnswer: ...

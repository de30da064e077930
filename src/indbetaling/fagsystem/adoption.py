"""Taking over payments the debitorsystem holds for a fagsystem that does not know them yet (the
demo's dataset on first start; an extraction of a fagsystem's payments, R12): each becomes the
payment it would be had this fagsystem made it, with its history, its reversal, its pay-back and
one posting per event (CONTRACT §7), so that a reconciliation (§9) finds them agreed.

Pure: what the debitorsystem says of a payment (`KnownPayment`) in, what to store (`Adoption`)
out. Its derived ids (TransactionUUIDs, the reversal's, the pay-back's) come from the
IndbetalingId, so taking over the same payment twice makes the same rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from indbetaling.fagsystem import domain
from indbetaling.fagsystem.domain import (
    Answer,
    Chart,
    Event,
    Execution,
    Payback,
    Payment,
    Posting,
    Reason,
    Reversal,
    ReversalSource,
    Split,
)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
_NAMESPACE = uuid.UUID("6b1f3e2a-0c59-5d0e-9a41-15900b03ad0b")
TAKEN_OVER = "Overtaget fra debitorsystemets oplysninger"

_SOURCE_OF_REASON = {
    Reason.TILBAGEFOERSELSORDRE: ReversalSource.ORDRE,
    Reason.FEJLREGISTRERING: ReversalSource.SAGSBEHANDLER,
    Reason.ANDET: ReversalSource.MANUEL_ADVIS,
}
"""The reversal a fagsystem makes for each `AarsagKode` (the inverse of `Reversal.reason`)."""


@dataclass(frozen=True)
class KnownReversal:
    """How the debitorsystem reversed a payment's coverage."""

    reason: Reason
    order_id: UUID | None
    at: datetime


@dataclass(frozen=True)
class KnownPayment:
    """A payment of this fagsystem as the debitorsystem holds it: its coverage."""

    payment_id: UUID
    authority_cvr: str
    claim_id: UUID
    amount: int
    payment_date: date
    payer_part_id: str
    org_unit_id: UUID
    text: str | None
    coverage_id: UUID
    restance_after: int
    registered_at: datetime
    reversal: KnownReversal | None = None


@dataclass(frozen=True)
class Adoption:
    sent: Payment
    """The payment as it was written before its call (`AFSENDT`)."""
    payment: Payment
    """… and as it is now (`ACCEPTERET` or `TILBAGEFOERT`)."""
    events: tuple[Event, ...]
    postings: tuple[Posting, ...]
    reversal: Reversal | None = None
    payback: Payback | None = None


def derived_id(what: str, payment_id: UUID) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"{what}:{payment_id}")


def adopt(known: KnownPayment, fagsystem_id: UUID, chart: Chart) -> Adoption:
    """The payment `known` as this fagsystem's own. A reversed one was reversed by a reversal
    of the matching source, its whole amount paid back (the debitorsystem holds no payment made
    again for it): reversal posting, pay-back and pay-back posting."""
    sent = Payment(
        id=known.payment_id,
        fagsystem_id=fagsystem_id,
        authority_cvr=known.authority_cvr,
        claim_id=known.claim_id,
        amount=known.amount,
        payer_part_id=known.payer_part_id,
        org_unit_id=known.org_unit_id,
        text=known.text,
        payment_date=known.payment_date,
        transaction_uuid=derived_id("transaktion", known.payment_id),
        created_at=known.registered_at,
    )
    answer = Answer(accepted=True, restance=known.restance_after, coverage_id=known.coverage_id)
    accepted = domain.answer_payment(
        sent, answer, chart=chart, now=known.registered_at, today=known.payment_date
    )
    events = [*domain.new_payment(sent).events, *accepted.events]
    if known.reversal is None:
        return Adoption(sent, accepted.payment, tuple(events), accepted.postings)
    how = known.reversal
    reversal = Reversal(
        id=derived_id("tilbagefoersel", known.payment_id),
        fagsystem_id=fagsystem_id,
        authority_cvr=known.authority_cvr,
        payment_id=known.payment_id,
        source=_SOURCE_OF_REASON[how.reason],
        amount=known.amount,
        created_at=how.at,
        order_id=how.order_id if how.reason is Reason.TILBAGEFOERSELSORDRE else None,
        text=TAKEN_OVER,
    )
    execution = Execution(
        split=Split(repay=0, payback=known.amount),
        automatic=False,
        reverse_transaction_uuid=derived_id("tilbagefoersel-transaktion", known.payment_id),
        repay_payment_id=derived_id("genindbetaling", known.payment_id),
        repay_transaction_uuid=derived_id("genindbetaling-transaktion", known.payment_id),
        payback_id=derived_id("tilbagebetaling", known.payment_id),
    )
    events += domain.new_reversal(reversal, accepted.payment).events
    executed, executing = domain.execute(reversal, accepted.payment, execution, how.at)
    outcome = domain.answer_reversal(
        executed,
        accepted.payment,
        Answer(accepted=True),
        chart=chart,
        now=how.at,
        today=how.at.astimezone(COPENHAGEN).date(),
    )
    return Adoption(
        sent,
        outcome.payment,
        (*events, *executing, *outcome.events),
        (*accepted.postings, *outcome.postings),
        outcome.reversal,
        outcome.payback,
    )

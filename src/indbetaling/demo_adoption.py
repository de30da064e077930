"""The demo starts reconciled (CONTRACT §8): the payments in the debitorsystem's demo dataset are
taken over by the fagsystems that own them, with their reversals, pay-backs and postings
(`fagsystem.adoption`), so that a fresh system's reconciliation agrees.

The composition root reads the debitorsystem's coverages through its service (the listing the
reconciliation reads over the API) and hands each fagsystem its own. A fagsystem takes them over
in one transaction, and only while it has no payments: a start that dies halfway takes them over
on the next start, and a fagsystem in use is never touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from uuid import UUID

from indbetaling.debitorsystem.domain import Coverage
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.fagsystem.adoption import KnownPayment, KnownReversal
from indbetaling.fagsystem.domain import Reason
from indbetaling.fagsystem.service import PaymentService

PAGE = 1000


def adopt_demo_payments(
    debitor: DebitorService,
    fagsystems: Mapping[UUID, PaymentService],
    authorities: Sequence[str],
) -> int:
    """Let every fagsystem without payments take over the demo payments it owns; how many."""
    waiting = {i: s for i, s in fagsystems.items() if not s.has_payments()}
    if not waiting:
        return 0
    owned: dict[UUID, list[KnownPayment]] = defaultdict(list)
    for cvr in authorities:
        for coverage in _coverages(debitor, cvr):
            if coverage.owner_id in waiting and coverage.payment is not None:
                owned[coverage.owner_id].append(known_payment(cvr, coverage))
    return sum(service.adopt(owned[i]) for i, service in waiting.items())


def _coverages(debitor: DebitorService, cvr: str) -> Iterator[Coverage]:
    key: str | None = None
    while True:
        page, key = debitor.coverages_page(cvr, key, PAGE)
        yield from page
        if key is None:
            return


def known_payment(cvr: str, coverage: Coverage) -> KnownPayment:
    """A fagsystem's payment as the debitorsystem's coverage of it tells."""
    payment = coverage.payment
    if payment is None or coverage.registered_at is None:
        raise ValueError(f"coverage {coverage.id} is no payment read from the store")
    reversal = coverage.reversal
    return KnownPayment(
        payment_id=payment.payment_id,
        authority_cvr=cvr,
        claim_id=coverage.claim_id,
        amount=coverage.amount,
        payment_date=payment.payment_date,
        payer_part_id=payment.payer_part_id,
        org_unit_id=payment.org_unit_id,
        text=payment.text,
        coverage_id=coverage.id,
        restance_after=coverage.restance_after,
        registered_at=coverage.registered_at,
        reversal=None
        if reversal is None
        else KnownReversal(Reason(reversal.reason), reversal.order_id, reversal.at),
    )

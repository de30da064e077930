"""Collections staff's manual handling, pure: closing a reversal order that waits for manual
handling, and reversing another coverage (ANDEN) that over-covers a claim.

No fagsystem owns another coverage (a bank payment registered by staff), so no reversal order is
ever made for it (R6 orders only fagsystem payments). Over-coverage that open orders do not answer
(`domain.unanswered_overcoverage`) stays until staff resolve it: they pay the other coverage back
outside the debitorsystem and reverse it here, in full, once. That is allowed while the claim has
unanswered over-coverage, and either the coverage is no larger than it or no reversal order of
the claim is open (else reversing it would take over-coverage the open orders are answering, and
the owners would reverse payments that are then owed). A coverage larger than the unanswered
over-coverage makes the claim owed again by the difference, as it was before that coverage came.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from indbetaling.debitorsystem.domain import (
    ClaimLedger,
    Coverage,
    CoverageSource,
    FejlKode,
    OrderState,
    Rejected,
    ReversalOrder,
    unanswered_overcoverage,
)


def close_order(order: ReversalOrder, *, by: str, reason: str, now: datetime) -> ReversalOrder:
    """MANUEL → LUKKET, with who closed it and why; any other state is refused."""
    if order.state is not OrderState.MANUEL:
        raise Rejected(
            FejlKode.TILBAGEFOERSELSORDRE_IKKE_MANUEL,
            f"Kun en ordre til manuel behandling kan lukkes (tilstand {order.state.value})",
        )
    return replace(
        order, state=OrderState.LUKKET, closed_by=by, closed_reason=reason, closed_at=now
    )


def reverse_other_coverage(ledger: ClaimLedger, coverage_id: UUID) -> tuple[ClaimLedger, Coverage]:
    """Reverse the other coverage `coverage_id` in full, to resolve unanswered over-coverage."""
    coverage = next((c for c in ledger.coverages if c.id == coverage_id), None)
    if coverage is None:
        raise Rejected(FejlKode.DAEKNING_UKENDT, "Dækningen findes ikke på fordringen")
    if coverage.source is not CoverageSource.OTHER:
        raise Rejected(
            FejlKode.DAEKNING_ER_INDBETALING,
            "Dækningen er et fagsystems indbetaling; den tilbageføres af fagsystemet",
        )
    if coverage.reversed:
        raise Rejected(FejlKode.DAEKNING_TILBAGEFOERT, "Dækningen er allerede tilbageført")
    unanswered = unanswered_overcoverage(ledger)
    if unanswered == 0:
        raise Rejected(
            FejlKode.INGEN_UBESVARET_OVERDAEKNING,
            "Fordringen har ingen overdækning, som tilbageførselsordrer ikke dækker",
        )
    if coverage.amount > unanswered and any(o.is_open for o in ledger.orders):
        raise Rejected(
            FejlKode.INGEN_UBESVARET_OVERDAEKNING,
            "Dækningen er større end den overdækning, som åbne tilbageførselsordrer ikke dækker",
        )
    reversed_coverage = replace(coverage, reversed=True)
    coverages = tuple(reversed_coverage if c.id == coverage_id else c for c in ledger.coverages)
    return replace(ledger, coverages=coverages), reversed_coverage

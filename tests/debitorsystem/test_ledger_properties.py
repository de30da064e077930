"""Property tests of the ledger rules over random sequences of payments, reversals,
write-downs, annulments and other coverages (pure domain, then the same through the service)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from indbetaling.debitorsystem import domain
from indbetaling.debitorsystem.domain import (
    ClaimLedger,
    CoverageSource,
    Rejected,
    ReversalReason,
)
from indbetaling.fordring import LiableParty

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
OWNERS = [uuid.UUID(int=1), uuid.UUID(int=2)]
PART = "urn:oio:cpr-nr:0101801234"

amounts = st.integers(min_value=1, max_value=60_000)


def check_invariants(ledger: ClaimLedger) -> None:
    active = [c for c in ledger.coverages if not c.reversed]
    # Restance is derived from the facts and nothing else.
    assert ledger.restance == (
        ledger.claim.principal
        - sum(w.amount for w in ledger.write_downs)
        - sum(c.amount for c in active)
    )
    # The wire never shows a negative Restance: an over-covered claim shows 0 (CONTRACT §6).
    assert ledger.view().restance == max(0, ledger.restance)
    assert not (ledger.overcoverage and ledger.is_payable(TODAY))
    # No payment is counted twice.
    assert len({c.id for c in ledger.coverages}) == len(ledger.coverages)
    payments = [(c.owner_id, c.payment.payment_id) for c in ledger.coverages if c.payment]
    assert len(set(payments)) == len(payments)
    # Write-downs never exceed the principal.
    assert 0 <= ledger.owed <= ledger.claim.principal
    # Over-coverage is answered by open orders whose payments together cover it, unless every
    # fagsystem payment is already ordered back (the rest stems from other coverages).
    if ledger.overcoverage > 0:
        ordered = [c for c in active if ledger.open_order_for(c.id)]
        unordered_payments = [
            c for c in active if c.source is CoverageSource.PAYMENT and c not in ordered
        ]
        assert sum(c.amount for c in ordered) >= ledger.overcoverage or not unordered_payments
    # At most one open order per coverage, and only for coverages that are not reversed.
    open_orders = [o for o in ledger.orders if o.is_open]
    assert len({o.coverage_id for o in open_orders}) == len(open_orders)
    reversed_ids = {c.id for c in ledger.coverages if c.reversed}
    assert not any(o.coverage_id in reversed_ids for o in open_orders)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        claim = domain.Claim(
            id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            authority_cvr="29189846",
            account_type_code="KONTO",
            claim_type_code="KRAV",
            principal=100_000,
            due_date=TODAY,
            last_timely_payment_date=TODAY,
            payment_period_from=None,
            payment_period_to=None,
            liable_parties=(LiableParty(PART, "PRIMAER"),),
        )
        self.ledger = ClaimLedger(claim)
        self.made_negative_by_payment = False

    @rule(amount=amounts, owner=st.sampled_from(OWNERS))
    def pay(self, amount: int, owner: UUID) -> None:
        before = self.ledger
        payment = domain.Payment(
            uuid.uuid4(), before.claim.id, amount, TODAY, PART, uuid.uuid4(), None
        )
        try:
            self.ledger, coverage = domain.pay(
                before,
                payment,
                owner_id=owner,
                today=TODAY,
                coverage_id=uuid.uuid4(),
            )
        except Rejected as r:
            assert self.ledger == before
            if r.code is domain.FejlKode.BELOEB_OVERSTIGER_RESTANCE:
                assert amount > before.restance and r.restance == before.restance
            else:
                assert r.code is domain.FejlKode.FORDRING_IKKE_BETALBAR
                assert not before.is_payable(TODAY)
            return
        assert 0 < amount <= before.restance
        assert self.ledger.restance == before.restance - amount >= 0
        assert coverage.restance_after == self.ledger.restance

    @rule(amount=amounts)
    def other_coverage(self, amount: int) -> None:
        before = self.ledger
        try:
            self.ledger, _ = domain.register_other_coverage(
                before, amount, coverage_id=uuid.uuid4()
            )
        except Rejected:
            assert self.ledger == before
            assert amount > before.restance or before.claim.annulled
            return
        assert self.ledger.restance >= 0

    @precondition(lambda self: any(c.payment for c in self.ledger.coverages))
    @rule(data=st.data(), by_order=st.booleans())
    def reverse(self, data: st.DataObject, by_order: bool) -> None:
        coverage = data.draw(st.sampled_from([c for c in self.ledger.coverages if c.payment]))
        before = self.ledger
        order = before.open_order_for(coverage.id)
        use_order = by_order and order is not None
        self.ledger, reversal = domain.reverse(
            before,
            coverage,
            reason=ReversalReason.TILBAGEFOERSELSORDRE if use_order else ReversalReason.ANDET,
            order_id=order.id if use_order and order else None,
        )
        if coverage.reversed:
            assert reversal.already_reversed and self.ledger == before
        else:
            assert self.ledger.restance == before.restance + coverage.amount
            assert self.ledger.open_order_for(coverage.id) is None

    @rule(amount=amounts)
    def write_down(self, amount: int) -> None:
        before = self.ledger
        try:
            self.ledger, _, orders = domain.write_down(
                before, amount, write_down_id=uuid.uuid4(), text=None, now=NOW, new_id=uuid.uuid4
            )
        except Rejected:
            assert self.ledger == before
            assert before.claim.annulled or amount > before.owed
            return
        assert self.ledger.owed == before.owed - amount
        # Newest payments first: every ordered payment is newer than any unordered one.
        ordered_seqs = [
            c.seq for c in self.ledger.coverages if any(o.coverage_id == c.id for o in orders)
        ]
        unordered = [
            c.seq
            for c in self.ledger.coverages
            if c.source is CoverageSource.PAYMENT
            and not c.reversed
            and self.ledger.open_order_for(c.id) is None
        ]
        if ordered_seqs and unordered:
            assert min(ordered_seqs) > max(unordered)

    @rule()
    def annul(self) -> None:
        before = self.ledger
        try:
            self.ledger, _, _ = domain.annul(
                before, write_down_id=uuid.uuid4(), text=None, now=NOW, new_id=uuid.uuid4
            )
        except Rejected:
            assert before.claim.annulled and self.ledger == before
            return
        assert self.ledger.owed == 0
        assert self.ledger.status.value == "ANNULLERET"
        assert not self.ledger.is_payable(TODAY)

    @invariant()
    def holds(self) -> None:
        check_invariants(self.ledger)


LedgerMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedger = LedgerMachine.TestCase

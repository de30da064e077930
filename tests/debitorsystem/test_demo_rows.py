"""The demo generator keeps its own sums for speed; these tests hold its rows equal to what the
domain's use cases (`pay`, `register_other_coverage`, `write_down`, `annul`, `reverse`) make of
the same events, replayed in time order: every coverage's running Restance, every reversal
order, every claim's status, the sample claims' payability."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from itertools import chain
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from indbetaling.debitorsystem import demo, domain, store
from indbetaling.debitorsystem.domain import (
    ClaimLedger,
    CoverageSource,
    ReversalReason,
    WriteDownKind,
)
from indbetaling.fordring import LiableParty

TODAY = date(2026, 11, 26)
Row = tuple[Any, ...]


def named(table: Any, rows: list[Row]) -> list[dict[str, Any]]:
    cols = demo.COLUMNS[table] if table is not store.claims else (*demo.COLUMNS[table], "p", "j")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def replay(rows: dict[Any, list[Row]], samples: list[demo.SampleClaim]) -> Counter[str]:
    """Replay every drawn claim through the domain, checking each row it wrote; the statuses."""
    types = {a["id"]: a["type_code"] for a in named(store.accounts, rows[store.accounts])}
    by_claim: dict[UUID, list[tuple[Any, int, str, dict[str, Any]]]] = defaultdict(list)
    for rank, table in enumerate((store.coverages, store.write_downs)):
        for r in named(table, rows[table]):
            by_claim[r["claim_id"]].append((r["created_at"], rank, table.name, r))
    coverage_claim = {r[0]: r[1] for r in rows[store.coverages]}
    for r in named(store.reversals, rows[store.reversals]):
        by_claim[coverage_claim[r["coverage_id"]]].append((r["created_at"], 2, "reversals", r))
    orders: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for o in named(store.reversal_orders, rows[store.reversal_orders]):
        orders[o["claim_id"]].append(o)
    sample_of = {s.claim_id: s for s in samples}
    statuses: Counter[str] = Counter()
    for c in named(store.claims, rows[store.claims]):
        parties = (LiableParty(c["p"], "PRIMAER"),)
        if c["j"] is not None:
            parties += (LiableParty(c["j"], "SOLIDARISK"),)
        ledger = ClaimLedger(
            domain.Claim(
                id=c["id"],
                account_id=c["account_id"],
                authority_cvr=c["authority_cvr"],
                account_type_code=types.get(c["account_id"], "KONTO"),  # opened before `first`
                claim_type_code=c["claim_type_code"],
                principal=c["principal_ore"],
                due_date=c["due_date"],
                last_timely_payment_date=c["last_timely_payment_date"],
                payment_period_from=c["payment_period_from"],
                payment_period_to=c["payment_period_to"],
                liable_parties=parties,
            )
        )
        for _, _, kind, event in sorted(by_claim[c["id"]], key=lambda e: (e[0], e[1])):
            ledger = apply(ledger, kind, event, orders[c["id"]])
        assert ledger.claim.annulled == (c["annulled_at"] is not None)
        assert [o.id for o in ledger.orders] == [o["id"] for o in orders[c["id"]]]
        assert all(
            o.state.value == o_row["state"]
            for o, o_row in zip(ledger.orders, orders[c["id"]], strict=True)
        )
        statuses[ledger.status.value] += 1
        if c["id"] in sample_of:
            assert ledger.is_payable(TODAY)
            assert ledger.restance == sample_of[c["id"]].restance
    return statuses


def apply(
    ledger: ClaimLedger, kind: str, event: dict[str, Any], orders: list[dict[str, Any]]
) -> ClaimLedger:
    if kind == "coverages":
        if event["source"] == CoverageSource.PAYMENT.value:
            payment = domain.Payment(
                payment_id=event["payment_id"],
                claim_id=event["claim_id"],
                amount=event["amount_ore"],
                payment_date=event["payment_date"],
                payer_part_id=event["payer_part_id"],
                org_unit_id=event["org_unit_id"],
                text=event["text"],
            )
            ledger, coverage = domain.pay(
                ledger,
                payment,
                owner_id=event["owner_id"],
                today=event["payment_date"],
                coverage_id=event["id"],
            )
        else:
            ledger, coverage = domain.register_other_coverage(
                ledger, event["amount_ore"], coverage_id=event["id"]
            )
        assert coverage.restance_after == event["restance_after_ore"]
        return ledger
    if kind == "reversals":
        (coverage,) = [c for c in ledger.coverages if c.id == event["coverage_id"]]
        ledger, reversal = domain.reverse(
            ledger, coverage, reason=ReversalReason(event["reason"]), order_id=event["order_id"]
        )
        assert not reversal.already_reversed
        expected = [] if event["order_id"] is None else [event["order_id"]]
        assert [o.id for o in reversal.executed_orders] == expected
        return ledger
    made = [o for o in orders if o["created_at"] == event["created_at"]]
    ids = iter(o["id"] for o in made)
    now, text = event["created_at"], event["text"]
    if event["kind"] == WriteDownKind.ANNULLERING.value:
        ledger, wd, new_orders = domain.annul(
            ledger, write_down_id=event["id"], text=text, now=now, new_id=lambda: next(ids)
        )
        assert wd is not None
    else:
        ledger, wd, new_orders = domain.write_down(
            ledger,
            event["amount_ore"],
            write_down_id=event["id"],
            text=text,
            now=now,
            new_id=lambda: next(ids),
        )
    assert (wd.amount, wd.kind.value) == (event["amount_ore"], event["kind"])
    assert [
        (o.id, o.coverage_id, o.payment_id, o.owner_id, o.amount, o.overcoverage, o.reason.value)
        for o in new_orders
    ] == [
        (
            o["id"],
            o["coverage_id"],
            o["payment_id"],
            o["owner_id"],
            o["amount_ore"],
            o["overcoverage_ore"],
            o["reason"],
        )
        for o in made
    ]
    return ledger


@given(seed=st.integers(0, 2**32), first=st.sampled_from([0, 250, demo.STREAM]))
@settings(max_examples=12, deadline=None, database=None)
def test_drawn_rows_are_what_the_domain_makes_of_the_same_events(seed: int, first: int) -> None:
    plan = demo.make_plan(seed, demo.STREAM + 400, today=TODAY)
    gen = demo._Generator(plan, demo._Encoder(False, TODAY))
    rows = gen.batch(first, first + 400)
    statuses = replay(rows, gen.samples)
    assert statuses == Counter(gen.by_status)
    assert sum(statuses.values()) == 400
    assert set(chain(statuses)) <= {"AKTIV", "AFSLUTTET", "ANNULLERET"}

"""The payable rule lives twice: `ClaimLedger.is_payable`/`restance` (domain) and the SQL that
search runs (`store.payable_on`, `store.restance_column`). For random ledgers, on SQLite and
PostgreSQL, search finds exactly the claims the domain calls payable, and the SQL Restance is
the domain's."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from indbetaling.db import read, write
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.domain import (
    Claim,
    Coverage,
    CoverageSource,
    Payment,
    ReversalReason,
    WriteDown,
    WriteDownKind,
)
from indbetaling.debitorsystem.service import DebitorService, SearchRequest
from indbetaling.fordring import LiableParty

from .conftest import CVR, PART

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 9, tzinfo=UTC)
NOON = datetime.combine(TODAY, time(12), tzinfo=ZoneInfo("Europe/Copenhagen"))
OWNER = uuid.UUID(int=7)


@dataclass(frozen=True)
class DrawnCoverage:
    amount: int
    by_payment: bool
    reversed: bool


@dataclass(frozen=True)
class DrawnClaim:
    principal: int
    coverages: tuple[DrawnCoverage, ...]
    write_downs: tuple[int, ...]
    annulled: bool
    period_from: int | None
    """Days from today; None is an open start."""
    period_to: int | None
    last_timely: int
    settled: bool
    """A last coverage of exactly what is left, so that Restance is 0."""

    @property
    def all_coverages(self) -> tuple[DrawnCoverage, ...]:
        active = sum(c.amount for c in self.coverages if not c.reversed)
        left = self.principal - sum(self.write_downs) - active
        if self.settled and left > 0:
            return (*self.coverages, DrawnCoverage(left, by_payment=False, reversed=False))
        return self.coverages


# Few distinct amounts, so that sums meet (Restance exactly 0), and days around today.
amounts = st.sampled_from([100, 200, 300, 500]) | st.integers(min_value=1, max_value=50_000)
days = st.sampled_from([None, -1, 0, 1]) | st.integers(min_value=-3, max_value=3)
coverages = st.builds(DrawnCoverage, amounts, st.booleans(), st.booleans())
drawn_claims = st.builds(
    DrawnClaim,
    principal=amounts,
    coverages=st.lists(coverages, max_size=4).map(tuple),
    write_downs=st.lists(amounts, max_size=2).map(tuple),
    annulled=st.booleans(),
    period_from=days,
    period_to=days,
    last_timely=st.integers(min_value=-40, max_value=40),
    settled=st.booleans(),
).filter(lambda c: c.period_from is None or c.period_to is None or c.period_from <= c.period_to)


def day(offset: int | None) -> date | None:
    return None if offset is None else TODAY + timedelta(days=offset)


def write_ledger(engine: Engine, account: UUID, drawn: DrawnClaim) -> UUID:
    """Write the drawn facts as they stand in the tables (no rule applied: any ledger)."""
    claim = Claim(
        id=uuid.uuid4(),
        account_id=account,
        authority_cvr=CVR,
        account_type_code="KONTO.BORGER",
        claim_type_code="KRAV.DAGTILBUD",
        principal=drawn.principal,
        due_date=TODAY,
        last_timely_payment_date=TODAY + timedelta(days=drawn.last_timely),
        payment_period_from=day(drawn.period_from),
        payment_period_to=day(drawn.period_to),
        liable_parties=(LiableParty(PART, "PRIMAER"),),
    )
    with write(engine) as conn:
        store.insert_claim(conn, claim, NOW)
        for seq, c in enumerate(drawn.all_coverages, 1):
            payment = (
                Payment(uuid.uuid4(), claim.id, c.amount, TODAY, PART, uuid.uuid4(), None)
                if c.by_payment
                else None
            )
            coverage = Coverage(
                id=uuid.uuid4(),
                claim_id=claim.id,
                seq=seq,
                amount=c.amount,
                source=CoverageSource.PAYMENT if payment else CoverageSource.OTHER,
                owner_id=OWNER if payment else None,
                payment=payment,
                restance_after=0,
            )
            store.insert_coverage(conn, coverage, NOW)
            if c.reversed:
                store.insert_reversal(
                    conn,
                    coverage.id,
                    reason=ReversalReason.FEJLREGISTRERING,
                    order_id=None,
                    text=None,
                    now=NOW,
                )
        for amount in drawn.write_downs:
            wd = WriteDown(uuid.uuid4(), claim.id, amount, WriteDownKind.NEDREGULERING, None)
            store.insert_write_down(conn, wd, NOW)
        if drawn.annulled:
            store.mark_annulled(conn, claim.id, NOW)
    return claim.id


@pytest.fixture
def service(part_engine: Any, backend: str) -> DebitorService:
    engine = part_engine("debitorsystem", backend)
    service = DebitorService(engine, system_id=uuid.uuid4(), clock=lambda: NOON)
    service.create_authority(CVR, "Testrup Kommune")
    return service


@given(ledgers=st.lists(drawn_claims, min_size=1, max_size=6))
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_search_finds_what_the_domain_calls_payable(
    service: DebitorService, ledgers: list[DrawnClaim]
) -> None:
    account = service.create_account(CVR, "KONTO.BORGER")  # each example its own claims
    ids = [write_ledger(service.engine, account, drawn) for drawn in ledgers]
    with read(service.engine) as conn:
        domain_view = store.load_ledgers(conn, ids)
        query = select(store.claims.c.id, store.restance_column().label("restance"))
        rows = conn.execute(query.where(store.claims.c.id.in_(ids))).all()
    sql_restance = {r.id: r.restance for r in rows}
    assert sql_restance == {i: domain_view[i].restance for i in ids}
    payable = {i for i in ids if domain_view[i].is_payable(TODAY)}
    found: set[UUID] = set()
    cursor = None
    for _ in itertools.count():  # page by page, as a fagsystem would
        answer = service.search(
            OWNER, CVR, SearchRequest(account_id=account, max_count=2, cursor=cursor)
        )
        found |= {UUID(f["FordringId"]) for f in answer["FordringTilIndbetaling"]}
        cursor = answer.get("FortsaettelsesNoegle")
        if cursor is None:
            break
    assert found == payable

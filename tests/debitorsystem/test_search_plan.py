"""Search by party costs what the party has, not what the authority has: on SQLite (the
embedded default) the party's claims, found by the `part_id` index, drive the query, and the
authority's claims are looked up by id, never walked (issue: a search by PartId took 1.6 s with
1,000,000 claims). The plan is asserted, not the time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Engine, event

from indbetaling.debitorsystem.store import ClaimQuery, payable_claims_select

from .conftest import CVR, PART


def query_plan(engine: Engine, query: ClaimQuery) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of the search's statement, one line a step."""

    def explain(*args: Any) -> tuple[str, Any]:
        statement, parameters = args[2], args[3]
        return f"EXPLAIN QUERY PLAN {statement}", parameters

    event.listen(engine, "before_cursor_execute", explain, retval=True)
    try:
        statement = payable_claims_select(query, today=date(2026, 12, 1), after=None, limit=101)
        with engine.connect() as conn:
            return [str(row[3]) for row in conn.execute(statement).cursor.fetchall()]
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def test_a_search_by_party_is_driven_by_the_partys_claims(
    part_engine: Callable[[str, str], Engine],
) -> None:
    plan = query_plan(part_engine("debitorsystem", "sqlite"), ClaimQuery(CVR, part_id=PART))
    claims = [step for step in plan if step.startswith(("SEARCH claims", "SCAN claims"))]
    assert claims, plan
    assert all("id=?" in step for step in claims), plan
    assert any(
        step.startswith("SEARCH liable_parties") and "ix_liable_parties_part (part_id=?)" in step
        for step in plan
    ), plan

"""Demo data: deterministic, every state present, every ledger rule kept, usable by the service."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, Uuid, select

from indbetaling.db import make_engine, migrate, read
from indbetaling.debitorsystem import demo, store
from indbetaling.debitorsystem.domain import ClaimLedger, CoverageSource, OrderState, WriteDownKind
from indbetaling.debitorsystem.service import DebitorService, PaymentRequest, SearchRequest
from indbetaling.fordring import ClaimStatus
from indbetaling.ids import parse_part_id

TODAY = date(2026, 11, 26)
CLAIMS = 3000
TABLES = [
    store.authorities,
    store.fagsystems,
    store.assortment,
    *demo.COLUMNS,
]

FreshEngine = Callable[[], Engine]


@pytest.fixture
def fresh_engine(
    part_engine: Callable[[str, str], Engine], backend: str, tmp_path: Path
) -> Callable[[], Engine]:
    """An empty, migrated debitorsystem database each call (PostgreSQL: the same one, emptied)."""
    made: list[Engine] = []

    def factory() -> Engine:
        if backend == "postgres":
            return part_engine("debitorsystem", "postgres")
        engine = make_engine(f"sqlite:///{tmp_path / f'demo-{len(made)}.sqlite'}")
        migrate(engine, "debitorsystem")
        made.append(engine)
        return engine

    return factory


def dump(engine: Engine, *, with_seq: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    with read(engine) as conn:
        out = {}
        for table in TABLES:
            cols = [c for c in table.c if with_seq or c.name != "seq"]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return out


def ledgers(engine: Engine) -> dict[uuid.UUID, ClaimLedger]:
    with read(engine) as conn:
        ids = list(conn.execute(select(store.claims.c.id)).scalars())
        found: dict[uuid.UUID, ClaimLedger] = {}
        for start in range(0, len(ids), 500):
            found.update(store.load_ledgers(conn, ids[start : start + 500]))
    return found


@pytest.fixture
def loaded(fresh_engine: FreshEngine) -> tuple[Engine, demo.DemoSummary]:
    engine = fresh_engine()
    summary = demo.generate(engine, demo.make_plan(1590, CLAIMS, today=TODAY), batch_size=700)
    return engine, summary


def test_same_seed_same_rows_other_seed_other_rows(fresh_engine: FreshEngine) -> None:
    plan = demo.make_plan(7, 400, today=TODAY)
    assert plan == demo.make_plan(7, 400, today=TODAY)
    first = fresh_engine()
    demo.generate(first, plan, batch_size=64)
    rows = dump(first)
    again = fresh_engine()
    demo.generate(again, demo.make_plan(7, 400, today=TODAY), batch_size=1000)
    assert dump(again) == rows
    other = fresh_engine()
    demo.generate(other, demo.make_plan(8, 400, today=TODAY))
    other_rows = dump(other)
    assert not set(other_rows["claims"]) & set(rows["claims"])
    assert other_rows["authorities"] != rows["authorities"]


def test_uuids_are_version_4_drawn_from_the_seed() -> None:
    a, b = random.Random(5), random.Random(5)
    for _ in range(100):
        assert demo.uuid_int(a) == uuid.UUID(int=b.getrandbits(128), version=4).int


@pytest.mark.slow  # several bulk loads
@pytest.mark.parametrize("backend", ["sqlite"])  # workers draw for SQLite only
def test_workers_and_batches_do_not_change_the_rows(
    fresh_engine: FreshEngine, backend: str
) -> None:
    plan = demo.make_plan(11, 2 * demo.STREAM + 345, today=TODAY)
    here = fresh_engine()
    first = demo.generate(here, plan, batch_size=900, workers=0)
    there = fresh_engine()
    second = demo.generate(there, plan, batch_size=700, workers=2)
    assert dump(there, with_seq=True) == dump(here, with_seq=True)
    assert (second.rows, second.by_status, second.by_kind) == (
        first.rows,
        first.by_status,
        first.by_kind,
    )
    assert second.sample_claims == first.sample_claims


@pytest.mark.slow  # several bulk loads
@pytest.mark.parametrize("backend", ["sqlite"])  # the values are written as text on SQLite only
def test_sqlite_rows_are_stored_as_sqlalchemy_stores_the_values(
    fresh_engine: FreshEngine, backend: str
) -> None:
    """The text the SQLite load writes directly (ids, dates, times) is what the columns' types
    make of the Python values: read back, the ledgers equal those of a plain Core insert."""
    plan = demo.make_plan(12, 1200, today=TODAY)
    direct = fresh_engine()
    demo.generate(direct, plan, batch_size=500, workers=0)
    through_core = fresh_engine()
    gen = demo._Generator(plan, demo._Encoder(False, TODAY))
    with through_core.begin() as conn:
        demo._write_parties(conn, plan)
        for start in range(0, plan.claims, 500):
            demo._write(conn, gen.enc, gen.batch(start, start + 500))
    assert dump(direct, with_seq=True) == dump(through_core, with_seq=True)
    assert ledgers(direct) == ledgers(through_core)
    dialect = direct.dialect
    as_time = store.claims.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert as_time is not None
    text, value = demo._Encoder(True, TODAY), demo._Encoder(False, TODAY)
    for minute in range(-800 * demo.DAY, 60 * demo.DAY, 7):
        assert text.time[minute] == as_time(value.time[minute])


@pytest.mark.slow  # loads 3000 claims
def test_ids_are_version_4_and_ascend_in_the_order_written(
    loaded: tuple[Engine, demo.DemoSummary],
) -> None:
    engine, _ = loaded
    with read(engine) as conn:
        for table in demo.COLUMNS:
            for col in table.c:
                if col.name.endswith("id") and isinstance(col.type, Uuid):
                    ids = [u for u in conn.execute(select(col)).scalars() if u is not None]
                    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)
        # Each claim's id sorts after the ids of the claims written before it, so a load
        # appends to the id index (SQLite: rowid is the order written; PostgreSQL: created_at
        # is unordered, so the check is made on SQLite).
        if conn.dialect.name == "sqlite":
            written = conn.exec_driver_sql("SELECT id FROM claims ORDER BY rowid").scalars().all()
            assert list(written) == sorted(written) and len(set(written)) == CLAIMS


def sqlite_schema(engine: Engine) -> tuple[set[tuple[str, str, str, str]], str]:
    """Every table's and index's SQL, and the journal mode."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master").all()
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    return {(r[0], r[1], r[2], r[3]) for r in rows}, mode


@pytest.mark.parametrize("backend", ["sqlite"])  # the indexes are rebuilt on SQLite only
@pytest.mark.parametrize("workers", [0, 2])
def test_the_schema_ends_as_the_migration_made_it(
    fresh_engine: FreshEngine, backend: str, workers: int
) -> None:
    engine = fresh_engine()
    before = sqlite_schema(engine)
    assert before[1] == "wal"
    assert sum(sql is not None and "CREATE INDEX" in sql for *_, sql in before[0]) >= 10
    demo.generate(engine, demo.make_plan(3, 1500, today=TODAY), batch_size=500, workers=workers)
    assert sqlite_schema(engine) == before


def test_a_failed_load_leaves_the_database_empty(
    fresh_engine: FreshEngine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = fresh_engine()
    before = dump(engine)
    calls = 0
    real = demo._Generator.claim

    def failing(self: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 350:
            raise RuntimeError("interrupted")
        real(self)

    monkeypatch.setattr(demo._Generator, "claim", failing)
    schema = sqlite_schema(engine) if backend == "sqlite" else None
    with pytest.raises(RuntimeError, match="interrupted"):
        demo.generate(engine, demo.make_plan(4, 400, today=TODAY), batch_size=100, workers=0)
    assert dump(engine) == before
    if schema is not None:
        assert sqlite_schema(engine) == schema
    monkeypatch.setattr(demo._Generator, "claim", real)
    summary = demo.generate(engine, demo.make_plan(4, 400, today=TODAY), workers=0)
    assert sum(summary.by_status.values()) == 400


@pytest.mark.slow  # loads 3000 claims
def test_every_state_and_kind_is_present(loaded: tuple[Engine, demo.DemoSummary]) -> None:
    engine, summary = loaded
    found = ledgers(engine)
    assert len(found) == CLAIMS == sum(summary.by_status.values())
    statuses = Counter(led.status.value for led in found.values())
    assert statuses == Counter(summary.by_status)
    assert set(statuses) == {s.value for s in ClaimStatus}
    today = TODAY
    has: Counter[str] = Counter()
    for led in found.values():
        claim, active = led.claim, [c for c in led.coverages if not c.reversed]
        if led.status is ClaimStatus.AKTIV and not led.coverages and not led.write_downs:
            has["open"] += 1
        if led.status is ClaimStatus.AKTIV and active:
            has["partly paid"] += 1
            has["partly paid by other"] += any(c.source is CoverageSource.OTHER for c in active)
        if led.status is ClaimStatus.AFSLUTTET and active:
            has["paid"] += 1
        if any(w.kind is WriteDownKind.NEDREGULERING for w in led.write_downs):
            has["written down"] += 1
        if any(c.reversed for c in led.coverages):
            has["reversed payment"] += 1
        if led.orders:
            has["reversal order"] += 1
        if len(claim.liable_parties) == 2:
            has["two parties"] += 1
        if claim.payment_period_from and claim.payment_period_from > today:
            has["period in the future"] += 1
        if claim.payment_period_from and led.is_payable(today):
            has["period open today"] += 1
    expected = {
        "open",
        "partly paid",
        "partly paid by other",
        "paid",
        "written down",
        "reversed payment",
        "reversal order",
        "two parties",
        "period in the future",
        "period open today",
    }
    assert {k for k, n in has.items() if n >= 10} == expected, has


@pytest.mark.slow  # loads 3000 claims
def test_every_ledger_keeps_the_rules(loaded: tuple[Engine, demo.DemoSummary]) -> None:
    engine, summary = loaded
    plan = summary.plan
    units = {(f.id, cvr, u) for f in plan.fagsystems for cvr, us in f.org_units.items() for u in us}
    payments = Counter[tuple[Any, Any]]()
    for led in ledgers(engine).values():
        claim = led.claim
        assert claim.principal > 0
        assert all(w.amount > 0 for w in led.write_downs)
        assert all(c.amount > 0 for c in led.coverages)
        assert 0 <= led.written_down <= claim.principal
        # Restance is principal less write-downs less active coverages, and never below zero.
        active = sum(c.amount for c in led.coverages if not c.reversed)
        assert led.restance == claim.principal - led.written_down - active >= 0
        assert led.overcoverage == 0
        if claim.annulled:
            assert led.owed == 0
        elif led.status is ClaimStatus.AFSLUTTET:
            assert led.restance == 0
        for c in led.coverages:
            if c.source is CoverageSource.PAYMENT:
                assert c.payment is not None
                payments[(c.owner_id, c.payment.payment_id)] += 1
                assert (c.owner_id, claim.authority_cvr, c.payment.org_unit_id) in units
                assert c.payment.payer_part_id in {p.part_id for p in claim.liable_parties}
        # Every reversal order was executed: its payment is reversed, over-coverage answered.
        for order in led.orders:
            assert order.state is OrderState.UDFOERT
            assert order.overcoverage > 0
            reversed_ = [c for c in led.coverages if c.id == order.coverage_id]
            assert reversed_ and reversed_[0].reversed and reversed_[0].amount == order.amount
        # The coverages' running Restance ends where the ledger is when nothing was reversed.
        if led.coverages and not led.write_downs and not any(c.reversed for c in led.coverages):
            assert led.coverages[-1].restance_after == led.restance
    assert payments and max(payments.values()) == 1
    with read(engine) as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.slow  # loads 3000 claims
def test_sample_claims_are_payable_with_one_liable_party(
    loaded: tuple[Engine, demo.DemoSummary],
) -> None:
    engine, summary = loaded
    found = ledgers(engine)
    per_authority = Counter(s.cvr for s in summary.sample_claims)
    assert set(per_authority) == {a.cvr for a in summary.plan.authorities}
    assert min(per_authority.values()) >= 10
    for sample in summary.sample_claims:
        led = found[sample.claim_id]
        assert led.claim.authority_cvr == sample.cvr
        assert led.is_payable(TODAY)
        assert led.restance == sample.restance >= 10_000
        assert [p.part_id for p in led.claim.liable_parties] == [sample.part_id]
    data = json.loads(json.dumps(summary.demo_json()))
    assert data["sample_claims"][0]["restance"] == f"{summary.sample_claims[0].restance / 100:.2f}"
    first = summary.plan.authorities[0].cvr
    assert sum(first in f["authorities"] for f in data["fagsystemer"]) >= 2


@pytest.mark.slow  # loads 3000 claims
def test_cpr_numbers_are_synthetic(loaded: tuple[Engine, demo.DemoSummary]) -> None:
    engine, _ = loaded
    with read(engine) as conn:
        parts = set(conn.execute(select(store.liable_parties.c.part_id)).scalars())
    assert len(parts) > 500
    for part in parts:
        parse_part_id(part)
        match = re.fullmatch(r"urn:oio:cpr-nr:(\d\d)(\d\d)(\d\d)\d{4}", part)
        assert match, part
        day, month, year = (int(g) for g in match.groups())
        assert 32 <= day <= 39 and 1 <= month <= 12
        with pytest.raises(ValueError, match="day is out of range"):
            date(2000 + year, month, day)


@pytest.mark.slow  # loads 3000 claims
def test_the_service_searches_and_pays_a_sample_claim(
    loaded: tuple[Engine, demo.DemoSummary],
) -> None:
    engine, summary = loaded
    noon = datetime.combine(TODAY, time(12), tzinfo=ZoneInfo("Europe/Copenhagen"))
    service = DebitorService(engine, system_id=uuid.uuid4(), clock=lambda: noon)
    sample = summary.sample_claims[0]
    payers = summary.plan.fagsystems_of(sample.cvr)
    assert len(payers) >= 2
    answer = service.search(payers[0].id, sample.cvr, SearchRequest(part_id=sample.part_id))
    ids = [f["FordringId"] for f in answer["FordringTilIndbetaling"]]
    assert str(sample.claim_id) in ids
    restance = sample.restance
    for fagsystem in payers[:2]:
        raw = service.pay(
            fagsystem.id,
            sample.cvr,
            str(uuid.uuid4()),
            PaymentRequest(
                payment_id=uuid.uuid4(),
                claim_id=sample.claim_id,
                amount="25.00",
                payment_date=TODAY,
                payer_part_id=sample.part_id,
                org_unit_id=fagsystem.org_units[sample.cvr][0],
            ),
        )
        result = json.loads(raw)
        assert result["Forretningskvittering"]["ForretningsValideringsKode"] == "ACCEPTERET"
        restance -= 2500
        assert result["Restance"] == f"{restance // 100}.{restance % 100:02d}"


@pytest.mark.slow  # loads 3000 claims
def test_a_filled_database_is_not_filled_again(loaded: tuple[Engine, demo.DemoSummary]) -> None:
    engine, summary = loaded
    with pytest.raises(demo.DemoError):
        demo.generate(engine, summary.plan)


def test_plan_needs_room_for_the_sample_claims() -> None:
    with pytest.raises(ValueError, match="at least"):
        demo.make_plan(1, 10, today=TODAY)
    plan = demo.make_plan(1, 100, today=TODAY, authorities=2)
    assert len({a.cvr for a in plan.authorities}) == 2
    assert all(re.fullmatch(r"[1-9]\d{7}", a.cvr) for a in plan.authorities)
    assert all(a.name.endswith("Kommune") for a in plan.authorities)

"""The engines: what SQLite acknowledges is durable by default, and the UTC column type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from indbetaling.app import build
from indbetaling.db import UtcDateTime, insert_or_ignore, make_engine, read, write
from indbetaling.settings import Settings


def synchronous_of(url: str, **kwargs: str) -> int:
    engine = make_engine(url, **kwargs)  # type: ignore[arg-type]
    try:
        with read(engine) as conn:
            return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    finally:
        engine.dispose()


def test_sqlite_syncs_every_commit_unless_told_otherwise(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    assert synchronous_of(url) == 2  # FULL
    assert synchronous_of(url, sqlite_synchronous="NORMAL") == 1
    system = build(Settings(data_dir=tmp_path / "run", demo_claims=100))
    for engine in system.engines.values():
        with read(engine) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2


def test_utc_times_come_back_with_their_zone_and_a_row_is_inserted_once(tmp_path: Path) -> None:
    metadata = MetaData()
    moments = Table(
        "moments",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime, nullable=False),
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    metadata.create_all(engine)
    copenhagen = timezone(timedelta(hours=1))
    with write(engine) as conn:
        conn.execute(insert(moments).values(id=1, at=datetime(2026, 12, 1, 9, tzinfo=copenhagen)))
        assert insert_or_ignore(conn, moments, id=2, at=datetime(2026, 12, 1, 8))
        assert not insert_or_ignore(conn, moments, id=2, at=datetime(2027, 1, 1, tzinfo=UTC))
    with read(engine) as conn:
        rows = conn.execute(select(moments.c.at).order_by(moments.c.id)).scalars().all()
    assert rows == [datetime(2026, 12, 1, 8, tzinfo=UTC)] * 2
    assert all(r.tzinfo is UTC for r in rows)
    engine.dispose()


def test_database_errors_never_carry_the_statements_parameters(tmp_path: Path) -> None:
    metadata = MetaData()
    parties = Table("parties", metadata, Column("part_id", String(40), primary_key=True))
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    metadata.create_all(engine)
    cpr = "urn:oio:cpr-nr:3101801234"
    with write(engine) as conn:
        conn.execute(insert(parties).values(part_id=cpr))
    with pytest.raises(IntegrityError) as failed, write(engine) as conn:
        conn.execute(insert(parties).values(part_id=cpr))
    assert "3101801234" not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)
    engine.dispose()

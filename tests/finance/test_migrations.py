"""Finance's and NemKonto's migrations make exactly the tables their stores describe, on both
engines, and `db.migrate` finds them like every other part's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from indbetaling.finance.store import metadata as finance_metadata
from indbetaling.nemkonto.store import metadata as nemkonto_metadata


@pytest.mark.parametrize(
    ("part", "metadata"), [("finance", finance_metadata), ("nemkonto", nemkonto_metadata)]
)
def test_migrations_match_the_store(
    part_engine: Callable[[str, str], Engine], backend: str, part: str, metadata: MetaData
) -> None:
    engine = part_engine(part, backend)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [
        d
        for d in differences
        if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))
    ] == []

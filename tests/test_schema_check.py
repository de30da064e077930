"""A part knows the schema it is made for: `indbetaling migrate PART` brings a database there,
and `check_schema` tells an empty, an older and an unknown revision apart, naming both."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from indbetaling.cli import app
from indbetaling.db import SchemaMismatch, check_schema, head_revision, make_engine, migrate
from indbetaling.settings import PARTS


@pytest.mark.parametrize("part", PARTS)
def test_a_migrated_database_is_at_the_parts_head(tmp_path: Path, part: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(SchemaMismatch, match=f"needs revision {head_revision(part)}"):
        check_schema(engine, part)
    migrate(engine, part)
    assert check_schema(engine, part) == head_revision(part)
    engine.dispose()


def set_revision(url: str, part: str, revision: str) -> None:
    engine = make_engine(url)
    table = f"alembic_version_{part}"  # a name of ours, not input
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET version_num = :r"), {"r": revision})  # noqa: S608
    engine.dispose()


def test_an_older_and_an_unknown_revision_are_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fagsystem.sqlite'}"
    engine = make_engine(url)
    migrate(engine, "fagsystem")
    head = head_revision("fagsystem")
    set_revision(url, "fagsystem", "0001")
    with pytest.raises(SchemaMismatch) as older:
        check_schema(engine, "fagsystem")
    assert "revision 0001" in str(older.value)
    assert f"revision {head}" in str(older.value)
    assert "older" in str(older.value)
    set_revision(url, "fagsystem", "9999")
    with pytest.raises(SchemaMismatch) as unknown:
        check_schema(engine, "fagsystem")
    assert "revision 9999" in str(unknown.value)
    assert f"revision {head}" in str(unknown.value)
    assert "does not know" in str(unknown.value)
    engine.dispose()


def test_the_migrate_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    runner = CliRunner()
    first = runner.invoke(app, ["migrate", "gateway", "--database-url", url])
    assert first.exit_code == 0, first.output
    head = head_revision("serviceplatform")
    assert f"to {head}" in first.output
    again = runner.invoke(app, ["migrate", "gateway", "--database-url", url])
    assert again.exit_code == 0, again.output
    assert "already" in again.output
    set_revision(url, "serviceplatform", "9999")
    newer = runner.invoke(app, ["migrate", "gateway", "--database-url", url])
    assert newer.exit_code == 1
    assert "9999" in newer.output
    assert head in newer.output

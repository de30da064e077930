"""Production: each part alone (CONTRACT §8, DESIGN "How it runs").

`indbetaling migrate PART` applies a part's migrations to its database; `indbetaling serve
PART` serves that part alone (see `serving`). The part names are those of CONTRACT §8; the
gateway keeps its data in the Serviceplatform's database.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from indbetaling.db import (
    SchemaMismatch,
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from indbetaling.settings import ServedPart, Settings, stored_part


class PartName(StrEnum):
    gateway = "gateway"
    debitorsystem = "debitorsystem"
    fagsystem = "fagsystem"
    beskedfordeler = "beskedfordeler"
    finance = "finance"
    nemkonto = "nemkonto"

    @property
    def served(self) -> ServedPart:
        part: ServedPart = self.value  # the same six names
        return part


DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="The part's database (default: INDBETALING_<PART>_DATABASE_URL)"),
]


def migrate_command(
    part: Annotated[PartName, typer.Argument(help="The part whose database to migrate")],
    database_url: DatabaseUrl = None,
) -> None:
    """Apply the part's Alembic migrations to its database."""
    stored = stored_part(part.served)
    engine = make_engine(database_url or Settings().database_url(stored))
    try:
        before = current_revision(engine, stored)
        try:
            migrate(engine, stored)
            after = check_schema(engine, stored)
        except SchemaMismatch as exc:
            typer.echo(f"indbetaling migrate {part.value}: {exc}", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:  # alembic's errors (e.g. a revision it does not know)
            typer.echo(
                f"indbetaling migrate {part.value}: the database is at revision {before}, "
                f"and this version's newest is {head_revision(stored)}: {exc}",
                err=True,
            )
            raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{part.value}: the schema is at revision {after} already")
    else:
        typer.echo(f"{part.value}: migrated from revision {before or '(empty)'} to {after}")

"""The registrations file: who is who, for the parts that keep registrations (the gateway, the
debitorsystem, the Beskedfordeler). One JSON file with a section per part; each part's
`indbetaling <part> register --file FILE` applies its own section to its own database, and
nothing else (see README, "Production"). Applying is idempotent: what is there is updated,
what is missing is added; nothing is removed.

Secrets are given inline or as `<name>_file`, a file holding them (relative to the
registrations file), so the file itself need hold none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from indbetaling.db import SchemaMismatch, check_schema, make_engine
from indbetaling.settings import Part, Settings

M = TypeVar("M", bound=BaseModel)


class RegistrationError(Exception):
    """The registrations file cannot be applied (the text says why)."""


def read_section(path: Path, section: str, model: type[M]) -> M:
    """The file's `section`, checked against `model`."""
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RegistrationError(f"{path} cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or section not in data:
        raise RegistrationError(f"{path} has no section {section!r}")
    try:
        return model.model_validate(data[section])
    except ValidationError as exc:
        raise RegistrationError(f"{path}, section {section!r}: {exc}") from None


def secret_value(
    inline: str | None, file: Path | None, folder: Path, what: str, *, required: bool = True
) -> str | None:
    """A secret given inline or in a file (relative to `folder`); both or (when `required`)
    neither is an error."""
    if inline is not None and file is not None:
        raise RegistrationError(f"{what}: give the value or its file, not both")
    if inline is not None:
        return inline
    if file is None:
        if required:
            raise RegistrationError(f"{what}: missing (give it or its _file)")
        return None
    path = file if file.is_absolute() else folder / file
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise RegistrationError(f"{what}: {path} cannot be read: {exc}") from None
    if not text:
        raise RegistrationError(f"{what}: {path} is empty")
    return text


RegistrationsFile = Annotated[
    Path,
    typer.Option(
        "--file", exists=True, dir_okay=False, help="The registrations file (JSON, see README)"
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(help="The part's database (default: INDBETALING_<PART>_DATABASE_URL)"),
]


@contextmanager
def part_command(command: str, part: Part, database_url: str | None) -> Iterator[Engine]:
    """The engine of a part's database for an operator's command, once its schema is the one
    this version knows; a refused schema or registration ends the command with its reason
    (exit code 1)."""
    engine = make_engine(database_url or Settings().database_url(part))
    try:
        check_schema(engine, part)
        yield engine
    except (SchemaMismatch, RegistrationError) as exc:
        typer.echo(f"{command}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()

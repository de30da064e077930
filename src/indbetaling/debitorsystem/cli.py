"""Operator commands of the debitorsystem (mounted as `indbetaling debitorsystem …`)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import Engine

from indbetaling.debitorsystem import registrations
from indbetaling.debitorsystem.domain import Rejected
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.demo_identity import debitorsystem_id
from indbetaling.ids import InvalidId, parse_cvr
from indbetaling.registration_file import (
    DatabaseUrlOption,
    RegistrationError,
    RegistrationsFile,
    part_command,
    read_section,
)
from indbetaling.settings import Settings

app = typer.Typer(help="The debitorsystem: registrations and staff tokens.")


def _service(engine: Engine) -> DebitorService:
    return DebitorService(engine, system_id=debitorsystem_id(Settings()))


@app.command("register")
def register(file: RegistrationsFile, database_url: DatabaseUrlOption = None) -> None:
    """Register authorities and fagsystems with their sortiment (the file's `debitorsystem`
    section)."""
    command = "indbetaling debitorsystem register"
    with part_command(command, "debitorsystem", database_url) as engine:
        wanted = read_section(file, registrations.SECTION, registrations.DebitorsystemRegistrations)
        try:
            done = registrations.apply(_service(engine), wanted)
        except Rejected as exc:
            raise RegistrationError(exc.text) from None
    typer.echo(f"{command}: {done}")


@app.command("staff-token")
def staff_token(
    cvr: Annotated[str, typer.Argument(help="The authority's CVR")],
    name: Annotated[str, typer.Argument(help="Whom the token is for (shown on what they do)")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Issue a collections-staff token for one authority (CONTRACT §10); printed once, only its
    hash is kept."""
    command = "indbetaling debitorsystem staff-token"
    try:
        cvr = parse_cvr(cvr)
    except InvalidId as exc:
        typer.echo(f"{command}: {exc}", err=True)
        raise typer.Exit(1) from None
    with part_command(command, "debitorsystem", database_url) as engine:
        service = _service(engine)
        if not service.has_authority(cvr):
            raise RegistrationError(f"the debitorsystem keeps no authority {cvr}")
        token = service.issue_staff_token(cvr, name)
    typer.echo(token)

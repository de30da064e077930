"""Operator commands of the gateway (mounted as `indbetaling gateway …`)."""

from __future__ import annotations

import typer

from indbetaling.registration_file import (
    DatabaseUrlOption,
    RegistrationsFile,
    part_command,
    read_section,
)
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS, registrations
from indbetaling.serviceplatform.service import Serviceplatform

app = typer.Typer(help="The gateway (Serviceplatform): registrations.")


@app.command("register")
def register(file: RegistrationsFile, database_url: DatabaseUrlOption = None) -> None:
    """Register it-systems, endpoints, agreements and routes (the file's `gateway` section)."""
    command = "indbetaling gateway register"
    with part_command(command, "serviceplatform", database_url) as engine:
        wanted = read_section(file, registrations.SECTION, registrations.GatewayRegistrations)
        applied = registrations.apply(
            Serviceplatform(engine, KNOWN_ENTITY_IDS), wanted, file.parent
        )
    typer.echo(f"{command}: {applied}")

"""Operator commands of the Beskedfordeler (mounted as `indbetaling beskedfordeler …`)."""

from __future__ import annotations

import typer

from indbetaling.beskedfordeler import registrations, service
from indbetaling.beskedfordeler.service import Beskedfordeler, NotFound
from indbetaling.db import make_engine, migrate
from indbetaling.registration_file import (
    DatabaseUrlOption,
    RegistrationsFile,
    part_command,
    read_section,
)
from indbetaling.settings import Settings

app = typer.Typer(
    help="Beskedfordeler: registrations, error queue (fejlkø), re-delivery and refused "
    "publications."
)


def _beskedfordeler() -> Beskedfordeler:
    engine = make_engine(Settings().database_url("beskedfordeler"))
    migrate(engine, "beskedfordeler")
    return Beskedfordeler(engine)


def redeliver_from_error_queue(
    bf: Beskedfordeler, seq: int | None = None, mailbox_id: str | None = None
) -> int:
    """Re-deliver one error-queue entry, or all (of one mailbox); returns how many."""
    if seq is not None:
        service.redeliver(bf, seq)
        return 1
    return service.redeliver_all(bf, mailbox_id)


@app.command("fejlkoe")
def list_error_queue() -> None:
    """List the messages whose push gave up."""
    for item in service.error_queue(_beskedfordeler()):
        typer.echo(
            f"{item.seq}\t{item.mailbox_id}\t{item.besked_id}\t{item.attempts}\t{item.last_error}"
        )


@app.command("genlever")
def redeliver(
    seq: int | None = typer.Argument(None, help="the entry to re-deliver; all when left out"),
    dueslag: str | None = typer.Option(None, help="only this mailbox's entries"),
) -> None:
    """Put messages from the error queue back in their mailbox for a new round of pushes."""
    try:
        count = redeliver_from_error_queue(_beskedfordeler(), seq, dueslag)
    except NotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{count} besked(er) genleveret")


@app.command("afviste")
def list_refused(
    afsender: str | None = typer.Option(None, help="only this publisher's (it-system UUID)"),
    antal: int = typer.Option(100, min=1, max=1000, help="at most this many, newest first"),
) -> None:
    """List the publications the Beskedfordeler refused, with the reason, and count them."""
    bf = _beskedfordeler()
    for item in service.refused(bf, afsender, 0, antal):
        typer.echo(
            "\t".join(
                [
                    str(item.seq),
                    item.refused_at.isoformat(),
                    item.via,
                    item.publisher_id,
                    item.besked_id or "-",
                    item.transaction_id or "-",
                    item.reason,
                ]
            )
        )
    typer.echo(f"{service.refused_count(bf, afsender)} afvist(e) i alt")


@app.command("register")
def register(file: RegistrationsFile, database_url: DatabaseUrlOption = None) -> None:
    """Register publishers, mailboxes and their subscriptions (the file's `beskedfordeler`
    section)."""
    command = "indbetaling beskedfordeler register"
    with part_command(command, "beskedfordeler", database_url) as engine:
        wanted = read_section(
            file, registrations.SECTION, registrations.BeskedfordelerRegistrations
        )
        done = registrations.apply(Beskedfordeler(engine), wanted, file.parent)
    typer.echo(f"{command}: {done}")

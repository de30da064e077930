"""The `indbetaling` command: run the system, make demo data, measure it."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Indbetaling: SF1590_B_03 Afsend DebitorIndbetaling")


@app.callback()
def main() -> None:
    """Indbetaling: KOMBIT SF1590_B_03 Afsend DebitorIndbetaling, all five parts."""

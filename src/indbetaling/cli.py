"""The `indbetaling` command: run the system, make demo data, measure it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from indbetaling.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Indbetaling: SF1590_B_03 Afsend DebitorIndbetaling")


@app.callback()
def main() -> None:
    """Indbetaling: KOMBIT SF1590_B_03 Afsend DebitorIndbetaling, all five parts."""


@app.command("demo")
def demo_command(
    claims: Annotated[
        int | None, typer.Option(help="Number of claims (default: the settings' demo_claims)")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed (default: the settings' demo_seed)")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Debitorsystem database (default: from the settings)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Migrate the debitorsystem database and fill it with synthetic demo data."""
    from indbetaling.db import make_engine, migrate  # noqa: PLC0415 - only this command
    from indbetaling.debitorsystem import demo  # noqa: PLC0415

    settings = Settings()
    plan = demo.make_plan(
        settings.demo_seed if seed is None else seed,
        settings.demo_claims if claims is None else claims,
    )
    engine = make_engine(database_url or settings.database_url("debitorsystem"))
    console = Console()
    try:
        migrate(engine, "debitorsystem")
        summary = demo.generate(engine, plan, progress=progress, console=console)
    except demo.DemoError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    table = Table(title=f"Demodata, seed {plan.seed}")
    table.add_column("")
    table.add_column("antal", justify="right")
    for name, count in [*summary.by_status.items(), *summary.by_kind.items()]:
        table.add_row(name, f"{count:,}")
    for name, count in summary.rows.items():
        table.add_row(f"rows: {name}", f"{count:,}")
    console.print(table)
    console.print(
        f"{summary.claims:,} claims in {summary.elapsed:.2f} s: "
        f"{summary.claims_per_second:,.0f} claims/s; "
        f"{len(summary.sample_claims)} sample claims"
    )

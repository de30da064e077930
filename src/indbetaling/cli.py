"""The `indbetaling` command: run the system, make demo data, measure it (`bench`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from indbetaling.app import build
from indbetaling.beskedfordeler import cli as beskedfordeler_cli
from indbetaling.debitorsystem import cli as debitorsystem_cli
from indbetaling.demo_setup import ensure_demo, write_demo_json
from indbetaling.finance import cli as finance_cli
from indbetaling.observability import configure_logging
from indbetaling.production import migrate_command, serve_command
from indbetaling.serviceplatform import cli as gateway_cli
from indbetaling.settings import Settings

BOOKINGS_WAIT_SECONDS = 120.0
"""How long a start waits for the demo's postings to reach finance before it writes demo.json."""

app = typer.Typer(no_args_is_help=True, help="Indbetaling: SF1590_B_03 Afsend DebitorIndbetaling")
app.add_typer(beskedfordeler_cli.app, name="beskedfordeler")
app.add_typer(gateway_cli.app, name="gateway")
app.add_typer(debitorsystem_cli.app, name="debitorsystem")
app.command("afstem")(finance_cli.afstem)
app.command("migrate")(migrate_command)
app.command("serve")(serve_command)


@app.callback()
def main() -> None:
    """Indbetaling: KOMBIT SF1590_B_03 Afsend DebitorIndbetaling, all five parts."""


@app.command()
def run(
    data_dir: Annotated[Path, typer.Option(help="Where the parts keep their data")] = Path("var"),
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Run every part on the embedded default, with demo data made on first start."""
    settings = Settings(data_dir=data_dir, host=host, port=port)
    configure_logging(json=settings.log_json)
    system = build(settings)
    demo_data = ensure_demo(system, progress=True)
    config = uvicorn.Config(system.app, host=host, port=port, log_config=None)
    server = uvicorn.Server(config)

    def announce_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        # The demo starts reconciled: its postings reach finance before demo.json says "ready".
        deadline = time.monotonic() + BOOKINGS_WAIT_SECONDS
        while system.fagsystems.bookings_waiting() and time.monotonic() < deadline:
            if server.should_exit:
                return
            time.sleep(0.1)
        path = write_demo_json(data_dir, demo_data)
        console = Console()
        console.print(f"[bold green]Indbetaling kører[/] på {settings.base_url}")
        for name, url in [
            ("Token service", "/sts/token"),
            ("DebitorIndbetalingAfsend (SOAP)", "/service/OIR/DebitorIndbetalingAfsend/1?wsdl"),
            ("REST (OpenAPI)", "/api/v1/openapi.json"),
            ("Opkrævning (REST)", "/debitorsystem/api/v1/myndigheder/{cvr}/..."),
            ("Finans (REST)", "/finance/api/v1/posteringer?MyndighedCVR={cvr}"),
            ("Afstemning", "/finance/api/v1/afstemning?MyndighedCVR={cvr}"),
        ]:
            console.print(f"  {name}: {settings.base_url}{url}")
        console.print(f"  Demo-data og adgangsnøgler: {path}")
        if settings.web_oidc_issuer:
            console.print(
                f"[bold]Websider[/]: log ind på {settings.base_url}/log-ind gennem "
                f"{settings.web_oidc_issuer} (OpenID Connect)",
                highlight=False,
            )
            return
        console.print(f"[bold]Websider[/]: log ind på {settings.base_url}/log-ind som")
        for user in demo_data.get("web_users", []):
            console.print(
                f"  {user['username']} / {user['password']}  ({user['name']})",
                highlight=False,
                soft_wrap=True,
            )

    threading.Thread(target=announce_when_ready, daemon=True).start()
    server.run()


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


@app.command("bench")
def bench_command(
    quick: Annotated[
        bool, typer.Option("--quick", help="A small version, under two minutes on two cores")
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures to this JSON file")
    ] = None,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            envvar="INDBETALING_TEST_POSTGRES_URL",
            help="PostgreSQL admin URL to make the bench's databases on (default: a throwaway "
            "cluster)",
        ),
    ] = None,
    amqp_url: Annotated[
        str | None,
        typer.Option(
            envvar="INDBETALING_TEST_AMQP_URL", help="RabbitMQ URL (default: a throwaway node)"
        ),
    ] = None,
) -> None:
    """Measure the system end to end, each figure beside its limit measured in the same run."""
    from indbetaling.bench.run import run_bench  # noqa: PLC0415 - only this command

    run_bench(
        quick=quick,
        json_path=json_file,
        postgres_url=postgres_url,
        amqp_url=amqp_url,
        console=Console(),
    )


if __name__ == "__main__":
    app()

"""`indbetaling afstem`: the three-way reconciliation of one authority, asked of a running
finance part (`GET /finance/api/v1/afstemning`) and shown as a table. Exit code 0 when it
agrees, 1 when it does not, 2 when it could not be made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from indbetaling.finance.api import PREFIX

AGREES, DISAGREES, FAILED = 0, 1, 2
TIMEOUT_SECONDS = 120.0


def afstem(
    cvr: Annotated[str, typer.Option("--cvr", help="The authority's CVR number")],
    data_dir: Annotated[
        Path, typer.Option(help="Where `indbetaling run` wrote demo.json (URL and token)")
    ] = Path("var"),
    url: Annotated[
        str | None, typer.Option(help="The system's base URL (default: demo.json's base_url)")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="The finance token (default: demo.json's finance_token)",
            envvar="INDBETALING_FINANCE_TOKEN",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """Reconcile an authority: the fagsystems' payments, the debitorsystem's coverages, the
    finance postings and NemKonto's pay-backs. Exits 1 when they do not agree."""
    console = Console()
    try:
        base_url, finance_token = _where(data_dir, url, token)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(FAILED) from None
    try:
        with console.status(f"Afstemmer {cvr}: fagsystemer, debitorsystem, finans og NemKonto …"):
            answer = httpx.get(
                f"{base_url.rstrip('/')}{PREFIX}/afstemning",
                params={"MyndighedCVR": cvr},
                headers={"Authorization": f"Bearer {finance_token}"},
                timeout=TIMEOUT_SECONDS,
            )
    except httpx.HTTPError as exc:
        console.print(f"[red]Kunne ikke nå {base_url}: {type(exc).__name__} {exc}[/]")
        raise typer.Exit(FAILED) from None
    body = _json(answer)
    if answer.status_code != 200 or body is None:
        text = body.get("FejlTekst", answer.text) if isinstance(body, dict) else answer.text
        console.print(f"[red]Afstemningen kunne ikke laves ({answer.status_code}):[/] {text}")
        raise typer.Exit(FAILED)
    show(console, body)
    raise typer.Exit(AGREES if body["Afstemt"] else DISAGREES)


def show(console: Console, body: dict[str, Any]) -> None:
    """The reconciliation as a table of its deviations and a line that sums it up."""
    cvr, count, deviations = body["MyndighedCVR"], body["Antal"], body["Afvigelser"]
    if body["Afstemt"]:
        console.print(f"[bold green]Afstemt[/]: myndighed {cvr}, {count} indbetalinger stemmer")
        return
    table = Table(title=f"Afvigelser, myndighed {cvr}", show_lines=True)
    for column in ("IndbetalingId", "Fagsystem", "Debitorsystem", "Finans", "Beskrivelse"):
        table.add_column(column, overflow="fold")
    for d in deviations:
        table.add_row(
            d["IndbetalingId"], d["Fagsystem"], d["Debitorsystem"], d["Finans"], d["Beskrivelse"]
        )
    console.print(table)
    console.print(
        f"[bold red]Ikke afstemt[/]: {len(deviations)} afvigelser blandt {count} indbetalinger"
    )


def _where(data_dir: Path, url: str | None, token: str | None) -> tuple[str, str]:
    """The base URL and finance token: as given, else from `data_dir/demo.json`."""
    if url and token:
        return url, token
    path = data_dir / "demo.json"
    try:
        demo = json.loads(path.read_text())
        return url or str(demo["base_url"]), token or str(demo["finance_token"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(
            f"{path} findes ikke eller mangler base_url/finance_token; "
            "start `indbetaling run` eller angiv --url og --token"
        ) from None


def _json(answer: httpx.Response) -> dict[str, Any] | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

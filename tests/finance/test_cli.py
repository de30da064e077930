"""`indbetaling afstem --cvr`: the reconciliation asked of a running system over HTTP (the rig
of `rig.py` on a real server), shown as a table; exit 0 when it agrees, 1 when it does not,
2 when it could not be made."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from indbetaling.cli import app
from serviceplatform.harness import LiveServer, live_server

from .rig import Rig, consistent_world
from .values import CVR, TOKEN

__all__ = ["live_server"]
WIDE = {"COLUMNS": "250"}  # so that rich does not fold an IndbetalingId


def afstem(*args: str) -> Result:
    return CliRunner().invoke(app, ["afstem", "--cvr", CVR, *args], env=WIDE)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_table_and_the_exit_code_say_whether_it_agrees(
    rig: Rig, live_server: LiveServer, tmp_path: Path
) -> None:
    made = consistent_world(rig)
    live_server.current.app = rig.app()
    (tmp_path / "demo.json").write_text(
        json.dumps({"base_url": live_server.base_url, "finance_token": TOKEN})
    )
    agreed = afstem("--data-dir", str(tmp_path))
    assert agreed.exit_code == 0, agreed.output
    assert f"Afstemt: myndighed {CVR}, {len(made)} indbetalinger stemmer" in agreed.output

    from_env = CliRunner().invoke(
        app,
        ["afstem", "--cvr", CVR, "--url", live_server.base_url],
        env={**WIDE, "INDBETALING_FINANCE_TOKEN": TOKEN},
    )
    assert from_env.exit_code == 0, from_env.output

    rig.book(made["plain"], "INDBETALING", "250.00", posting_id=uuid.uuid4())
    differs = afstem("--url", live_server.base_url, "--token", TOKEN)
    assert differs.exit_code == 1, differs.output
    assert "Afvigelser, myndighed" in differs.output
    assert str(made["plain"]) in differs.output
    assert "Bogført 2 gange (INDBETALING)" in differs.output
    assert "INDBETALING 250.00; INDBETALING 250.00" in differs.output
    assert f"Ikke afstemt: 1 afvigelser blandt {len(made)} indbetalinger" in differs.output


@pytest.mark.parametrize("backend", ["sqlite"])
def test_when_it_cannot_be_made_it_says_why_and_exits_2(
    rig: Rig, live_server: LiveServer, tmp_path: Path
) -> None:
    a, b = rig.fakes
    missing_api = rig.source(a, base_url=f"{live_server.base_url}/fagsystem/{a.id}/intet-api")
    live_server.current.app = rig.app(fagsystems=[missing_api, rig.source(b)])
    no_api = afstem("--url", live_server.base_url, "--token", TOKEN)
    assert no_api.exit_code == 2
    assert "Afstemningen kunne ikke laves (502)" in no_api.output
    assert f"Fagsystemet {a.id} har intet betalings-API" in " ".join(no_api.output.split())

    wrong = afstem("--url", live_server.base_url, "--token", "forkert")
    assert wrong.exit_code == 2
    assert "(401)" in wrong.output and "Ukendt token" in wrong.output

    nowhere = afstem("--url", "http://127.0.0.1:9", "--token", TOKEN)
    assert nowhere.exit_code == 2
    assert "Kunne ikke nå http://127.0.0.1:9" in nowhere.output

    no_demo = afstem("--data-dir", str(tmp_path / "tom"))
    assert no_demo.exit_code == 2
    assert "demo.json findes ikke" in " ".join(no_demo.output.split())

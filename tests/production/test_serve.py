"""Production: each part alone (`indbetaling serve PART --workers 2`), each its own process on
its own PostgreSQL database, messages on RabbitMQ, configured only by settings; the
registrations made with the parts' operator commands, a little data made over the parts' own
APIs, and the core of the case worker's story over HTTP (CONTRACT §9): the fagsystem pays
through the gateway, staff write the claim down, the reversal order reaches the fagsystem
through the gateway, the case worker reverses it with a pay-back, finance has the postings and
NemKonto the pay-back, and the reconciliation agrees. And `serve` refuses a database whose
schema it does not know.

A slow test (tests/production): real processes, PostgreSQL and a RabbitMQ node of its own (the
Beskedfordeler consumes the broker's intake queue, which it must not take from other tests).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from e2e.caseworker import (
    CaseWorker,
    Finance,
    Json,
    Staff,
    bearer,
    bookings,
    money,
    postgres_databases,
    wait_until,
)
from e2e.test_run import free_port
from indbetaling import cli
from indbetaling.db import head_revision, make_engine, migrate
from indbetaling.settings import SERVED_PARTS, stored_part

CVR = "29189846"
PART_ID = "urn:oio:cpr-nr:3201801234"  # synthetic: there is no 32nd day
WORKERS = "2"
START_SECONDS = 180.0
"""How long the six parts (12 workers) may take to start on a busy machine."""


def indbetaling(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """An operator's command, as a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "indbetaling.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def operator(*args: str, env: dict[str, str]) -> str:
    """An operator's command (`migrate`, `register`, `staff-token`) with a part's settings; run
    in this process (the same code as its own process, without the start of an interpreter)."""
    result = CliRunner().invoke(cli.app, list(args), env=env)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


@dataclass
class Deployment:
    """Six parts, each served alone, and what their operators and users know."""

    root: Path
    env: dict[str, str]
    """Settings every part shares (the others' URLs, the broker, the secrets' files)."""
    databases: dict[str, str]
    """Each part's database URL, by its served name."""
    urls: dict[str, str]
    fagsystem: Json
    org_unit: str
    tokens: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env_of(self, part: str) -> dict[str, str]:
        """A part's settings: the shared ones and its own database, no other part's."""
        name = stored_part(part).upper()  # type: ignore[arg-type]
        return {**self.env, f"INDBETALING_{name}_DATABASE_URL": self.databases[part]}

    def serve(self, part: str) -> None:
        port = self.urls[part].rsplit(":", 1)[1]
        with (self.root / f"{part}.log").open("ab") as log:
            self.procs[part] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "indbetaling.cli",
                    "serve",
                    part,
                    "--port",
                    port,
                    "--workers",
                    WORKERS,
                ],
                env=self.env_of(part),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers with it, so a failed test leaves none
            )

    def log(self, part: str) -> str:
        return (self.root / f"{part}.log").read_text(errors="replace")[-3000:]

    def workers_started(self, part: str) -> int:
        """How many of the part's worker processes have finished starting (ever)."""
        text = (self.root / f"{part}.log").read_text(errors="replace")
        return text.count("Application startup complete")

    def ready(self, part: str) -> bool:
        proc = self.procs[part]
        assert proc.poll() is None, f"serve {part} exited {proc.returncode}:\n{self.log(part)}"
        try:
            return httpx.get(f"{self.urls[part]}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for proc in self.procs.values():  # a worker its supervisor did not take along
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def write_secret(root: Path, name: str, value: str) -> str:
    path = root / "secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return f"secrets/{name}"


def registrations(d: Deployment, debitor_id: str, beskedfordeler_id: str) -> Json:
    """Who is who, for the gateway, the debitorsystem and the Beskedfordeler."""
    f, urls = d.fagsystem, d.urls
    return {
        "gateway": {
            "it_systems": [
                {
                    "id": debitor_id,
                    "name": "Debitorsystem",
                    "client_id": "debitorsystem",
                    "client_secret_file": "secrets/debitorsystem",
                    "endpoints": [
                        {
                            "service": "DebitorIndbetalingAfsend",
                            "soap_url": f"{urls['debitorsystem']}/debitorsystem"
                            "/service/OIR/DebitorIndbetalingAfsend/1",
                            "rest_url": f"{urls['debitorsystem']}/debitorsystem"
                            "/api/v1/debitorindbetaling",
                        }
                    ],
                    "agreements": [
                        {"cvr": CVR, "service": "DebitorIndbetalingAfsend", "role": "provider"},
                        {
                            "cvr": CVR,
                            "service": "IndbetalingTilbagefoerOrdreAfsend",
                            "role": "consumer",
                        },
                        {"cvr": CVR, "service": "Beskedfordeler", "role": "consumer"},
                    ],
                },
                {
                    "id": beskedfordeler_id,
                    "name": "Beskedfordeler",
                    "client_id": "beskedfordeler",
                    "endpoints": [
                        {
                            "service": "Beskedfordeler",
                            "rest_url": f"{urls['beskedfordeler']}/beskedfordeler",
                        }
                    ],
                    "agreements": [{"cvr": CVR, "service": "Beskedfordeler", "role": "provider"}],
                },
                {
                    "id": f["id"],
                    "name": f["name"],
                    "client_id": f["client_id"],
                    "client_secret_file": "secrets/fagsystem-client",
                    "endpoints": [
                        {
                            "service": "IndbetalingTilbagefoerOrdreAfsend",
                            "soap_url": f"{urls['fagsystem']}/fagsystem/{f['id']}"
                            "/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1",
                        }
                    ],
                    "agreements": [
                        {"cvr": CVR, "service": "DebitorIndbetalingAfsend", "role": "consumer"},
                        {
                            "cvr": CVR,
                            "service": "IndbetalingTilbagefoerOrdreAfsend",
                            "role": "provider",
                        },
                        {"cvr": CVR, "service": "Beskedfordeler", "role": "consumer"},
                    ],
                },
            ],
            "routes": [
                {"cvr": CVR, "service": "DebitorIndbetalingAfsend", "provider": debitor_id},
                {"cvr": CVR, "service": "Beskedfordeler", "provider": beskedfordeler_id},
            ],
        },
        "debitorsystem": {
            "authorities": [{"cvr": CVR, "name": "Andeby Kommune"}],
            "fagsystems": [
                {
                    "id": f["id"],
                    "name": f["name"],
                    "sortiment": {
                        CVR: {
                            "org_units": [d.org_unit],
                            "types": ["KONTO.BORGER", "KRAV.DAGTILBUD"],
                        }
                    },
                }
            ],
        },
        "beskedfordeler": {
            "publishers": [{"it_system": debitor_id, "message_types": ["FordringTilIndbetaling"]}],
            "mailboxes": [
                {
                    "id": str(uuid.uuid4()),
                    "subscriber": f["id"],
                    "name": "Fordringer til indbetaling",
                    "push_url": f"{urls['fagsystem']}/fagsystem/{f['id']}/beskeder",
                    "push_secret_file": "secrets/fagsystem-push",
                    "subscriptions": [{"message_type": "FordringTilIndbetaling", "cvr": CVR}],
                }
            ],
        },
    }


@pytest.fixture
def deployment(tmp_path: Path, postgres_admin_url: str, rabbit_node: Any) -> Iterator[Deployment]:
    """The six parts migrated, registered and served, each alone with 2 workers."""
    root = tmp_path
    with postgres_databases(postgres_admin_url) as env_urls:
        databases = {
            part: env_urls[f"INDBETALING_{stored_part(part).upper()}_DATABASE_URL"]
            for part in SERVED_PARTS
        }
        urls = {part: f"http://127.0.0.1:{free_port()}" for part in SERVED_PARTS}
        fagsystem_id = str(uuid.uuid4())
        org_unit = str(uuid.uuid4())
        fagsystem: Json = {
            "id": fagsystem_id,
            "name": "Økonomisystemet",
            "client_id": f"fagsystem-{fagsystem_id}",
            "caseworker_token": secrets.token_urlsafe(24),
            "org_units": [org_unit],
            "org_units_by_authority": {CVR: [org_unit]},
        }
        write_secret(root, "fagsystem-client", secrets.token_urlsafe(24))
        write_secret(root, "fagsystem-caseworker", fagsystem["caseworker_token"])
        push = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        write_secret(root, "fagsystem-push", push)
        (root / "fagsystems.json").write_text(
            json.dumps(
                {
                    "fagsystemer": [
                        {
                            "id": fagsystem_id,
                            "name": fagsystem["name"],
                            "client_id": fagsystem["client_id"],
                            "client_secret_file": "secrets/fagsystem-client",
                            "caseworker_token_file": "secrets/fagsystem-caseworker",
                            "push_secret_file": "secrets/fagsystem-push",
                            "reversal_policy": "SAGSBEHANDLER",
                            "org_units": {CVR: [org_unit]},
                        }
                    ]
                }
            )
        )
        tokens = {
            "finance": secrets.token_urlsafe(24),
            "auditor": secrets.token_urlsafe(24),
            "operator": secrets.token_urlsafe(24),
        }
        debitor_id = str(uuid.uuid4())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("INDBETALING_")},
            "INDBETALING_FORBID_DB_ON_EVENT_LOOP": "1",
            "INDBETALING_DATA_DIR": str(root / "var"),
            "INDBETALING_AMQP_URL": rabbit_node.url,
            "INDBETALING_DEBITORSYSTEM_ID": debitor_id,
            "INDBETALING_DEBITORSYSTEM_CLIENT_SECRET_FILE": str(
                root / write_secret(root, "debitorsystem", secrets.token_urlsafe(24))
            ),
            "INDBETALING_DEBITORSYSTEM_AUDITOR_TOKEN_FILE": str(
                root / write_secret(root, "auditor", tokens["auditor"])
            ),
            "INDBETALING_FINANCE_TOKEN_FILE": str(
                root / write_secret(root, "finance", tokens["finance"])
            ),
            "INDBETALING_OPERATOR_TOKEN_FILE": str(
                root / write_secret(root, "operator", tokens["operator"])
            ),
            "INDBETALING_FAGSYSTEMS_FILE": str(root / "fagsystems.json"),
            **{
                f"INDBETALING_{part.upper()}_URL": urls[part]
                for part in ("gateway", "debitorsystem", "fagsystem", "finance", "nemkonto")
            },
        }
        d = Deployment(root, env, databases, urls, fagsystem, org_unit, tokens)
        try:
            for part in SERVED_PARTS:
                operator("migrate", part, env=d.env_of(part))
            for part in SERVED_PARTS:
                d.serve(part)
            (root / "registrations.json").write_text(
                json.dumps(registrations(d, debitor_id, str(uuid.uuid4())), ensure_ascii=False)
            )
            file = str(root / "registrations.json")
            for part in ("gateway", "debitorsystem", "beskedfordeler"):
                operator(part, "register", "--file", file, env=d.env_of(part))
            staff = operator(
                "debitorsystem", "staff-token", CVR, "Opkrævningen", env=d.env_of("debitorsystem")
            )
            d.tokens["staff"] = staff.strip().splitlines()[-1]
            for part in SERVED_PARTS:
                wait_until(f"{part} ready", lambda part=part: d.ready(part), START_SECONDS)
                wait_until(
                    f"{part}: {WORKERS} workers started",
                    lambda part=part: d.workers_started(part) >= int(WORKERS),
                    START_SECONDS,
                )
            yield d
        finally:
            d.stop()


def client(d: Deployment, part: str) -> httpx.Client:
    return httpx.Client(base_url=d.urls[part], timeout=60)


def new_claim(staff: httpx.Client, token: str, principal: str) -> Json:
    """An account and a claim on it, made by collections staff over their API (§10)."""
    auth = {**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
    base = f"/debitorsystem/api/v1/myndigheder/{CVR}"
    account = staff.post(
        f"{base}/debitorkonti", headers=auth, json={"DebitorkontoTypeKode": "KONTO.BORGER"}
    )
    assert account.status_code == 201, account.text
    today = date.today()
    claim = staff.post(
        f"{base}/fordringer",
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
        json={
            "DebitorkontoId": account.json()["DebitorkontoId"],
            "KravtypeKode": "KRAV.DAGTILBUD",
            "Hovedstol": principal,
            "Forfaldsdato": (today + timedelta(days=30)).isoformat(),
            "SidsteRettidigeBetalingsdato": (today + timedelta(days=40)).isoformat(),
            "Haefterkreds": [{"PartId": PART_ID, "HaefterRolle": "PRIMAER"}],
        },
    )
    assert claim.status_code == 201, claim.text
    body: Json = claim.json()
    return body


def postings_once_there(finance: Finance, reference: str, count: int) -> list[Json]:
    return wait_until(
        f"{count} postings of {reference} in finance",
        lambda: (found := finance.postings(reference)) and len(found) >= count and found,
    )


def test_each_part_alone_tells_the_case_workers_story(deployment: Deployment) -> None:
    d = deployment
    with (
        client(d, "fagsystem") as fagsystem,
        client(d, "debitorsystem") as debitorsystem,
        client(d, "finance") as finance_http,
        client(d, "nemkonto") as nemkonto_http,
    ):
        worker = CaseWorker(fagsystem, d.fagsystem, CVR)
        staff = Staff(debitorsystem, {"staff_tokens": {CVR: d.tokens["staff"]}}, CVR)
        finance = Finance(finance_http, {"finance_token": d.tokens["finance"]})
        nemkonto = Finance(nemkonto_http, {"finance_token": d.tokens["finance"]})

        claim = new_claim(debitorsystem, d.tokens["staff"], "1000.00")
        claim_id = claim["Fordring"]["FordringId"]
        assert claim["Fordring"]["Restance"] == "1000.00"
        # The claim's message goes over RabbitMQ to the Beskedfordeler, which pushes it to the
        # fagsystem: its overview knows the claim without a search.
        known = wait_until(
            "the claim's message pushed to the fagsystem",
            lambda: [
                c for c in worker.claims(PART_ID, opdater=False) if c["FordringId"] == claim_id
            ],
        )
        assert known[0]["Restance"] == "1000.00"

        # The fagsystem pays through the gateway.
        payment = worker.pay(claim_id, Decimal("600.00"), PART_ID)
        assert payment["Tilstand"] == "ACCEPTERET", payment
        assert payment["Restance"] == "400.00"
        payment_id = payment["IndbetalingId"]
        assert [c["IndbetalingId"] for c in staff.payment_coverages(claim_id)] == [payment_id]

        # Staff write the claim down below what was paid: over-covered by 300.00.
        down = staff.write_down(claim_id, Decimal("700.00"))
        assert down["Fordring"]["Restance"] == "0.00"
        (order,) = down["TilbagefoerselsOrdrer"]
        assert order["IndbetalingId"] == payment_id
        assert money(order["Overdaekning"]) == Decimal("300.00")

        # The reversal order reaches the fagsystem through the gateway and waits there.
        waiting = wait_until(
            "the reversal order in the fagsystem", lambda: worker.reversal_of(payment_id)
        )
        assert waiting["Kilde"] == "ORDRE"
        assert waiting["Tilstand"] == "AFVENTER"
        assert waiting["TilbagefoerselsOrdreId"] == order["TilbagefoerselsOrdreId"]
        assert money(waiting["Overdaekning"]) == Decimal("300.00")

        # The case worker reverses it: 300.00 paid again, 300.00 back to the citizen.
        executed = worker.execute_request(
            waiting["TilbagefoerselId"], Decimal("300.00"), Decimal("300.00")
        )
        assert executed.status_code == 200, executed.text
        done = wait_until(
            "the reversal executed",
            lambda: (
                (r := worker.reversal(waiting["TilbagefoerselId"]))["Tilstand"] == "UDFOERT" and r
            ),
        )
        repay_id, payback_id = done["GenindbetalingId"], done["TilbagebetalingId"]
        assert worker.payment(payment_id)["Tilstand"] == "TILBAGEFOERT"
        repaid = wait_until(
            "the new payment accepted",
            lambda: (p := worker.payment(repay_id))["Tilstand"] == "ACCEPTERET" and p,
        )
        assert repaid["Restance"] == "0.00"

        # Finance has one balanced posting per event, NemKonto the pay-back.
        expected = {
            payment_id: [
                ("INDBETALING", Decimal("600.00")),
                ("TILBAGEBETALING", Decimal("300.00")),
                ("TILBAGEFOERSEL", Decimal("600.00")),
            ],
            repay_id: [("INDBETALING", Decimal("300.00"))],
        }
        for reference, events in expected.items():
            assert bookings(postings_once_there(finance, reference, len(events))) == events
        (payout,) = wait_until("the pay-back at NemKonto", lambda: nemkonto.payouts(payment_id))
        assert payout["BetalingsanmodningId"] == payback_id
        assert payout["PartId"] == PART_ID
        assert money(payout["Beloeb"]) == Decimal("300.00")

        # The three-way reconciliation, over the parts' APIs, agrees.
        agreement = finance.reconciliation(CVR)
        assert agreement["Afvigelser"] == []
        assert agreement["Afstemt"] is True
        assert agreement["Antal"] >= 2


def refused(part: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`indbetaling serve PART` on the database at `url`; it must not start."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INDBETALING_")},
        f"INDBETALING_{stored_part(part).upper()}_DATABASE_URL": url,  # type: ignore[arg-type]
        "INDBETALING_DATA_DIR": str(tmp_path / "var"),
    }
    return indbetaling("serve", part, "--port", str(free_port()), env=env, cwd=tmp_path)


@pytest.mark.parametrize("part", ["finance", "gateway"])
def test_serve_refuses_a_database_it_was_not_made_for(
    tmp_path: Path, postgres_admin_url: str, part: str
) -> None:
    stored = stored_part(part)  # type: ignore[arg-type]
    head = head_revision(stored)
    with postgres_databases(postgres_admin_url) as env_urls:
        url = env_urls[f"INDBETALING_{stored.upper()}_DATABASE_URL"]
        empty = refused(part, url, tmp_path)
        assert empty.returncode != 0
        assert "no schema" in empty.stderr
        assert f"revision {head}" in empty.stderr
        assert "indbetaling migrate" in empty.stderr

        engine = make_engine(url)
        migrate(engine, stored)
        table = f"alembic_version_{stored}"  # a name of ours, not input
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET version_num = '9999'"))  # noqa: S608
        engine.dispose()
        unknown = refused(part, url, tmp_path)
        assert unknown.returncode != 0
        assert "revision 9999" in unknown.stderr
        assert "does not know" in unknown.stderr
        assert f"revision {head}" in unknown.stderr

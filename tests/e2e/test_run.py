"""`indbetaling run` as a user starts it: one process, demo data on first start, demo.json
written once it serves, the staff API and the token service usable with what demo.json says."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from besked_samples import RESTDELIVERY_MESSAGE
from indbetaling import webhooks
from indbetaling.besked import read_status_code
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.db import make_engine, read
from indbetaling.fagsystem.store import received_messages
from serviceplatform.soap_client import fetch_token, kombit_headers, zeep_client

CLAIMS_FOR_TEST = "600"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, port: int, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "INDBETALING_DEMO_CLAIMS": CLAIMS_FOR_TEST, **extra_env}
    with (data_dir.parent / f"{data_dir.name}-run.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "indbetaling.cli",
                "run",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for_demo_json(data_dir: Path, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    path = data_dir / "demo.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        assert proc.poll() is None, f"indbetaling run exited with {proc.returncode}"
        time.sleep(0.1)
    raise AssertionError("demo.json was not written within 60 s")


def sample_of(demo: dict[str, Any], cvr: str, n: int) -> dict[str, str]:
    sample: dict[str, str] = [s for s in demo["sample_claims"] if s["cvr"] == cvr][n]
    return sample


def pay_over_soap(
    base: str, token: str, cvr: str, fagsystem: dict[str, Any], demo: dict[str, Any]
) -> None:
    """Search and pay a sample claim with zeep, through the gateway, as a vendor would."""
    sample = sample_of(demo, cvr, 0)
    client = zeep_client(f"{base}/service/OIR/DebitorIndbetalingAfsend/1?wsdl", token)
    found = client.service.SoegFordringTilIndbetaling(
        PartId=sample["part_id"], _soapheaders=kombit_headers(cvr)
    )
    assert found.Forretningskvittering.ForretningsValideringsKode == "ACCEPTERET"
    assert sample["fordring_id"] in [str(f.FordringId) for f in found.FordringTilIndbetaling]
    paid = client.service.ForetagIndbetaling(
        Indbetaling={
            "IndbetalingId": str(uuid.uuid4()),
            "FordringId": sample["fordring_id"],
            "Beloeb": Decimal("100.00"),
            "Betalingsdato": date.today(),
            "IndbetalerPartId": sample["part_id"],
            "IndbetalendeOrganisationsenhedId": fagsystem["org_units"][0],
        },
        _soapheaders=kombit_headers(cvr),
    )
    assert paid.Forretningskvittering.ForretningsValideringsKode == "ACCEPTERET"
    assert paid.Restance == Decimal(sample["restance"]) - Decimal("100.00")


def pay_over_rest(
    client: httpx.Client, token: str, cvr: str, fagsystem: dict[str, Any], demo: dict[str, Any]
) -> None:
    sample = sample_of(demo, cvr, 1)
    answer = client.post(
        "/api/v1/debitorindbetaling/foretag-indbetaling",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        json={
            "Indbetaling": {
                "IndbetalingId": str(uuid.uuid4()),
                "FordringId": sample["fordring_id"],
                "Beloeb": "50.00",
                "Betalingsdato": date.today().isoformat(),
                "IndbetalerPartId": sample["part_id"],
                "IndbetalendeOrganisationsenhedId": fagsystem["org_units"][0],
            }
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["Forretningskvittering"]["ForretningsValideringsKode"] == "ACCEPTERET"
    assert Decimal(body["Restance"]) == Decimal(sample["restance"]) - Decimal("50.00")


def order_reversal_and_see_it_delivered(
    client: httpx.Client, demo: dict[str, Any], sample: dict[str, str]
) -> None:
    """Staff write the paid claim down below what was paid; the relay delivers the reversal
    order through the gateway to the paying fagsystem (R6, R7). The payment was made with the
    fagsystem's credentials but around the fagsystem, which does not know it: it answers
    `AFVIST` `INDBETALING_UKENDT` (CONTRACT §4), and the order waits for manual handling."""
    cvr = sample["cvr"]
    staff = {"Authorization": f"Bearer {demo['staff_tokens'][cvr]}"}
    base = f"/debitorsystem/api/v1/myndigheder/{cvr}"
    owed_now = Decimal(sample["restance"]) - Decimal("100.00")
    down = client.post(
        f"{base}/fordringer/{sample['fordring_id']}/nedreguleringer",
        headers=staff,
        json={"Beloeb": str(owed_now + Decimal("50.00")), "Tekst": "Takst rettet"},
    )
    assert down.status_code == 200, down.text
    (order,) = down.json()["TilbagefoerselsOrdrer"]
    assert order["Overdaekning"] == "50.00"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        orders = client.get(f"{base}/tilbagefoerselsordrer", headers=staff).json()
        delivered = next(
            o for o in orders if o["TilbagefoerselsOrdreId"] == order["TilbagefoerselsOrdreId"]
        )
        if delivered["Tilstand"] not in {"OPRETTET", "AFSENDT"}:
            break
        time.sleep(0.5)
    assert delivered["Tilstand"] == "MANUEL"
    assert "INDBETALING_UKENDT" in delivered["Bemaerkning"]


def see_the_change_pushed_to_the_fagsystems(
    data_dir: Path, demo: dict[str, Any], sample: dict[str, str]
) -> None:
    """The payments changed the claim's Restance: the Beskedfordeler pushes the
    FordringTilIndbetaling message, signed, to every fagsystem subscribed to that authority."""
    subscribed = {f["id"] for f in demo["fagsystemer"] if sample["cvr"] in f["authorities"]}
    for fagsystem in demo["fagsystemer"]:  # push_url and push_secret are what demo.json says
        body = RESTDELIVERY_MESSAGE.read_bytes()
        headers = webhooks.signed_headers(
            fagsystem["push_secret"], "kombit-eksempel", int(time.time()), body
        )
        answer = httpx.post(fagsystem["push_url"], content=body, headers=headers, timeout=10)
        assert read_status_code(answer.content) == 20, answer.text
    engine = make_engine(f"sqlite:///{data_dir / 'fagsystem.sqlite'}")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with read(engine) as conn:
                rows = conn.execute(
                    select(received_messages.c.fagsystem_id, received_messages.c.claim_id)
                ).all()
            got = {r.fagsystem_id for r in rows if r.claim_id == sample["fordring_id"]}
            if got >= subscribed:
                break
            time.sleep(0.5)
        assert got == subscribed
    finally:
        engine.dispose()


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_run_serves_demo_data_and_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    try:
        demo = wait_for_demo_json(tmp_path, proc)
        base = demo["base_url"]
        assert base == f"http://127.0.0.1:{port}"
        assert len(demo["authorities"]) >= 2
        first_cvr = demo["authorities"][0]["cvr"]
        with_first = [f for f in demo["fagsystemer"] if first_cvr in f["authorities"]]
        assert len(with_first) >= 2
        for authority in demo["authorities"]:
            samples = [s for s in demo["sample_claims"] if s["cvr"] == authority["cvr"]]
            assert len(samples) >= 10
            assert all(Decimal(s["restance"]) >= 100 for s in samples)
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").status_code == 200
            sample = demo["sample_claims"][0]
            token = demo["staff_tokens"][sample["cvr"]]
            claim = client.get(
                f"/debitorsystem/api/v1/myndigheder/{sample['cvr']}/fordringer/"
                f"{sample['fordring_id']}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert claim.status_code == 200
            assert claim.json()["Fordring"]["Restance"] == sample["restance"]
            fagsystem = with_first[0]
            issued = client.post(
                "/sts/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": fagsystem["client_id"],
                    "client_secret": fagsystem["client_secret"],
                    "scope": "entityid:http://oir.serviceplatformen.dk/service/"
                    f"debitorindbetalingafsend/1,anvenderkontekst:{first_cvr}",
                },
            )
            assert issued.status_code == 200, issued.text
            assert issued.json()["token_type"].lower() == "bearer"
            wsdl = client.get("/service/OIR/DebitorIndbetalingAfsend/1?wsdl")
            assert f"http://127.0.0.1:{port}/service/OIR/DebitorIndbetalingAfsend/1" in wsdl.text
            token = issued.json()["access_token"]
            pay_over_soap(base, token, first_cvr, fagsystem, demo)
            pay_over_rest(client, token, first_cvr, fagsystem, demo)
            order_reversal_and_see_it_delivered(client, demo, sample_of(demo, first_cvr, 0))
            see_the_change_pushed_to_the_fagsystems(tmp_path, demo, sample_of(demo, first_cvr, 0))
            audit = "/serviceplatform/api/v1/audit"
            assert client.get(audit).status_code == 401
            operator = {"Authorization": f"Bearer {demo['operator_token']}"}
            calls = client.get(audit, headers=operator).json()
            assert {(c["operation"], c["outcome"]) for c in calls} >= {
                ("ForetagIndbetaling", "ACCEPTERET"),
                ("SoegFordringTilIndbetaling", "ACCEPTERET"),
            }
    finally:
        stop(proc)
    # A second start keeps the data and the credentials.
    (tmp_path / "demo.json").unlink()
    proc = start(tmp_path, port)
    try:
        again = wait_for_demo_json(tmp_path, proc)
        assert again["sample_claims"] == demo["sample_claims"]
        assert again["fagsystemer"] == demo["fagsystemer"]
        assert again["staff_tokens"] == demo["staff_tokens"]
    finally:
        stop(proc)


def test_run_on_rabbitmq_carries_claim_messages(tmp_path: Path, amqp_url: str) -> None:
    """With INDBETALING_AMQP_URL the claim messages go over RabbitMQ (publisher confirms,
    distributor) and still reach the subscribed fagsystems."""
    proc = start(tmp_path, free_port(), INDBETALING_AMQP_URL=amqp_url)
    try:
        demo = wait_for_demo_json(tmp_path, proc)
        cvr = demo["authorities"][0]["cvr"]
        fagsystem = next(f for f in demo["fagsystemer"] if cvr in f["authorities"])
        token = fetch_token(
            demo["base_url"],
            fagsystem["client_id"],
            fagsystem["client_secret"],
            DEBITOR_INDBETALING_ENTITY_ID,
            cvr,
        )
        with httpx.Client(base_url=demo["base_url"], timeout=10) as client:
            pay_over_rest(client, token, cvr, fagsystem, demo)
        see_the_change_pushed_to_the_fagsystems(tmp_path, demo, sample_of(demo, cvr, 1))
    finally:
        stop(proc)

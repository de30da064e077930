"""On the embedded default the debitorsystem publishes its claim messages the way any publisher
does: with a token of its own, through the gateway, to the Beskedfordeler's `BeskedAfsend`.
The audit log shows the call; a publisher without permission is refused at the same door, and
nobody can skip the gateway."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from besked_samples import claim as claim_view
from besked_samples import envelope
from e2e.test_run import free_port, start, stop, wait_for_demo_json
from indbetaling.besked import read_status_code
from indbetaling.contracts import BESKEDFORDELER_ENTITY_ID
from indbetaling.db import make_engine, read
from indbetaling.fagsystem.store import received_messages
from serviceplatform.soap_client import fetch_token

BESKED_AFSEND = "/api/v1/beskedfordeler/BeskedAfsend"
XML = {"Content-Type": "text/xml; charset=utf-8"}


def token(client: httpx.Client, who: dict[str, Any], cvr: str) -> str:
    base = str(client.base_url).rstrip("/")
    return fetch_token(base, who["client_id"], who["client_secret"], BESKEDFORDELER_ENTITY_ID, cvr)


def publications_by(client: httpx.Client, demo: dict[str, Any], it_system: str) -> list[Any]:
    operator = {"Authorization": f"Bearer {demo['operator_token']}"}
    calls = client.get(
        "/serviceplatform/api/v1/audit",
        params={"it_system_id": it_system, "limit": 1000},
        headers=operator,
    ).json()
    return [
        c
        for c in calls
        if c["entity_id"] == BESKEDFORDELER_ENTITY_ID and c["operation"] == "POST /BeskedAfsend"
    ]


def received(data_dir: Path, **where: str) -> list[Any]:
    engine = make_engine(f"sqlite:///{data_dir / 'fagsystem.sqlite'}")
    try:
        query = select(received_messages)
        for column, value in where.items():
            query = query.where(received_messages.c[column] == value)
        with read(engine) as conn:
            return list(conn.execute(query))
    finally:
        engine.dispose()


def wait_until(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_claim_messages_go_through_the_gateway_and_a_publisher_needs_permission(
    tmp_path: Path,
) -> None:
    proc = start(tmp_path, free_port())
    try:
        demo = wait_for_demo_json(tmp_path, proc)
        debitorsystem = demo["debitorsystemer"][0]
        sample = demo["sample_claims"][0]
        cvr = sample["cvr"]
        with httpx.Client(base_url=demo["base_url"], timeout=10) as client:
            before = len(publications_by(client, demo, debitorsystem["id"]))
            staff = {"Authorization": f"Bearer {demo['staff_tokens'][cvr]}"}
            down = client.post(
                f"/debitorsystem/api/v1/myndigheder/{cvr}/fordringer/"
                f"{sample['fordring_id']}/nedreguleringer",
                headers=staff,
                json={"Beloeb": "1.00", "Tekst": "Rettet"},
            )
            assert down.status_code in (200, 201), down.text
            restance = str(int((Decimal(sample["restance"]) - 1) * 100))

            # The change reached the subscribed fagsystems ...
            wait_until(
                lambda: received(tmp_path, claim_id=sample["fordring_id"], restance_ore=restance),
                "the write-down's message pushed to a fagsystem",
            )
            # ... because the debitorsystem called BeskedAfsend through the gateway.
            published = wait_until(
                lambda: publications_by(client, demo, debitorsystem["id"])[before:],
                "the debitorsystem's BeskedAfsend in the gateway's audit log",
            )
            assert {p["outcome"] for p in published} == {"HTTP:200"}
            assert {p["authority_cvr"] for p in published} == {cvr}

            # A fagsystem may subscribe but not publish: refused at the same door, delivered
            # to nobody.
            fagsystem = next(f for f in demo["fagsystemer"] if cvr in f["authorities"])
            view = claim_view(sample["part_id"], cvr=cvr)
            _, forged = envelope(view)
            headers = {**XML, "Authorization": f"Bearer {token(client, fagsystem, cvr)}"}
            answer = client.post(BESKED_AFSEND, content=forged, headers=headers)
            assert answer.status_code == 200, answer.text
            assert read_status_code(answer.content) == 40
            assert "må ikke afsende" in answer.text
            time.sleep(2)  # the push loop runs every half second
            assert received(tmp_path, claim_id=str(view.claim_id)) == []

            # Nobody reaches the Beskedfordeler around the gateway.
            around = client.post(
                "/beskedfordeler/BeskedAfsend",
                content=envelope(claim_view(sample["part_id"], cvr=cvr))[1],
                headers={**XML, "X-Serviceplatform-Caller": str(uuid.uuid4())},
            )
            assert around.status_code == 401
            assert around.json()["FejlKode"] == "IKKE_AUTENTIFICERET"
    finally:
        stop(proc)

"""A subscriber, with only what `demo.json` says, works the Beskedfordeler through the gateway:
it makes a pull mailbox and a push mailbox, a value list and subscriptions filtered by it; a
staff write-down on a claim whose part is in the list sends a message that it pulls from the one
mailbox and receives, signed, at its own push URL from the other. Its receiver refuses the
pushed message (StatusKode 40), and the subscriber finds it in its error queue with the reason.
A message it may not publish is refused and shown, with the reason, to it and to the
operators."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from e2e.test_claim_messages_over_the_wire import XML, token, wait_until
from e2e.test_run import free_port, start, stop, wait_for_demo_json
from indbetaling.besked import (
    BESKEDTYPE_FORDRING_TIL_INDBETALING,
    modtag_besked_output,
    read_status_code,
)
from indbetaling.cli import app
from indbetaling.webhooks import verify

BF = "/api/v1/beskedfordeler"
REFUSAL = "Modtageren kender ikke fordringens kontotype"


@dataclass
class Received:
    """What the subscriber's own push receiver was sent."""

    pushes: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def push_receiver() -> Iterator[tuple[str, Received]]:
    """The subscriber's own HTTP endpoint: it keeps every push and refuses it (StatusKode 40)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            received.pushes.append((headers, body))
            answer = modtag_besked_output(40, REFUSAL)
            self.send_response(200)
            self.send_header("content-type", "text/xml; charset=utf-8")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/beskeder", received
    finally:
        server.shutdown()
        server.server_close()


def staff_write_down(client: httpx.Client, demo: dict[str, Any], sample: Any, amount: str) -> None:
    """Collections staff write the sample claim down: its message goes to the subscribers."""
    cvr, claim_id = sample["cvr"], sample["fordring_id"]
    path = f"/debitorsystem/api/v1/myndigheder/{cvr}/fordringer/{claim_id}/nedreguleringer"
    answer = client.post(
        path,
        json={"Beloeb": amount, "Tekst": "Nedskrevet af sagsbehandler"},
        headers={"Authorization": f"Bearer {demo['staff_tokens'][cvr]}"},
    )
    assert answer.status_code in (200, 201), answer.text


def test_subscriber_subscribes_pulls_and_sees_its_refused_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = start(tmp_path, free_port())
    with push_receiver() as (push_url, received):
        try:
            demo = wait_for_demo_json(tmp_path, proc)
            entry = subscriber_story(demo, push_url, received)
            cvr = demo["sample_claims"][0]["cvr"]
            fagsystem_id = next(f["id"] for f in demo["fagsystemer"] if cvr in f["authorities"])
        finally:
            stop(proc)

    monkeypatch.setenv("INDBETALING_DATA_DIR", str(tmp_path))
    listed = CliRunner().invoke(app, ["beskedfordeler", "afviste"])
    assert listed.exit_code == 0, listed.output
    assert f"{fagsystem_id}\t{entry['besked_id']}" in listed.output
    assert entry["aarsag"] in listed.output


def subscriber_story(demo: dict[str, Any], push_url: str, received: Received) -> dict[str, Any]:
    """The story through the gateway; answers the refused message's entry."""
    sample = demo["sample_claims"][0]
    cvr = sample["cvr"]
    fagsystem = next(f for f in demo["fagsystemer"] if cvr in f["authorities"])
    with httpx.Client(base_url=demo["base_url"], timeout=10) as client:
        me = {"Authorization": f"Bearer {token(client, fagsystem, cvr)}"}
        mine = client.get(f"{BF}/dueslag", headers=me)
        assert mine.status_code == 200, mine.text
        assert [m["id"] for m in mine.json()] == fagsystem["dueslag"]

        box = client.post(f"{BF}/dueslag", json={"navn": "Til afhentning"}, headers=me)
        assert box.status_code == 201, box.text
        box_id = box.json()["id"]
        pushed_box = client.post(
            f"{BF}/dueslag", json={"navn": "Skubbes til mig", "push_url": push_url}, headers=me
        )
        assert pushed_box.status_code == 201, pushed_box.text
        push_secret = pushed_box.json()["push_hemmelighed"]
        assert push_secret.startswith("whsec_")
        parts = client.post(
            f"{BF}/vaerdilister",
            json={"navn": "Mine parter", "vaerdier": [sample["part_id"]]},
            headers=me,
        )
        assert parts.status_code == 201, parts.text
        for mailbox in (box_id, pushed_box.json()["id"]):
            sub = client.post(
                f"{BF}/dueslag/{mailbox}/abonnementer",
                json={
                    "beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING,
                    "vaerdiliste_id": parts.json()["id"],
                },
                headers=me,
            )
            assert sub.status_code == 201, sub.text
            assert sub.json()["myndighed_cvr"] == cvr

        staff_write_down(client, demo, sample, "2.00")

        def pulled() -> list[Any]:
            answer = client.get(f"{BF}/dueslag/{box_id}/beskeder", headers=me)
            assert answer.status_code == 200, answer.text
            return list(answer.json())

        messages = wait_until(pulled, "the write-down's message in the new mailbox")
        assert len(messages) == 1
        assert sample["fordring_id"] in messages[0]["haendelsesbesked"]
        acked = client.post(f"{BF}/dueslag/{box_id}/beskeder/{messages[0]['tag']}/ack", headers=me)
        assert acked.status_code == 204, acked.text

        # The same message reaches the push URL, signed with the push mailbox's secret.
        wait_until(lambda: received.pushes, "the write-down's message at the push URL")
        (headers, body), *more = received.pushes
        assert more == []
        verify(push_secret, headers, body, now=int(time.time()))
        pushed = body.decode()
        assert "ModtagBeskedInput" in pushed  # the push carries the message in its envelope
        assert messages[0]["besked_id"] in pushed
        assert sample["fordring_id"] in pushed

        # Its receiver refused the message: it waits in the subscriber's error queue, with why.
        def queued() -> list[Any]:
            answer = client.get(f"{BF}/fejlkoe", headers=me)
            assert answer.status_code == 200, answer.text
            return [f for f in answer.json() if f["dueslag"] == pushed_box.json()["id"]]

        (failed,) = wait_until(queued, "the refused push in the subscriber's error queue")
        assert failed["besked_id"] == messages[0]["besked_id"]
        assert failed["fejl"] == f"HTTP 200, StatusKode 40: {REFUSAL}"

        # A subscriber may not publish: refused, and kept with the reason.
        forged = messages[0]["haendelsesbesked"].encode()
        answer = client.post(f"{BF}/BeskedAfsend", content=forged, headers={**XML, **me})
        assert read_status_code(answer.content) == 40
        refused = client.get(f"{BF}/afviste", headers=me)
        assert refused.status_code == 200, refused.text
        (entry,) = refused.json()
        assert entry["besked_id"] == messages[0]["besked_id"]
        assert f"Afsenderen {fagsystem['id']} må ikke afsende" in entry["aarsag"]
        return dict(entry)

"""Every point in time the debitorsystem shows carries its offset (CONTRACT §2): the staff API's
reversal orders (made just now and read back), and the FordringTilIndbetaling messages, even
where the clock it was given is naive (taken to be UTC, as the database takes it)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from indbetaling import db, http_errors, outbox
from indbetaling.besked import parse_envelope
from indbetaling.besked_afsend import envelope_from_outbox
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.api import staff_router

from .conftest import CVR, World, code

WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
NAIVE_NOW = datetime(2026, 11, 26, 10, 30)  # meant as UTC


def _times(value: Any) -> list[str]:
    """Every `Dannelsestidspunkt` anywhere in a JSON value."""
    if isinstance(value, dict):
        found = [str(v) for k, v in value.items() if k == "Dannelsestidspunkt"]
        return found + [t for v in value.values() for t in _times(v)]
    if isinstance(value, list):
        return [t for v in value for t in _times(v)]
    return []


def test_staff_views_and_messages_carry_the_offset(world: World) -> None:
    world.clock[0] = NAIVE_NOW  # the service's clock now gives a time without a zone
    service = world.service
    claim = world.claim(100_000)
    assert code(world.pay(claim, "600.00")) == "ACCEPTERET"

    app = FastAPI()
    http_errors.install(app)
    app.include_router(staff_router(service))
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {service.issue_staff_token(CVR, 'Opkrævningen')}"}
    base = f"/api/v1/myndigheder/{CVR}"
    made = client.post(
        f"{base}/fordringer/{claim}/nedreguleringer", headers=headers, json={"Beloeb": "500.00"}
    )
    assert made.status_code == 200, made.text
    views = [
        made.json(),
        client.get(f"{base}/fordringer/{claim}", headers=headers).json(),
        client.get(f"{base}/tilbagefoerselsordrer", headers=headers).json(),
    ]
    with db.read(service.engine) as conn:
        pending = outbox.pending(conn, store.outbox, limit=100)
    messages = [json.loads(m.payload) for m in pending]
    times = _times(views) + _times(messages)
    assert len(times) == 3 + len(messages)
    for text in times:
        assert WITH_OFFSET.match(text), text
        assert datetime.fromisoformat(text) == NAIVE_NOW.replace(tzinfo=UTC)
    # and the envelope the Beskedfordeler gets tells the same instant
    envelope = parse_envelope(envelope_from_outbox(pending[-1]).xml)
    assert envelope.created_at == NAIVE_NOW.replace(tzinfo=UTC)

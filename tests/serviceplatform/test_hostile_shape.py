"""A small hostile document (thousands of attributes, deep nesting) is refused quickly, at the
gateway and at a provider, and the server keeps answering everyone else meanwhile."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from indbetaling.caller import CALLER_HEADER, Caller, sign_caller
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from serviceplatform.harness import CVR_A, Platform
from serviceplatform.test_access import DEBITOR, NS, envelope

HEALTHZ = "/healthz"
PROVIDER = "/dummy/a/soap"
HOSTILE_SECONDS = 5.0
"""A refusal of a hostile document must take less than this (it takes milliseconds)."""
HEALTHZ_SECONDS = 1.0
"""The slowest /healthz answer while hostile documents are refused."""


def _payment(inner: str, attributes: str = "") -> bytes:
    return envelope(
        body=f'<ForetagIndbetalingRequest xmlns="{NS}"><Indbetaling {attributes}>'
        f"{inner}<IndbetalingId>{uuid.uuid4()}</IndbetalingId></Indbetaling>"
        "</ForetagIndbetalingRequest>"
    )


HOSTILE = {
    "20000 attributes": _payment("", " ".join(f'a{i}="x"' for i in range(20_000))),
    "deep nesting": _payment("<x>" * 200 + "</x>" * 200),
}


def _install_healthz(sp: Platform) -> None:
    def healthz() -> dict[str, str]:  # as the composition root's: a plain `def` endpoint
        return {"status": "ok"}

    sp.app.add_api_route(HEALTHZ, healthz, methods=["GET"])


def _caller_assertion(sp: Platform) -> str:
    key = sp.platform.signing_key()
    caller = Caller(it_system_id=sp.systems["fagsystem_1"].id, authority_cvr=CVR_A)
    return sign_caller(caller, DEBITOR_INDBETALING_ENTITY_ID, key.private_key, key.kid)


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("where", ["gateway", "provider"])
def test_a_hostile_document_is_refused_quickly_and_healthz_stays_fast(
    sp: Platform, case: str, where: str
) -> None:
    _install_healthz(sp)
    if where == "gateway":
        path, auth = DEBITOR, {"Authorization": f"Bearer {sp.token('fagsystem_1', CVR_A)}"}
    else:
        path, auth = PROVIDER, {CALLER_HEADER: _caller_assertion(sp)}
    headers = {"Content-Type": "text/xml; charset=utf-8", **auth}
    answers: list[tuple[int, bytes, float]] = []

    def hostile() -> None:
        with httpx.Client(base_url=sp.base_url, timeout=HOSTILE_SECONDS * 4) as client:
            for _ in range(3):
                started = time.monotonic()
                try:
                    answer = client.post(path, content=HOSTILE[case], headers=headers)
                except httpx.TimeoutException:
                    answers.append((0, b"timed out", time.monotonic() - started))
                    return
                answers.append((answer.status_code, answer.content, time.monotonic() - started))

    sender = threading.Thread(target=hostile, daemon=True)
    sender.start()
    latencies: list[float] = []
    with httpx.Client(base_url=sp.base_url, timeout=HEALTHZ_SECONDS * 5) as client:
        while sender.is_alive() or len(latencies) < 5:
            started = time.monotonic()
            try:
                ok = client.get(HEALTHZ).status_code == 200
            except httpx.TimeoutException:
                ok = False
            latencies.append(time.monotonic() - started if ok else float("inf"))
            time.sleep(0.01)
    sender.join()

    for status, content, seconds in answers:
        assert 400 <= status < 500, (status, content[:300])
        assert b"faultcode>soap:Client" in content
        assert seconds < HOSTILE_SECONDS, seconds
    assert len(answers) == 3
    assert max(latencies) < HEALTHZ_SECONDS, sorted(latencies)[-5:]
    assert sp.forwarded_calls() == 0

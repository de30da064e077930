"""The demo starts reconciled (CONTRACT §8): once `indbetaling run` has written demo.json, the
payments in its dataset exist in the fagsystems that made them, reversed ones with their
reversal and pay-back, every event booked once, and the reconciliation of every authority
agrees. A restart takes nothing over twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from e2e.test_run import free_port, start, stop, wait_for_demo_json


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def reconciliation(client: httpx.Client, demo: dict[str, Any], cvr: str) -> dict[str, Any]:
    answer = client.get(
        "/finance/api/v1/afstemning",
        params={"MyndighedCVR": cvr},
        headers=bearer(demo["finance_token"]),
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def payments(
    client: httpx.Client, fagsystem: dict[str, Any], cvr: str, state: str
) -> list[dict[str, Any]]:
    answer = client.get(
        f"/fagsystem/{fagsystem['id']}/api/v1/myndigheder/{cvr}/indbetalinger",
        params={"Tilstand": state},
        headers=bearer(fagsystem["caseworker_token"]),
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["Indbetalinger"]
    return found


def postings_of(client: httpx.Client, demo: dict[str, Any], payment_id: str) -> list[Any]:
    answer = client.get(
        "/finance/api/v1/posteringer",
        params={"Reference": payment_id},
        headers=bearer(demo["finance_token"]),
    )
    assert answer.status_code == 200, answer.text
    found: list[Any] = answer.json()["Posteringer"]
    return found


def test_a_fresh_demo_is_reconciled_and_stays_so_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "run"
    proc = start(data_dir, free_port())
    try:
        demo = wait_for_demo_json(data_dir, proc)
        with httpx.Client(base_url=demo["base_url"], timeout=60) as client:
            agreed = {}
            for authority in demo["authorities"]:
                found = reconciliation(client, demo, authority["cvr"])
                assert found["Afvigelser"] == []
                assert found["Afstemt"] is True
                agreed[authority["cvr"]] = found["Antal"]
            assert sum(agreed.values()) > 50, agreed

            cvr = demo["authorities"][0]["cvr"]
            reversed_ = [
                p
                for f in demo["fagsystemer"]
                if cvr in f["authorities"]
                for p in payments(client, f, cvr, "TILBAGEFOERT")
            ]
            assert reversed_, "the demo has payments ordered back; their fagsystems know them"
            one = reversed_[0]
            assert len(one["Posteringer"]) == 3  # payment, reversal, pay-back (§7)
            booked = postings_of(client, demo, one["IndbetalingId"])
            assert sorted(p["PosteringId"] for p in booked) == sorted(one["Posteringer"])
            paid_back = client.get(
                "/nemkonto/api/v1/betalingsanmodninger",
                params={"Reference": one["IndbetalingId"]},
                headers=bearer(demo["finance_token"]),
            )
            assert paid_back.status_code == 200, paid_back.text
            (request,) = paid_back.json()["Betalingsanmodninger"]
            assert request["Beloeb"] == one["Beloeb"]
    finally:
        stop(proc)

    (data_dir / "demo.json").unlink()
    proc = start(data_dir, free_port())
    try:
        demo = wait_for_demo_json(data_dir, proc)
        with httpx.Client(base_url=demo["base_url"], timeout=60) as client:
            for authority in demo["authorities"]:
                found = reconciliation(client, demo, authority["cvr"])
                assert found["Afstemt"] is True, found["Afvigelser"][:3]
                assert found["Antal"] == agreed[authority["cvr"]]
            assert len(postings_of(client, demo, one["IndbetalingId"])) == 3
    finally:
        stop(proc)

"""The reconciliation's collectors against `indbetaling run` with its demo data: the real
debitorsystem's coverages (read with the auditor token from demo.json, page by page), a
recording stand-in for the fagsystems' case-worker API made from those coverages, and finance
and NemKonto parts of this test holding the matching postings and pay-backs. Also: `run` serves
finance and NemKonto behind the finance token of demo.json."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

from e2e.test_run import free_port, start, stop, wait_for_demo_json
from finance.fagsystem_fake import FakeFagsystem
from indbetaling import parts
from indbetaling.db import make_engine, migrate
from indbetaling.finance import app as finance_app
from indbetaling.finance.app import ApiSource, FagsystemSource, ReconciliationSources
from indbetaling.finance.client import Collector
from indbetaling.finance.reconciliation import reconcile
from indbetaling.nemkonto import app as nemkonto_app

LOCAL = "http://lokal.test"
TOKEN = "finans-i-testen"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def all_coverages(client: httpx.Client, cvr: str, token: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params = {"Antal": "100"}
    while True:
        page = client.get(
            f"/debitorsystem/api/v1/myndigheder/{cvr}/daekninger",
            headers=bearer(token),
            params=params,
        )
        assert page.status_code == 200, page.text
        found += page.json()["Daekninger"]
        if "FortsaettelsesNoegle" not in page.json():
            return found
        params = {**params, "FortsaettelsesNoegle": page.json()["FortsaettelsesNoegle"]}


def test_run_serves_finance_and_nemkonto_and_the_collectors_read_its_debitorsystem(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "run"
    proc = start(data_dir, free_port())
    try:
        demo = wait_for_demo_json(data_dir, proc)
        base, cvr = demo["base_url"], demo["authorities"][0]["cvr"]
        auditor = demo["debitorsystemer"][0]["auditor_token"]
        with httpx.Client(base_url=base, timeout=30) as client:
            for path in ("/finance/api/v1/posteringer", "/nemkonto/api/v1/betalingsanmodninger"):
                assert client.get(path, params={"MyndighedCVR": cvr}).status_code == 401
                assert (
                    client.get(
                        path, params={"MyndighedCVR": cvr}, headers=bearer(auditor)
                    ).status_code
                    == 401
                )
                served = client.get(
                    path, params={"MyndighedCVR": cvr}, headers=bearer(demo["finance_token"])
                )
                assert served.status_code == 200, served.text
            answer = client.get("/finance/api/v1/afstemning", params={"MyndighedCVR": cvr})
            assert answer.status_code == 401
            coverages = all_coverages(client, cvr, auditor)
            assert all_coverages(client, cvr, demo["staff_tokens"][cvr]) == coverages
            other_cvr = demo["authorities"][1]["cvr"]
            refused = client.get(
                f"/debitorsystem/api/v1/myndigheder/{other_cvr}/daekninger",
                headers=bearer(demo["staff_tokens"][cvr]),
            )
            assert refused.status_code == 403
        payments = [c for c in coverages if c["Kilde"] == "INDBETALING"]
        assert len(coverages) > 100 and any(c["Tilbagefoert"] for c in payments)
        asyncio.run(reconcile_with_the_real_debitorsystem(tmp_path, base, cvr, auditor, payments))
    finally:
        stop(proc)


async def reconcile_with_the_real_debitorsystem(
    tmp_path: Path, base: str, cvr: str, auditor: str, payments: list[dict[str, Any]]
) -> None:
    finance_engine, nemkonto_engine = await asyncio.to_thread(local_engines, tmp_path)
    owners = sorted({c["FagsystemId"] for c in payments})
    fakes = {owner: FakeFagsystem(uuid.UUID(owner), f"sagsbehandler-{owner}") for owner in owners}
    app, workers = parts.new_app("Finans i testen", "test")
    http = httpx.AsyncClient(mounts={LOCAL: httpx.ASGITransport(app=app)}, timeout=60)
    sources = ReconciliationSources(
        fagsystems=[
            FagsystemSource(f.id, f"{LOCAL}/fagsystem/{f.id}/api/v1", f.token)
            for f in fakes.values()
        ],
        debitorsystem=ApiSource(f"{base}/debitorsystem/api/v1", auditor),
        nemkonto=ApiSource(f"{LOCAL}/nemkonto/api/v1", TOKEN),
    )
    finance = finance_app.build(finance_engine, tokens=[TOKEN], http=http, sources=sources)
    nemkonto = nemkonto_app.build(nemkonto_engine, tokens=[TOKEN])
    parts.mount(app, workers, [finance, nemkonto])
    for fake in fakes.values():
        app.include_router(fake.router())
    async with http:
        await make_the_world_agree(http, cvr, payments, fakes)
        answer = await http.get(
            f"{LOCAL}/finance/api/v1/afstemning",
            headers=bearer(TOKEN),
            params={"MyndighedCVR": cvr},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "MyndighedCVR": cvr,
            "Afstemt": True,
            "Antal": len(payments),
            "Afvigelser": [],
        }
        for fake in fakes.values():
            assert {s.authorization for s in fake.seen} == {f"Bearer {fake.token}"}

        # the same again, reading the debitorsystem 50 coverages a page
        async def own(cvr: str) -> Any:
            return await asyncio.to_thread(finance.service.authority_postings, cvr)

        paged = Collector(sources, http, own, page_size=50)
        assert reconcile(await paged.collect(cvr)).agreed
        # a payment the fagsystem forgot: its coverage and its postings are named
        forgotten = payments[len(payments) // 2]
        fake = fakes[forgotten["FagsystemId"]]
        fake.payments[cvr] = [
            p for p in fake.payments[cvr] if p["IndbetalingId"] != forgotten["IndbetalingId"]
        ]
        answer = await http.get(
            f"{LOCAL}/finance/api/v1/afstemning",
            headers=bearer(TOKEN),
            params={"MyndighedCVR": cvr},
        )
        body = answer.json()
        assert body["Afstemt"] is False
        assert {d["IndbetalingId"] for d in body["Afvigelser"]} == {forgotten["IndbetalingId"]}
        assert "Dækning fra en indbetaling, som intet fagsystem i afstemningen kender" in {
            d["Beskrivelse"] for d in body["Afvigelser"]
        }


def local_engines(tmp_path: Path) -> tuple[Any, Any]:
    engines = []
    for part in ("finance", "nemkonto"):
        engine = make_engine(f"sqlite:///{tmp_path / part}.sqlite", sqlite_synchronous="NORMAL")
        migrate(engine, part)
        engines.append(engine)
    return engines[0], engines[1]


async def make_the_world_agree(
    http: httpx.AsyncClient,
    cvr: str,
    payments: list[dict[str, Any]],
    fakes: dict[str, FakeFagsystem],
) -> None:
    """What the fagsystems would hold had they made the demo's payments: each accepted and
    booked; each reversed one reversed, booked back and paid back to the party in full."""
    lines = {
        "INDBETALING": ("6010", "2901"),
        "TILBAGEFOERSEL": ("2901", "6010"),
        "TILBAGEBETALING": ("2950", "2901"),
    }
    for c in payments:
        reversed_ = c["Tilbagefoert"]
        fake = fakes[c["FagsystemId"]]
        fake.payments.setdefault(cvr, []).append(
            {
                "IndbetalingId": c["IndbetalingId"],
                "FordringId": c["FordringId"],
                "MyndighedCVR": cvr,
                "Beloeb": c["Beloeb"],
                "Tilstand": "TILBAGEFOERT" if reversed_ else "ACCEPTERET",
            }
        )
        events = (
            ["INDBETALING", "TILBAGEFOERSEL", "TILBAGEBETALING"] if reversed_ else ["INDBETALING"]
        )
        for kind in events:
            debit, credit = lines[kind]
            posting = {
                "PosteringId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{c['IndbetalingId']}")),
                "Posteringsdato": "2026-11-26",
                "MyndighedCVR": cvr,
                "Reference": c["IndbetalingId"],
                "Posteringstype": kind,
                "Posteringslinjer": [
                    {"Kontonummer": debit, "Beloeb": c["Beloeb"], "Tekst": kind},
                    {"Kontonummer": credit, "Beloeb": f"-{c['Beloeb']}", "Tekst": kind},
                ],
            }
            booked = await http.post(
                f"{LOCAL}/finance/api/v1/posteringer", headers=bearer(TOKEN), json=posting
            )
            assert booked.status_code == 201, booked.text
        if reversed_:
            request = {
                "BetalingsanmodningId": str(uuid.uuid4()),
                "MyndighedCVR": cvr,
                "PartId": "urn:oio:cvr-nr:12345678",
                "Beloeb": c["Beloeb"],
                "Reference": c["IndbetalingId"],
                "Tekst": "Tilbagebetaling",
            }
            sent = await http.post(
                f"{LOCAL}/nemkonto/api/v1/betalingsanmodninger", headers=bearer(TOKEN), json=request
            )
            assert sent.status_code == 201, sent.text
            fake.reversals.setdefault(cvr, []).append(
                {
                    "IndbetalingId": c["IndbetalingId"],
                    "Tilstand": "UDFOERT",
                    "Genindbetal": "0.00",
                    "Tilbagebetal": c["Beloeb"],
                }
            )

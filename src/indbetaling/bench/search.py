"""Search at size: SoegFordringTilIndbetaling by PartId through the gateway, one client after
another (p50/p99), on the embedded default with N claims, beside the minimal SQL of the same
search (the party's claims through its index, with their Restance) on the same database file;
and a walk over every page of an authority's coverages (`/daekninger`, 1,000 a page, the
reconciliation's read) beside the same keyset walk in SQL alone. The SQL alone takes the plan
that reads least, so it shows what the data allows, not what a planner happened to pick."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from pathlib import Path

import httpx

from indbetaling.bench.payments import load, parties
from indbetaling.bench.report import Report, ms_text, percentile, rate_text
from indbetaling.bench.server import Server
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID

# CROSS JOIN makes SQLite take the left table first: the plan that reads least, whatever its
# planner would guess (left to itself it walks every claim of the authority for both).
SEARCH_SQL = """
SELECT c.*, (SELECT COALESCE(SUM(cv.amount_ore), 0) FROM coverages cv WHERE cv.claim_id = c.id)
FROM liable_parties lp CROSS JOIN claims c ON c.id = lp.claim_id
WHERE lp.part_id = ? AND c.authority_cvr = ?
"""
"""The party's claims through its index, each with its Restance's coverages summed."""
WALK_SQL = """
SELECT cv.* FROM coverages cv CROSS JOIN claims c ON c.id = cv.claim_id
WHERE c.authority_cvr = ? AND cv.seq > ? ORDER BY cv.seq LIMIT 1000
"""
"""The next page of the authority's coverages, along the coverages' order of arrival."""
PAGE = 1000


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


def sql_search_ms(path: Path, cvr: str, sample: list[str], n: int) -> list[float]:
    times: list[float] = []
    rng = random.Random(1590)
    with contextlib.closing(_read_only(path)) as conn:
        for _ in range(n):
            party = rng.choice(sample)
            started = time.perf_counter()
            conn.execute(SEARCH_SQL, (party, cvr)).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return times


def measure_search(report: Report, server: Server, *, requests: int) -> None:
    path = server.data_dir / "debitorsystem.sqlite"
    sample = parties(server, 2000)
    token = server.token(DEBITOR_INDBETALING_ENTITY_ID)
    server.quiet()
    result = load(
        {
            "base_url": server.base_url,
            "operation": "search",
            "protocol": "rest",
            "token": token,
            "cvr": server.cvr,
            "parties": sample,
            "clients": 1,
            "requests": requests,
            "warmup_requests": 3,
        }
    )
    sql = sql_search_ms(path, server.cvr, sample, max(requests, 200))
    sql_p50, sql_p99 = percentile(sql, 50), percentile(sql, 99)
    report.add(
        "search",
        f"by PartId, {server.claims:,} claims (REST, 1 client)",
        f"p50 {ms_text(result['p50_ms'])} · p99 {ms_text(result['p99_ms'])}",
        f"SQL alone p50 {ms_text(sql_p50)} · p99 {ms_text(sql_p99)}",
        sql_p99 / result["p99_ms"] if result["p99_ms"] else None,
        claims=server.claims,
        searches=result["answered"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        searches_per_s=result["answered"] / result["window_s"],
        limit_p50_ms=sql_p50,
        limit_p99_ms=sql_p99,
    )


def measure_walk(report: Report, server: Server) -> None:
    """Every page of the first authority's coverages through the API, then in SQL alone."""
    auditor = server.demo["debitorsystemer"][0]["auditor_token"]
    url = f"/debitorsystem/api/v1/myndigheder/{server.cvr}/daekninger"
    pages: list[float] = []
    rows = 0
    key: str | None = None
    server.quiet()
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        started = time.perf_counter()
        while True:
            params: dict[str, str | int] = {"Antal": PAGE}
            if key:
                params["FortsaettelsesNoegle"] = key
            page_started = time.perf_counter()
            answer = http.get(url, params=params, headers={"Authorization": f"Bearer {auditor}"})
            answer.raise_for_status()
            pages.append((time.perf_counter() - page_started) * 1000)
            body = answer.json()
            rows += len(body["Daekninger"])
            key = body.get("FortsaettelsesNoegle")
            if not key:
                break
        elapsed = time.perf_counter() - started
    sql_rows, after = 0, 0
    with contextlib.closing(_read_only(server.data_dir / "debitorsystem.sqlite")) as conn:
        sql_started = time.perf_counter()
        while True:
            found = conn.execute(WALK_SQL, (server.cvr, after)).fetchall()
            sql_rows += len(found)
            if len(found) < PAGE:
                break
            after = found[-1][0]
        sql_elapsed = time.perf_counter() - sql_started
    per_s, sql_per_s = rows / elapsed, sql_rows / max(sql_elapsed, 1e-9)
    report.add(
        "search",
        f"page walk, an authority's {rows:,} coverages ({server.claims:,} claims)",
        f"{rate_text(per_s, ' rows/s')} · {len(pages)} pages"
        f" · p50 {ms_text(percentile(pages, 50))} · p99 {ms_text(percentile(pages, 99))}",
        f"SQL alone {rate_text(sql_per_s, ' rows/s')}",
        per_s / sql_per_s if sql_per_s else None,
        claims=server.claims,
        rows=rows,
        pages=len(pages),
        rows_per_s=per_s,
        page_p50_ms=percentile(pages, 50),
        page_p99_ms=percentile(pages, 99),
        limit_rows_per_s=sql_per_s,
    )

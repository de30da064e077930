"""Payments end to end: ForetagIndbetaling through the gateway over REST and SOAP, from a load
generator process, against a running `indbetaling run`, beside the limit of the same SQL.

For each concurrency the limit runs first, then REST and SOAP: spread over many payable claims
(0.01 each on a claim drawn at random) and all on one hot claim (a fresh one per case, so no
case inherits another's coverages). Only ACCEPTERET answers count as payments.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import httpx
from sqlalchemy import create_engine, text

from indbetaling.bench.report import Report, ms_text, rate_text
from indbetaling.bench.server import Server
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID

PROTOCOLS = ("rest", "soap")


def clients_text(n: int) -> str:
    return "1 client" if n == 1 else f"{n} clients"


class Limit(Protocol):
    def tps(self, clients: int, seconds: float, *, hot: bool) -> float: ...


@dataclass(frozen=True)
class Claims:
    spread: list[tuple[str, str]]
    """(FordringId, PartId) of payable claims."""
    hot: list[tuple[str, str]]
    """One claim per hot case, each with Restance enough for every payment it may get."""


def parties(server: Server, n: int) -> list[str]:
    """Up to `n` liable parties of the first authority's claims, from its database."""
    engine = create_engine(server.database_url("debitorsystem"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT DISTINCT lp.part_id FROM liable_parties lp"
                    " JOIN claims c ON c.id = lp.claim_id"
                    " WHERE c.authority_cvr = :cvr AND c.annulled_at IS NULL LIMIT :n"
                ),
                {"cvr": server.cvr, "n": n},
            )
            return [str(r[0]) for r in rows]
    finally:
        engine.dispose()


def payable_claims(server: Server, token: str, want: int, hot: int) -> Claims:
    """Payable claims found as a fagsystem finds them: SoegFordringTilIndbetaling by PartId."""
    found: dict[str, tuple[str, str, Decimal]] = {}
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        for party in parties(server, max(4 * (want + hot), 200)):
            answer = http.post(
                "/api/v1/debitorindbetaling/soeg-fordring-til-indbetaling",
                headers={"Authorization": f"Bearer {token}"},
                json={"PartId": party},
            )
            answer.raise_for_status()
            for claim in answer.json()["FordringTilIndbetaling"]:
                restance = Decimal(claim["Restance"])
                if restance >= Decimal("20.00"):
                    found[claim["FordringId"]] = (claim["FordringId"], party, restance)
            if len(found) >= want + hot:
                break
    by_size = sorted(found.values(), key=lambda c: c[2], reverse=True)
    if len(by_size) < hot + 1:
        raise RuntimeError(f"only {len(by_size)} payable claims found on {server.name}")
    hot_claims = [(c, p) for c, p, _ in by_size[:hot]]
    spread = [(c, p) for c, p, _ in by_size[hot:]]
    return Claims(spread, hot_claims)


class LoadGenerator:
    """The load generator's process, kept for a series of measurements."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indbetaling.bench.load"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, config: dict[str, Any]) -> dict[str, Any]:
        if self.proc.stdin is None or self.proc.stdout is None:
            raise RuntimeError("the load generator has no pipes")
        self.proc.stdin.write(json.dumps(config) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator stopped (exit {self.proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load(config: dict[str, Any]) -> dict[str, Any]:
    """One measurement by a load generator process of its own."""
    with LoadGenerator() as generator:
        return generator.run(config)


def measure(
    report: Report,
    server: Server,
    make_limit: Callable[[int], Limit],
    limit_name: str,
    *,
    clients: tuple[int, ...],
    seconds: float,
    warmup: float,
    spread_claims: int,
) -> None:
    token = server.token(DEBITOR_INDBETALING_ENTITY_ID)
    claims = payable_claims(server, token, spread_claims, hot=len(PROTOCOLS) * len(clients))
    limit = make_limit(len(claims.spread))
    base = {
        "base_url": server.base_url,
        "operation": "pay",
        "token": token,
        "cvr": server.cvr,
        "org_unit": server.org_unit(),
        "date": date.today().isoformat(),
        "seconds": seconds,
        "warmup": warmup,
    }
    with LoadGenerator() as generator:
        # Warm up: the server's first calls (tokens, caches, connections) are not measured.
        for protocol in PROTOCOLS:
            generator.run(
                {
                    **base,
                    "protocol": protocol,
                    "clients": 4,
                    "claims": claims.spread,
                    "warmup": 0,
                    "seconds": max(warmup, 1.0),
                }
            )
        cases = Cases(report, server, generator, limit, limit_name, base, claims, iter(claims.hot))
        for n in clients:
            cases.measure(n)


@dataclass
class Cases:
    """The cases of one concurrency: the limit, then each protocol, spread and hot."""

    report: Report
    server: Server
    generator: LoadGenerator
    limit: Limit
    limit_name: str
    base: dict[str, Any]
    claims: Claims
    hot: Iterator[tuple[str, str]]

    def measure(self, n: int) -> None:
        report, server, limit, limit_name = self.report, self.server, self.limit, self.limit_name
        claims, hot, seconds = self.claims, self.hot, float(self.base["seconds"])
        for mode in ("spread", "hot"):
            server.quiet()
            tps = limit.tps(n, seconds, hot=mode == "hot")
            report.add(
                "limit",
                f"{limit_name}, {clients_text(n)}, {mode}",
                rate_text(tps, " TPS"),
                "",
                None,
                database=server.label,
                clients=n,
                mode=mode,
                tps=tps,
            )
            for protocol in PROTOCOLS:
                pay = claims.spread if mode == "spread" else [next(hot)]
                server.quiet()
                result = self.generator.run(
                    {**self.base, "protocol": protocol, "clients": n, "claims": pay}
                )
                where = f"{len(pay)} claims" if mode == "spread" else "one hot claim"
                measured = (
                    f"{rate_text(result['per_s'])} · p50 {ms_text(result['p50_ms'])}"
                    f" · p99 {ms_text(result['p99_ms'])}"
                )
                if result["other"]:
                    others = ", ".join(f"{k} ×{v}" for k, v in sorted(result["other"].items()))
                    measured += f" (not accepted: {others})"
                report.add(
                    "payments",
                    f"{server.label}, {protocol.upper()}, {clients_text(n)}, {where}",
                    measured,
                    f"{limit_name} {rate_text(tps, ' TPS')}",
                    result["per_s"] / tps if tps else None,
                    database=server.label,
                    protocol=protocol,
                    clients=n,
                    mode=mode,
                    payments_per_s=result["per_s"],
                    p50_ms=result["p50_ms"],
                    p99_ms=result["p99_ms"],
                    accepted=result["accepted"],
                    not_accepted=result["other"],
                    limit_tps=tps,
                )

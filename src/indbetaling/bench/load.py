"""The load generator: a process of its own that calls the gateway over real HTTP with asyncio
httpx, so its work is not the server's (`python -m indbetaling.bench.load`, one configuration
as a JSON line on standard input for each measurement, one result line back).

It runs `clients` concurrent callers, each sending its next request when the last is answered:
ForetagIndbetaling (`"operation": "pay"`, 0.01 on a claim drawn at random from `claims`) or
SoegFordringTilIndbetaling by PartId (`"search"`), over REST or SOAP. In time mode it warms up
for `warmup` seconds and then counts the answers that arrive within the next `seconds` (or
until the first answer, if none came by then); with
`requests` set it counts that many after `warmup_requests` uncounted ones.
Prints one JSON object: answered, accepted (ACCEPTERET), refusals by code, rate and latencies.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from indbetaling.bench.report import percentile

DEBITOR_NS = "http://oir.serviceplatformen.dk/xml/schemas/DebitorIndbetaling/1/"
SOAP_PATH = "/service/OIR/DebitorIndbetalingAfsend/1"
SOAP_ACTION = "http://oir.serviceplatformen.dk/service/debitorindbetalingafsend/1/"
REST_PATH = "/api/v1/debitorindbetaling/"
CODE = re.compile(rb"ForretningsValideringsKode>\s*([A-Z]+)\s*<")
FEJL = re.compile(rb"FejlKode>\s*([A-Z_]+)\s*<")


def soap_envelope(cvr: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>'
        '<rh:RequestHeader xmlns:rh="http://kombit.dk/xml/schemas/RequestHeader/1/">'
        f"<rh:TransactionUUID>{uuid.uuid4()}</rh:TransactionUUID></rh:RequestHeader>"
        '<ac:AuthorityContext xmlns:ac="http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/">'
        f"<ac:MunicipalityCVR>{cvr}</ac:MunicipalityCVR></ac:AuthorityContext>"
        f"</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Caller:
    """Builds one request of the configured kind and reads its answer's outcome."""

    config: dict[str, Any]
    rng: random.Random = field(default_factory=random.Random)

    def request(self) -> tuple[str, dict[str, str], bytes]:
        c = self.config
        soap = c["protocol"] == "soap"
        headers = {"Authorization": f"Bearer {c['token']}"}
        if c["operation"] == "pay":
            claim, party = self.rng.choice(c["claims"])
            payment = {
                "IndbetalingId": str(uuid.uuid4()),
                "FordringId": claim,
                "Beloeb": c.get("amount", "0.01"),
                "Betalingsdato": c["date"],
                "IndbetalerPartId": party,
                "IndbetalendeOrganisationsenhedId": c["org_unit"],
            }
            if soap:
                fields = "".join(f"<{k}>{v}</{k}>" for k, v in payment.items())
                body = (
                    f'<ForetagIndbetalingRequest xmlns="{DEBITOR_NS}">'
                    f"<Indbetaling>{fields}</Indbetaling></ForetagIndbetalingRequest>"
                )
                operation = "ForetagIndbetaling"
            else:
                headers["Idempotency-Key"] = str(uuid.uuid4())
                headers["Content-Type"] = "application/json"
                data = json.dumps({"Indbetaling": payment}).encode()
                return REST_PATH + "foretag-indbetaling", headers, data
        else:
            party = self.rng.choice(c["parties"])
            if soap:
                body = (
                    f'<SoegFordringTilIndbetalingRequest xmlns="{DEBITOR_NS}">'
                    f"<PartId>{party}</PartId></SoegFordringTilIndbetalingRequest>"
                )
                operation = "SoegFordringTilIndbetaling"
            else:
                headers["Content-Type"] = "application/json"
                data = json.dumps({"PartId": party}).encode()
                return REST_PATH + "soeg-fordring-til-indbetaling", headers, data
        headers["Content-Type"] = "text/xml; charset=utf-8"
        headers["SOAPAction"] = f'"{SOAP_ACTION}{operation}"'
        return SOAP_PATH, headers, soap_envelope(c["cvr"], body)

    @staticmethod
    def outcome(answer: httpx.Response) -> str:
        """ACCEPTERET, or what else it was: AFVIST:<FejlKode>, HTTP <status>."""
        if answer.status_code != 200:
            return f"HTTP {answer.status_code}"
        if answer.headers.get("content-type", "").startswith("application/json"):
            receipt = answer.json().get("Forretningskvittering", {})
            code = str(receipt.get("ForretningsValideringsKode", "?"))
            errors = (receipt.get("FejlListe") or {}).get("Fejl") or []
            if code == "ACCEPTERET" or not errors:
                return code
            return f"{code}:{errors[0].get('FejlKode')}"
        found = CODE.search(answer.content)
        code = found.group(1).decode() if found else "?"
        if code == "ACCEPTERET":
            return code
        fejl = FEJL.search(answer.content)
        return f"{code}:{fejl.group(1).decode()}" if fejl else code


@dataclass
class Tally:
    """The answers counted, with their latencies, and the window they were counted in."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, result: str, sent: float, done: float) -> None:
        self.latencies.append((done - sent) * 1000)
        self.outcomes[result] += 1

    def summary(self) -> dict[str, Any]:
        seconds = max(self.end - self.start, 1e-9)
        others = Counter(self.outcomes)
        accepted = others.pop("ACCEPTERET", 0)
        return {
            "answered": accepted + sum(others.values()),
            "accepted": accepted,
            "other": dict(others),
            "window_s": seconds,
            "per_s": accepted / seconds,
            "p50_ms": percentile(self.latencies, 50),
            "p99_ms": percentile(self.latencies, 99),
        }


async def run(config: dict[str, Any]) -> dict[str, Any]:
    """One measurement: in time mode the answers that arrive within the window count (callers
    still waiting at its end are cancelled); in count mode `requests` answers after the warm-up
    ones count."""
    clients = int(config["clients"])
    count_mode = config.get("requests") is not None
    caller = Caller(config, random.Random(config.get("seed", 1590)))
    patience = float(config.get("timeout", 120))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=config["base_url"], limits=limits, timeout=httpx.Timeout(patience)
    ) as http:
        warm_until = time.monotonic() + float(config.get("warmup", 0))
        tally = Tally(warm_until, warm_until + float(config.get("seconds", 0)))
        warm_requests = int(config.get("warmup_requests", 0))
        left = {"warm": warm_requests, "counted": int(config.get("requests") or 0)}

        async def call() -> tuple[str, float, float]:
            path, headers, body = caller.request()
            sent = time.monotonic()
            try:
                result = caller.outcome(await http.post(path, headers=headers, content=body))
            except httpx.HTTPError as exc:
                result = f"error {type(exc).__name__}"
            return result, sent, time.monotonic()

        async def counted_worker() -> None:
            while left["warm"] > 0:
                left["warm"] -= 1
                await call()
            if not left.get("started"):
                left["started"] = 1
                tally.start = time.monotonic()
            while left["counted"] > 0:
                left["counted"] -= 1
                tally.add(*await call())

        async def timed_worker() -> None:
            while True:
                result, sent, done = await call()
                if warm_until <= done <= tally.end:
                    tally.add(result, sent, done)

        if count_mode:
            await asyncio.gather(*(counted_worker() for _ in range(clients)))
            tally.end = time.monotonic()
        else:
            workers = [asyncio.ensure_future(timed_worker()) for _ in range(clients)]
            await asyncio.sleep(max(0.0, tally.end - time.monotonic()))
            if not tally.latencies:  # nothing answered in the window: it lasts until something is
                deadline, tally.end = time.monotonic() + patience, float("inf")
                while not tally.latencies and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                tally.end = time.monotonic()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return tally.summary()


def main() -> None:
    """One configuration a line on standard input, one result a line on standard output."""
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(asyncio.run(run(json.loads(line)))), flush=True)


if __name__ == "__main__":
    main()

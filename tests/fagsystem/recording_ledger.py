"""A tiny stand-in for finance and NemKonto that checks the wire shapes fixed between the parts
(`POST /finance/api/v1/posteringer`, `POST /nemkonto/api/v1/betalingsanmodninger`) and records
what it took: 201 new, 200 the same again, 409 the same id with other content, 422 a bad field or
lines that do not sum to zero, 401 without the finance token. It can fail calls (503) before or
after it recorded them, so a test can lose answers. The real parts are another developer's; this
checks only that the fagsystem's relay speaks their shape and never books twice."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

AMOUNT = re.compile(r"^-?\d{1,13}\.\d{2}$")
POSTING_FIELDS = {
    "PosteringId",
    "Posteringsdato",
    "MyndighedCVR",
    "Reference",
    "Posteringstype",
    "Posteringslinjer",
}
PAYOUT_FIELDS = {"BetalingsanmodningId", "MyndighedCVR", "PartId", "Beloeb", "Reference", "Tekst"}


def _ore(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, cents = text.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(cents))


def _line_ok(line: Any) -> bool:
    if not isinstance(line, dict) or set(line) != {"Kontonummer", "Beloeb", "Tekst"}:
        return False
    texts = isinstance(line["Kontonummer"], str) and isinstance(line["Tekst"], str)
    return texts and bool(AMOUNT.match(str(line["Beloeb"])))


def posting_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != POSTING_FIELDS:
        return [f"fields {sorted(body) if isinstance(body, dict) else body}"]
    problems = []
    for name in ("PosteringId", "Reference"):
        try:
            uuid.UUID(body[name])
        except (ValueError, TypeError, AttributeError):
            problems.append(name)
    try:
        date.fromisoformat(body["Posteringsdato"])
    except (ValueError, TypeError):
        problems.append("Posteringsdato")
    if not re.fullmatch(r"\d{8}", str(body["MyndighedCVR"])):
        problems.append("MyndighedCVR")
    if body["Posteringstype"] not in {"INDBETALING", "TILBAGEFOERSEL", "TILBAGEBETALING"}:
        problems.append("Posteringstype")
    lines = body["Posteringslinjer"]
    if not isinstance(lines, list) or len(lines) < 2:
        return [*problems, "Posteringslinjer"]
    problems += [f"line {line}" for line in lines if not _line_ok(line)]
    return problems


def payout_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != PAYOUT_FIELDS:
        return [f"fields {sorted(body) if isinstance(body, dict) else body}"]
    problems = []
    if not AMOUNT.match(str(body["Beloeb"])) or _ore(body["Beloeb"]) <= 0:
        problems.append("Beloeb")
    if not re.fullmatch(r"urn:oio:(cpr-nr:\d{10}|cvr-nr:\d{8})", str(body["PartId"])):
        problems.append("PartId")
    for name in ("BetalingsanmodningId", "Reference"):
        try:
            uuid.UUID(body[name])
        except (ValueError, TypeError, AttributeError):
            problems.append(name)
    return problems


@dataclass
class RecordingLedger:
    token: str = "finance-token"
    postings: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    """Every id posted, repeats included."""
    fail_before: int = 0
    """Answer the next calls 503 without recording them."""
    fail_after: int = 0
    """Record the next calls, then answer 503 (the answer is lost)."""
    refuse: set[str] = field(default_factory=set)
    """Ids answered 409 as if another content had come first."""

    def balance(self, account: str) -> int:
        return sum(
            _ore(line["Beloeb"])
            for p in self.postings.values()
            for line in p["Posteringslinjer"]
            if line["Kontonummer"] == account
        )

    def app(self) -> FastAPI:
        app = FastAPI()

        async def take(
            request: Request, kept: dict[str, dict[str, Any]], id_field: str, kind: str
        ) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"FejlKode": "IKKE_AUTENTIFICERET"}, status_code=401)
            if self.fail_before:
                self.fail_before -= 1
                return JSONResponse({}, status_code=503)
            body = await request.json()
            problems = posting_problems(body) if kind == "posting" else payout_problems(body)
            if problems:
                return JSONResponse({"FejlKode": "UGYLDIG", "FejlTekst": problems}, status_code=422)
            if kind == "posting" and sum(_ore(x["Beloeb"]) for x in body["Posteringslinjer"]) != 0:
                return JSONResponse({"FejlKode": "POSTERING_UBALANCE"}, status_code=422)
            key = body[id_field]
            self.received.append(key)
            if key in self.refuse:
                return JSONResponse({"FejlKode": f"{id_field.upper()}_KONFLIKT"}, status_code=409)
            earlier = kept.get(key)
            if earlier is not None and earlier != body:
                return JSONResponse({"FejlKode": f"{id_field.upper()}_KONFLIKT"}, status_code=409)
            kept[key] = body
            if self.fail_after:
                self.fail_after -= 1
                return JSONResponse({}, status_code=503)
            return JSONResponse(body, status_code=200 if earlier is not None else 201)

        @app.post("/finance/api/v1/posteringer")
        async def posting(request: Request) -> JSONResponse:
            return await take(request, self.postings, "PosteringId", "posting")

        @app.post("/nemkonto/api/v1/betalingsanmodninger")
        async def payout(request: Request) -> JSONResponse:
            return await take(request, self.payouts, "BetalingsanmodningId", "payout")

        return app

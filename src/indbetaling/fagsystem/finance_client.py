"""Where the fagsystem's bookings go: its postings to finance (SF1590_A `Oekonomipostering`) and
its pay-backs to NemKonto (SF1590_E `Betalingsanmodning`), over their REST APIs (CONTRACT §7, §9).

`posting_json` and `payout_json` are the wire bodies, written once into the outbox, so every
send of one is the same bytes under the same id; finance answers a repeat 200 and NemKonto too,
so a resend is never a second booking. `BookingClient.deliver` posts one body and says whether it
arrived (`DELIVERED`: 201 new, 200 the same again), will never arrive as it is (`REFUSED`: any
other 4xx, e.g. 409 `POSTERINGID_KONFLIKT` or 422 `POSTERING_UBALANCE`, logged for a person) or
should be tried again later (`RETRY`: no answer, 5xx, 401/408/429).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from indbetaling.fagsystem.domain import Payback, Posting
from indbetaling.money import format_ore

log = logging.getLogger(__name__)

POSTINGS_PATH = "/finance/api/v1/posteringer"
PAYOUTS_PATH = "/nemkonto/api/v1/betalingsanmodninger"
TRANSIENT = frozenset({401, 408, 425, 429})
"""4xx answers worth another try (a token being rotated, a timeout, throttling)."""


def posting_json(posting: Posting) -> dict[str, Any]:
    return {
        "PosteringId": str(posting.id),
        "Posteringsdato": posting.day.isoformat(),
        "MyndighedCVR": posting.authority_cvr,
        "Reference": str(posting.reference),
        "Posteringstype": posting.kind.value,
        "Posteringslinjer": [
            {
                "Kontonummer": line.account.number,
                "Beloeb": format_ore(line.amount),
                "Tekst": line.text,
            }
            for line in posting.lines
        ],
    }


def payout_json(payback: Payback) -> dict[str, Any]:
    return {
        "BetalingsanmodningId": str(payback.id),
        "MyndighedCVR": payback.authority_cvr,
        "PartId": payback.part_id,
        "Beloeb": format_ore(payback.amount),
        "Reference": str(payback.payment_id),
        "Tekst": payback.text,
    }


class Delivery(StrEnum):
    DELIVERED = "DELIVERED"
    REFUSED = "REFUSED"
    RETRY = "RETRY"


@dataclass(frozen=True)
class BookingSettings:
    """Where finance and NemKonto are, and the finance token both take."""

    finance_url: str
    nemkonto_url: str
    token: str
    timeout_seconds: float = 30.0


class BookingClient:
    """Posts stored wire bodies to finance (`POSTINGS_PATH`) or NemKonto (`PAYOUTS_PATH`)."""

    def __init__(self, settings: BookingSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    def url(self, path: str) -> str:
        base = self.settings.nemkonto_url if path == PAYOUTS_PATH else self.settings.finance_url
        return base.rstrip("/") + path

    async def deliver(self, path: str, body: bytes) -> Delivery:
        try:
            answer = await self.http.post(
                self.url(path),
                content=body,
                headers={
                    "Authorization": f"Bearer {self.settings.token}",
                    "Content-Type": "application/json",
                },
                timeout=self.settings.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            log.warning("no answer from %s: %s", path, type(exc).__name__)
            return Delivery.RETRY
        if answer.status_code in (200, 201):
            return Delivery.DELIVERED
        if 400 <= answer.status_code < 500 and answer.status_code not in TRANSIENT:
            log.error("%s refused a booking (%s): %s", path, answer.status_code, answer.text[:500])
            return Delivery.REFUSED
        log.warning("%s answered %s; trying again later", path, answer.status_code)
        return Delivery.RETRY

"""What a client of a running `indbetaling run` needs to tell the case worker's story over
HTTP, knowing only CONTRACT §9 and §10 and what demo.json says: the case worker of one
fagsystem, collections staff, finance and NemKonto, and polling until something has happened."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal, TypeVar

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from indbetaling.settings import PARTS

T = TypeVar("T")
CENT = Decimal("0.01")
Json = dict[str, Any]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_until(what: str, probe: Callable[[], T | Literal[False] | None], seconds: float = 60) -> T:
    """`probe()` once it answers something truthy; fails after `seconds` saying `what` and the
    last answer."""
    deadline = time.monotonic() + seconds
    last: T | Literal[False] | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {seconds:.0f} s (last seen: {last!r})")


def half(amount: Decimal) -> Decimal:
    """Half of `amount`, rounded down to øre: more than 0 and less than `amount` from 0.02."""
    return (amount / 2).quantize(CENT, rounding=ROUND_DOWN)


def money(text: str) -> Decimal:
    return Decimal(text)


def the_fagsystem(demo: Json, cvr: str, policy: str) -> Json:
    """The demo's fagsystem of `policy` that shares the authority `cvr`."""
    found: Json = next(
        f for f in demo["fagsystemer"] if cvr in f["authorities"] and f["reversal_policy"] == policy
    )
    return found


class CaseWorker:
    """The case worker of one fagsystem at one authority (CONTRACT §9)."""

    def __init__(self, client: httpx.Client, fagsystem: Json, cvr: str) -> None:
        self.client = client
        self.fagsystem = fagsystem
        self.cvr = cvr
        self.base = f"/fagsystem/{fagsystem['id']}/api/v1/myndigheder/{cvr}"
        self.auth = bearer(fagsystem["caseworker_token"])
        self.org_unit: str = fagsystem["org_units_by_authority"][cvr][0]
        assert self.org_unit in fagsystem["org_units"]

    def claims(self, part_id: str, *, opdater: bool = True) -> list[Json]:
        answer = self.client.get(
            f"{self.base}/parter/{part_id}/fordringer",
            params={"opdater": "true"} if opdater else {},
            headers=self.auth,
        )
        assert answer.status_code == 200, answer.text
        found: list[Json] = answer.json()["Fordringer"]
        return found

    def pay_request(
        self, claim_id: str, amount: Decimal, part_id: str, key: str | None = None
    ) -> httpx.Response:
        return self.client.post(
            f"{self.base}/indbetalinger",
            headers={**self.auth, "Idempotency-Key": key or str(uuid.uuid4())},
            json={
                "FordringId": claim_id,
                "Beloeb": str(amount),
                "IndbetalerPartId": part_id,
                "OrganisationsenhedId": self.org_unit,
                "Tekst": "Betalt af borgerens midler",
            },
        )

    def pay(self, claim_id: str, amount: Decimal, part_id: str, key: str | None = None) -> Json:
        answer = self.pay_request(claim_id, amount, part_id, key)
        assert answer.status_code == 201, answer.text
        body: Json = answer.json()
        return body

    def payment(self, payment_id: str) -> Json:
        answer = self.client.get(f"{self.base}/indbetalinger/{payment_id}", headers=self.auth)
        assert answer.status_code == 200, answer.text
        body: Json = answer.json()
        return body

    def payments_of_claim(self, claim_id: str) -> list[Json]:
        found: list[Json] = []
        params = {"FordringId": claim_id}
        while True:
            answer = self.client.get(f"{self.base}/indbetalinger", params=params, headers=self.auth)
            assert answer.status_code == 200, answer.text
            found += answer.json()["Indbetalinger"]
            if "FortsaettelsesNoegle" not in answer.json():
                return found
            params = {**params, "FortsaettelsesNoegle": answer.json()["FortsaettelsesNoegle"]}

    def reversals(self) -> list[Json]:
        found: list[Json] = []
        params: dict[str, str] = {}
        while True:
            answer = self.client.get(
                f"{self.base}/tilbagefoersler", params=params, headers=self.auth
            )
            assert answer.status_code == 200, answer.text
            found += answer.json()["Tilbagefoersler"]
            if "FortsaettelsesNoegle" not in answer.json():
                return found
            params = {"FortsaettelsesNoegle": answer.json()["FortsaettelsesNoegle"]}

    def reversal_of(self, payment_id: str) -> Json | None:
        return next((r for r in self.reversals() if r["IndbetalingId"] == payment_id), None)

    def reversal(self, reversal_id: str) -> Json:
        answer = self.client.get(f"{self.base}/tilbagefoersler/{reversal_id}", headers=self.auth)
        assert answer.status_code == 200, answer.text
        body: Json = answer.json()
        return body

    def execute_request(self, reversal_id: str, repay: Decimal, payback: Decimal) -> httpx.Response:
        return self.client.post(
            f"{self.base}/tilbagefoersler/{reversal_id}/udfoer",
            headers=self.auth,
            json={"Genindbetal": str(repay), "Tilbagebetal": str(payback)},
        )


class Staff:
    """Collections staff of one authority in the debitorsystem (CONTRACT §10)."""

    def __init__(self, client: httpx.Client, demo: Json, cvr: str) -> None:
        self.client = client
        self.base = f"/debitorsystem/api/v1/myndigheder/{cvr}"
        self.auth = bearer(demo["staff_tokens"][cvr])

    def claim(self, claim_id: str) -> Json:
        answer = self.client.get(f"{self.base}/fordringer/{claim_id}", headers=self.auth)
        assert answer.status_code == 200, answer.text
        body: Json = answer.json()
        return body

    def payment_coverages(self, claim_id: str) -> list[Json]:
        """The claim's coverages made by payments (Kilde INDBETALING)."""
        return [c for c in self.claim(claim_id)["Daekninger"] if c["Kilde"] == "INDBETALING"]

    def write_down(self, claim_id: str, amount: Decimal) -> Json:
        answer = self.client.post(
            f"{self.base}/fordringer/{claim_id}/nedreguleringer",
            headers={**self.auth, "Idempotency-Key": str(uuid.uuid4())},
            json={"Beloeb": str(amount), "Tekst": "Takst rettet efter klage"},
        )
        assert answer.status_code == 200, answer.text
        body: Json = answer.json()
        return body


class Finance:
    """Finance and NemKonto (CONTRACT §7, §9), with the finance token."""

    def __init__(self, client: httpx.Client, demo: Json) -> None:
        self.client = client
        self.auth = bearer(demo["finance_token"])

    def postings(self, reference: str) -> list[Json]:
        answer = self.client.get(
            "/finance/api/v1/posteringer", params={"Reference": reference}, headers=self.auth
        )
        assert answer.status_code == 200, answer.text
        found: list[Json] = answer.json()["Posteringer"]
        return found

    def payouts(self, reference: str) -> list[Json]:
        answer = self.client.get(
            "/nemkonto/api/v1/betalingsanmodninger",
            params={"Reference": reference},
            headers=self.auth,
        )
        assert answer.status_code == 200, answer.text
        found: list[Json] = answer.json()["Betalingsanmodninger"]
        return found

    def reconciliation(self, cvr: str) -> Json:
        answer = self.client.get(
            "/finance/api/v1/afstemning", params={"MyndighedCVR": cvr}, headers=self.auth
        )
        assert answer.status_code == 200, answer.text
        body: Json = answer.json()
        return body


def booked(posting: Json) -> Decimal:
    """What a posting moves: the sum of its debit lines; it balances (lines sum to zero)."""
    lines = [money(line["Beloeb"]) for line in posting["Posteringslinjer"]]
    assert sum(lines) == 0, f"posting {posting['PosteringId']} does not balance: {lines}"
    return sum((amount for amount in lines if amount > 0), Decimal(0))


def bookings(postings: list[Json]) -> list[tuple[str, Decimal]]:
    """(Posteringstype, amount) of each posting, sorted; each one balances."""
    return sorted((p["Posteringstype"], booked(p)) for p in postings)


@contextmanager
def postgres_databases(admin_url: str) -> Iterator[dict[str, str]]:
    """Fresh, empty PostgreSQL databases for every part of `indbetaling run`, as the
    `INDBETALING_<PART>_DATABASE_URL` settings that point it there; dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:12]
    names = {part: f"run_{tag}_{part}" for part in PARTS}
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield {
            f"INDBETALING_{part.upper()}_DATABASE_URL": make_url(admin_url)
            .set(database=name)
            .render_as_string(hide_password=False)
            for part, name in names.items()
        }
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

"""The reconciliation's collectors: they read, over the parts' public APIs, what each part says
about one authority, and hand `reconciliation.reconcile` its `Sources`.

- each hosted fagsystem's case-worker API (CONTRACT §9): `GET …/myndigheder/{cvr}/indbetalinger`
  and `…/tilbagefoersler?Tilstand=UDFOERT`, with that fagsystem's case-worker token;
- the debitorsystem's `GET …/myndigheder/{cvr}/daekninger`, with its auditor token;
- NemKonto's `GET …/betalingsanmodninger?MyndighedCVR=`, with the finance token;
- and finance's own postings (read by the caller from its own store).

Every listing is followed through its `FortsaettelsesNoegle` to the end. A part that cannot be
reached, refuses, has no such API (404) or answers something that is not the contract's shape
raises `SourceUnavailable` naming the part and what went wrong; all of them are read before
that, so the text names every part that failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from indbetaling.finance.domain import Posting
from indbetaling.finance.reconciliation import (
    Accounts,
    BookedPosting,
    DebtorCoverage,
    ExecutedReversal,
    FagsystemPayment,
    PaymentState,
    PayoutRequest,
    Sources,
    SourceUnavailable,
)
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.money import InvalidAmount, parse_amount, parse_ore

MAX_PAGES = 100_000
TIMEOUT_SECONDS = 30.0
PAYMENT_COVERAGE = "INDBETALING"


@dataclass(frozen=True)
class FagsystemSource:
    id: UUID
    base_url: str
    """Its case-worker API, e.g. `http://host/fagsystem/<id>/api/v1`."""
    token: str
    """Its case-worker token."""
    authorities: Collection[str] | None = None
    """The authorities it serves (None: ask it about every one)."""

    def serves(self, cvr: str) -> bool:
        return self.authorities is None or cvr in self.authorities


@dataclass(frozen=True)
class ApiSource:
    base_url: str
    """The part's API root, e.g. `http://host/debitorsystem/api/v1`."""
    token: str


@dataclass(frozen=True)
class ReconciliationSources:
    fagsystems: Sequence[FagsystemSource]
    debitorsystem: ApiSource
    """The debitorsystem's API root and its auditor token."""
    nemkonto: ApiSource
    """NemKonto's API root and the finance token."""


class _Bad(Exception):
    """An item of a listing is not of the contract's shape (text says what)."""


class Collector:
    """Reads one authority's listings from every part (concurrently) into `Sources`."""

    def __init__(
        self,
        sources: ReconciliationSources,
        http: httpx.AsyncClient,
        own_postings: Callable[[str], Awaitable[Sequence[Posting]]],
        accounts: Accounts | None = None,
        page_size: int = 1000,
    ) -> None:
        self.sources = sources
        self.http = http
        self.own_postings = own_postings
        self.accounts = accounts or Accounts()
        self.page_size = str(page_size)
        """`Antal` asked of the listings that take it (the debitorsystem's, NemKonto's)."""

    async def collect(self, cvr: str) -> Sources:
        fagsystems = [f for f in self.sources.fagsystems if f.serves(cvr)]
        coverages = asyncio.ensure_future(self._coverages(cvr))
        payouts = asyncio.ensure_future(self._payouts(cvr))
        postings = asyncio.ensure_future(self.own_postings(cvr))
        payments = [asyncio.ensure_future(self._payments(f, cvr)) for f in fagsystems]
        reversals = [asyncio.ensure_future(self._reversals(f, cvr)) for f in fagsystems]
        reads: list[asyncio.Future[Any]] = [coverages, payouts, postings, *payments, *reversals]
        await asyncio.wait(reads)
        failures = [e for r in reads if (e := r.exception()) is not None]
        for failure in failures:
            if not isinstance(failure, SourceUnavailable):
                raise failure  # a bug of ours, not a part's answer
        if failures:
            raise SourceUnavailable("; ".join(dict.fromkeys(str(f) for f in failures)))
        return Sources(
            payments=[p for read in payments for p in read.result()],
            reversals=[r for read in reversals for r in read.result()],
            coverages=coverages.result(),
            postings=[BookedPosting.of(p, self.accounts) for p in postings.result()],
            payouts=payouts.result(),
        )

    # -- the listings

    async def _payments(self, f: FagsystemSource, cvr: str) -> list[FagsystemPayment]:
        name = f"Fagsystemet {f.id}"
        items = await self._listing(
            name,
            f"{f.base_url}/myndigheder/{cvr}/indbetalinger",
            f.token,
            "Indbetalinger",
            {},
            missing=f"{name} har intet betalings-API",
        )
        return _each(name, "indbetaling", items, lambda i: _payment(f.id, i))

    async def _reversals(self, f: FagsystemSource, cvr: str) -> list[ExecutedReversal]:
        name = f"Fagsystemet {f.id}"
        items = await self._listing(
            name,
            f"{f.base_url}/myndigheder/{cvr}/tilbagefoersler",
            f.token,
            "Tilbagefoersler",
            {"Tilstand": "UDFOERT"},
            missing=f"{name} har intet API for tilbageførsler",
        )
        return _each(name, "tilbageførsel", items, lambda i: _reversal(f.id, i))

    async def _coverages(self, cvr: str) -> list[DebtorCoverage]:
        source = self.sources.debitorsystem
        name = "Debitorsystemet"
        items = await self._listing(
            name,
            f"{source.base_url}/myndigheder/{cvr}/daekninger",
            source.token,
            "Daekninger",
            {"Antal": self.page_size},
            missing=f"{name} kender ikke myndigheden {cvr} eller har ingen dækningsliste",
        )
        found = _each(name, "dækning", items, _coverage)
        return [c for c in found if c is not None]

    async def _payouts(self, cvr: str) -> list[PayoutRequest]:
        source = self.sources.nemkonto
        name = "NemKonto"
        items = await self._listing(
            name,
            f"{source.base_url}/betalingsanmodninger",
            source.token,
            "Betalingsanmodninger",
            {"MyndighedCVR": cvr, "Antal": self.page_size},
            missing=f"{name} har intet API for betalingsanmodninger",
        )
        return _each(name, "betalingsanmodning", items, _payout)

    async def _listing(
        self,
        name: str,
        url: str,
        token: str,
        plural: str,
        params: dict[str, str],
        *,
        missing: str,
    ) -> list[Any]:
        """Every item of a paged listing `{plural: [...], "FortsaettelsesNoegle"?}`."""
        items: list[Any] = []
        seen: set[str] = set()
        query = dict(params)
        for _ in range(MAX_PAGES):
            body = await self._get(name, url, token, query, missing=missing)
            page = body.get(plural) if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise SourceUnavailable(f"{name} svarede uden listen {plural} ({url})")
            items.extend(page)
            key = body.get("FortsaettelsesNoegle")
            if not key:
                return items
            if not isinstance(key, str) or key in seen:
                raise SourceUnavailable(f"{name} gentog sin FortsaettelsesNoegle ({url})")
            seen.add(key)
            query = {**params, "FortsaettelsesNoegle": key}
        raise SourceUnavailable(f"{name} blev ved med at sende flere sider ({url})")

    async def _get(
        self, name: str, url: str, token: str, params: dict[str, str], *, missing: str
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self.http.get(
                url, params=params, headers=headers, timeout=TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"{name} kunne ikke nås på {url}: {type(exc).__name__} {exc}".rstrip()
            ) from None
        if response.status_code == 404:
            raise SourceUnavailable(f"{missing} (404 på {url})")
        if response.status_code != 200:
            raise SourceUnavailable(
                f"{name} svarede {response.status_code} på {url}{_problem_text(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable(f"{name} svarede ikke med JSON på {url}") from None


def _problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and "FejlKode" in body:
        return f": {body.get('FejlKode')} {body.get('FejlTekst', '')}".rstrip()
    return ""


def _each(name: str, what: str, items: list[Any], read: Callable[[Any], Any]) -> list[Any]:
    result = []
    for n, item in enumerate(items, start=1):
        try:
            if not isinstance(item, dict):
                raise _Bad("ikke et objekt")
            result.append(read(item))
        except (_Bad, InvalidId, InvalidAmount, ValueError, TypeError) as exc:
            raise SourceUnavailable(f"{name} sendte en ugyldig {what} (nr. {n}): {exc}") from None
    return result


def _field(item: dict[str, Any], name: str) -> Any:
    if name not in item or item[name] is None:
        raise _Bad(f"{name} mangler")
    return item[name]


def _text(item: dict[str, Any], name: str) -> str:
    value = _field(item, name)
    if not isinstance(value, str):
        raise _Bad(f"{name} skal være en tekst")
    return value


def _optional_uuid(item: dict[str, Any], name: str) -> UUID | None:
    return parse_uuid(_text(item, name), name) if item.get(name) is not None else None


def _non_negative(item: dict[str, Any], name: str) -> int:
    ore = parse_ore(_text(item, name))
    if ore < 0:
        raise _Bad(f"{name} er negativ")
    return ore


def _payment(fagsystem_id: UUID, item: dict[str, Any]) -> FagsystemPayment:
    state = _text(item, "Tilstand")
    if state not in PaymentState.__members__:
        raise _Bad(f"Tilstand '{state[:40]}' er ukendt")
    return FagsystemPayment(
        payment_id=parse_uuid(_text(item, "IndbetalingId"), "IndbetalingId"),
        fagsystem_id=fagsystem_id,
        state=PaymentState(state),
        amount=parse_amount(_text(item, "Beloeb")),
    )


def _reversal(fagsystem_id: UUID, item: dict[str, Any]) -> ExecutedReversal:
    return ExecutedReversal(
        payment_id=parse_uuid(_text(item, "IndbetalingId"), "IndbetalingId"),
        fagsystem_id=fagsystem_id,
        pay_again=_non_negative(item, "Genindbetal"),
        pay_back=_non_negative(item, "Tilbagebetal"),
        pay_again_id=_optional_uuid(item, "GenindbetalingId"),
        pay_back_id=_optional_uuid(item, "TilbagebetalingId"),
    )


def _coverage(item: dict[str, Any]) -> DebtorCoverage | None:
    """A coverage made by a fagsystem's payment; None for other coverages (ANDEN)."""
    if _text(item, "Kilde") != PAYMENT_COVERAGE:
        return None
    reversed_ = _field(item, "Tilbagefoert")
    if not isinstance(reversed_, bool):
        raise _Bad("Tilbagefoert skal være true eller false")
    return DebtorCoverage(
        payment_id=parse_uuid(_text(item, "IndbetalingId"), "IndbetalingId"),
        fagsystem_id=parse_uuid(_text(item, "FagsystemId"), "FagsystemId"),
        amount=parse_amount(_text(item, "Beloeb")),
        reversed=reversed_,
    )


def _payout(item: dict[str, Any]) -> PayoutRequest:
    return PayoutRequest(
        request_id=parse_uuid(_text(item, "BetalingsanmodningId"), "BetalingsanmodningId"),
        reference=parse_uuid(_text(item, "Reference"), "Reference"),
        amount=parse_amount(_text(item, "Beloeb")),
    )

"""The finance part's entry point: the ledger of SF1590_A postings and the three-way
reconciliation, which reads the other parts only over their APIs (`client`).

`build` takes the tokens that may call it, the HTTP client its collectors use (in one process
an in-process ASGI client, in production a plain one) and where the reconciliation's sources
are: every hosted fagsystem's case-worker API and token, the debitorsystem's API and auditor
token, NemKonto's API and token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine

from indbetaling.bearer import token_guard
from indbetaling.finance.api import finance_router
from indbetaling.finance.client import (
    ApiSource,
    Collector,
    FagsystemSource,
    ReconciliationSources,
)
from indbetaling.finance.domain import Posting
from indbetaling.finance.reconciliation import Accounts, Reconciliation, reconcile
from indbetaling.finance.service import FinanceService
from indbetaling.finance.ui.routes import finance_pages
from indbetaling.parts import PartApp
from indbetaling.ui.access import WebAccess

__all__ = [
    "Accounts",
    "ApiSource",
    "FagsystemSource",
    "FinanceApp",
    "ReconciliationSources",
    "Web",
    "build",
]


@dataclass(frozen=True)
class Web:
    """What finance's pages need from the composition root: sign-in, and the authorities
    (CVR → name) it reconciles."""

    access: WebAccess
    authority_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class FinanceApp(PartApp):
    service: FinanceService
    reconcile: Reconciler | None


class Reconciler:
    """One authority's reconciliation: collect every part's listing, then compare."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    async def __call__(self, cvr: str) -> Reconciliation:
        return reconcile(await self.collector.collect(cvr))


def build(
    engine: Engine,
    *,
    tokens: Collection[str],
    http: httpx.AsyncClient | None = None,
    sources: ReconciliationSources | None = None,
    accounts: Accounts | None = None,
    web: Web | None = None,
) -> FinanceApp:
    """Finance on `engine`, callable by the bearers of `tokens`; without `sources` (and
    `http`) it keeps postings but cannot reconcile (503). With `web`, finance's pages are
    under `/finance/` (`ui`)."""
    service = FinanceService(engine)

    async def own_postings(cvr: str) -> Sequence[Posting]:
        return await asyncio.to_thread(service.authority_postings, cvr)

    reconciler = None
    if sources is not None:
        if http is None:
            raise ValueError("the reconciliation's sources need an HTTP client")
        reconciler = Reconciler(Collector(sources, http, own_postings, accounts))
    routers = [finance_router(service, token_guard(tokens), reconciler)]
    if web is not None:
        routers.append(
            finance_pages(service, reconciler, web.access, web.authority_names, accounts)
        )
    return FinanceApp(
        name="finance", engine=engine, routers=routers, service=service, reconcile=reconciler
    )

"""NemKonto's entry point: a small receiver of payment requests (SF1590_E), where the
fagsystems' pay-backs to parties go, so that each is made once and can be reconciled."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine

from indbetaling.bearer import token_guard
from indbetaling.nemkonto.api import PREFIX, nemkonto_router
from indbetaling.nemkonto.service import NemKontoService
from indbetaling.parts import PartApp

API_ROOT = PREFIX
"""Where its API is mounted: `/nemkonto/api/v1`."""


@dataclass(kw_only=True)
class NemKontoApp(PartApp):
    service: NemKontoService


def build(engine: Engine, *, tokens: Collection[str]) -> NemKontoApp:
    """NemKonto on `engine`, callable by the bearers of `tokens` (the finance token)."""
    service = NemKontoService(engine)
    router = nemkonto_router(service, token_guard(tokens))
    return NemKontoApp(name="nemkonto", engine=engine, routers=[router], service=service)

"""Finance and NemKonto as served: each part built by its `app.build` on a real database
(SQLite or PostgreSQL), mounted in an application like `indbetaling run` makes, called over
HTTP with the finance token."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from debitorsystem.conftest import make_world, world
from finance.rig import rig
from indbetaling import parts
from indbetaling.finance import app as finance_app
from indbetaling.nemkonto import app as nemkonto_app

from .values import CVR, PART, TOKEN

__all__ = ["make_world", "rig", "world"]  # fixtures of the reconciliation's rig


@dataclass
class Served:
    client: TestClient
    finance: finance_app.FinanceApp
    nemkonto: nemkonto_app.NemKontoApp
    headers: dict[str, str]


@pytest.fixture
def served(part_engine: Callable[[str, str], Engine], backend: str) -> Iterator[Served]:
    finance = finance_app.build(part_engine("finance", backend), tokens=[TOKEN])
    nemkonto = nemkonto_app.build(part_engine("nemkonto", backend), tokens=[TOKEN])
    app, workers = parts.new_app("Finans", "test")
    parts.mount(app, workers, [finance, nemkonto])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(client, finance, nemkonto, {"Authorization": f"Bearer {TOKEN}"})


def posting(
    reference: uuid.UUID | None = None,
    *,
    amount: str = "125.50",
    kind: str = "INDBETALING",
    cvr: str = CVR,
    posting_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A balanced posting of a payment: the debtor settlement account against the citizen's
    funds (the chart of accounts of CONTRACT §7)."""
    return {
        "PosteringId": str(posting_id or uuid.uuid4()),
        "Posteringsdato": date(2026, 11, 26).isoformat(),
        "MyndighedCVR": cvr,
        "Reference": str(reference or uuid.uuid4()),
        "Posteringstype": kind,
        "Posteringslinjer": [
            {"Kontonummer": "6010", "Beloeb": amount, "Tekst": "Mellemregning debitorsystem"},
            {"Kontonummer": "2901", "Beloeb": f"-{amount}", "Tekst": "Borgerens midler"},
        ],
    }


def payment_request(
    reference: uuid.UUID | None = None, *, amount: str = "40.00", cvr: str = CVR
) -> dict[str, Any]:
    return {
        "BetalingsanmodningId": str(uuid.uuid4()),
        "MyndighedCVR": cvr,
        "PartId": PART,
        "Beloeb": amount,
        "Reference": str(reference or uuid.uuid4()),
        "Tekst": "Tilbagebetaling af for meget betalt",
    }

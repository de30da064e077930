"""A rig for the three-way reconciliation: the real debitorsystem's coverages (auditor token),
the real finance and NemKonto on a real database, and recording stand-ins for the fagsystems'
case-worker API (`fagsystem_fake`), all on one application as `indbetaling run` composes them.
A world is made on it the way a fagsystem makes one: pay, book, reverse, pay again, pay back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from debitorsystem.conftest import World, code
from indbetaling import parts
from indbetaling.debitorsystem.api import coverage_router
from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import ReversalRequest
from indbetaling.finance import app as finance_app
from indbetaling.finance.app import ApiSource, FagsystemSource, ReconciliationSources
from indbetaling.nemkonto import app as nemkonto_app

from .fagsystem_fake import FakeFagsystem
from .values import CVR, OTHER_CVR, PART, TOKEN

BASE = "http://indbetaling.test"
AUDITOR = "revisor-token"
AFSTEMNING = "/finance/api/v1/afstemning"
ACCOUNT = {"citizen": "2901", "settlement": "6010", "payout": "2950"}


@dataclass
class Rig:
    world: World
    finance_engine: Engine
    nemkonto_engine: Engine
    stack: ExitStack
    fakes: list[FakeFagsystem] = field(default_factory=list)
    client: TestClient | None = None

    def serve(
        self,
        *,
        fagsystems: list[FagsystemSource] | None = None,
        auditor: str = AUDITOR,
        reconcile: bool = True,
        outside: str | None = None,
    ) -> TestClient:
        """Serve `app(...)` to the test (and to `rig.client`)."""
        app = self.app(fagsystems=fagsystems, auditor=auditor, reconcile=reconcile, outside=outside)
        self.client = self.stack.enter_context(TestClient(app, raise_server_exceptions=False))
        return self.client

    def app(
        self,
        *,
        fagsystems: list[FagsystemSource] | None = None,
        auditor: str = AUDITOR,
        reconcile: bool = True,
        outside: str | None = None,
    ) -> FastAPI:
        """The parts on one application, finance reading the others over in-process HTTP (and
        `outside` over the network)."""
        app, workers = parts.new_app("Indbetaling", "test")
        network = {outside: httpx.AsyncHTTPTransport()} if outside else {}
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), mounts=network)
        sources = ReconciliationSources(
            fagsystems=fagsystems
            if fagsystems is not None
            else [self.source(f) for f in self.fakes],
            debitorsystem=ApiSource(f"{BASE}/debitorsystem/api/v1", auditor),
            nemkonto=ApiSource(f"{BASE}/nemkonto/api/v1", TOKEN),
        )
        finance = finance_app.build(
            self.finance_engine, tokens=[TOKEN], http=http, sources=sources if reconcile else None
        )
        nemkonto = nemkonto_app.build(self.nemkonto_engine, tokens=[TOKEN])
        parts.mount(app, workers, [finance, nemkonto])
        app.include_router(
            coverage_router(self.world.service, auditor_token=AUDITOR), prefix="/debitorsystem"
        )
        for fake in self.fakes:
            app.include_router(fake.router())
        return app

    def source(self, fake: FakeFagsystem, **changes: Any) -> FagsystemSource:
        authorities = [CVR] if fake.id == self.world.fagsystem else [CVR, OTHER_CVR]
        values: dict[str, Any] = {
            "id": fake.id,
            "base_url": f"{BASE}/fagsystem/{fake.id}/api/v1",
            "token": fake.token,
            "authorities": authorities,
            **changes,
        }
        return FagsystemSource(**values)

    def reconcile(self, cvr: str = CVR) -> dict[str, Any]:
        assert self.client is not None
        answer = self.client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": cvr})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    # -- a world made as the fagsystem makes it: pay, book, reverse, pay again, pay back

    def pay(self, fake: FakeFagsystem, claim: uuid.UUID, amount: str) -> uuid.UUID:
        payment_id = uuid.uuid4()
        unit = self.world.org_unit if fake.id == self.world.fagsystem else self.world.other_org_unit
        answer = self.world.pay(
            claim, amount, payment_id=payment_id, fagsystem=fake.id, org_unit=unit
        )
        state = "ACCEPTERET" if code(answer) == "ACCEPTERET" else "AFVIST"
        fake.payments.setdefault(CVR, []).append(
            {
                "IndbetalingId": str(payment_id),
                "FordringId": str(claim),
                "MyndighedCVR": CVR,
                "Beloeb": amount,
                "IndbetalerPartId": PART,
                "OrganisationsenhedId": str(unit),
                "Tilstand": state,
                "Haendelser": [],
                "Posteringer": [],
            }
        )
        if state == "ACCEPTERET":
            self.book(payment_id, "INDBETALING", amount)
        return payment_id

    def book(
        self, reference: uuid.UUID, kind: str, amount: str, *, posting_id: uuid.UUID | None = None
    ) -> None:
        debit, credit = {
            "INDBETALING": (ACCOUNT["settlement"], ACCOUNT["citizen"]),
            "TILBAGEFOERSEL": (ACCOUNT["citizen"], ACCOUNT["settlement"]),
            "TILBAGEBETALING": (ACCOUNT["payout"], ACCOUNT["citizen"]),
        }[kind]
        body = {
            "PosteringId": str(posting_id or uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{reference}")),
            "Posteringsdato": "2026-11-26",
            "MyndighedCVR": CVR,
            "Reference": str(reference),
            "Posteringstype": kind,
            "Posteringslinjer": [
                {"Kontonummer": debit, "Beloeb": amount, "Tekst": kind},
                {"Kontonummer": credit, "Beloeb": f"-{amount}", "Tekst": kind},
            ],
        }
        assert self.client is not None
        answer = self.client.post("/finance/api/v1/posteringer", headers=bearer(), json=body)
        assert answer.status_code == 201, answer.text

    def reverse(
        self, fake: FakeFagsystem, payment_id: uuid.UUID, again: str, back: str
    ) -> uuid.UUID | None:
        request = ReversalRequest(payment_id, ReversalReason.ANDET, text="Sagsbehandler")
        self.world.service.reverse(fake.id, CVR, str(uuid.uuid4()), request)
        (payment,) = [p for p in fake.payments[CVR] if p["IndbetalingId"] == str(payment_id)]
        payment["Tilstand"] = "TILBAGEFOERT"
        self.book(payment_id, "TILBAGEFOERSEL", payment["Beloeb"])
        again_id = (
            self.pay(fake, uuid.UUID(payment["FordringId"]), again) if again != "0.00" else None
        )
        back_id = None
        if back != "0.00":
            self.book(payment_id, "TILBAGEBETALING", back)
            back_id = uuid.uuid4()
            request_body = {
                "BetalingsanmodningId": str(back_id),
                "MyndighedCVR": CVR,
                "PartId": PART,
                "Beloeb": back,
                "Reference": str(payment_id),
                "Tekst": "Tilbagebetaling",
            }
            assert self.client is not None
            sent = self.client.post(
                "/nemkonto/api/v1/betalingsanmodninger", headers=bearer(), json=request_body
            )
            assert sent.status_code == 201, sent.text
        fake.reversals.setdefault(CVR, []).append(
            {
                "TilbagefoerselId": str(uuid.uuid4()),
                "IndbetalingId": str(payment_id),
                "Kilde": "SAGSBEHANDLER",
                "Beloeb": payment["Beloeb"],
                "Tilstand": "UDFOERT",
                "Genindbetal": again,
                "Tilbagebetal": back,
                "GenindbetalingId": str(again_id) if again_id else None,
                "TilbagebetalingId": str(back_id) if back_id else None,
            }
        )
        return again_id


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rig(world: World, part_engine: Callable[[str, str], Engine], backend: str) -> Iterator[Rig]:
    with ExitStack() as stack:
        made = Rig(world, part_engine("finance", backend), part_engine("nemkonto", backend), stack)
        made.fakes = [
            FakeFagsystem(world.fagsystem, "sagsbehandler-a"),
            FakeFagsystem(world.other_fagsystem, "sagsbehandler-b"),
        ]
        made.serve()
        yield made


def consistent_world(rig: Rig) -> dict[str, uuid.UUID]:
    """Payments of both fagsystems, a refused one, a reversal paid partly again and partly
    back, one paid all back, one paid all again, another coverage, a reversal still waiting."""
    a, b = rig.fakes
    claims = [rig.world.claim(100_000) for _ in range(3)]
    made = {
        "plain": rig.pay(a, claims[0], "250.00"),
        "other": rig.pay(b, claims[1], "99.95"),
        "refused": rig.pay(a, claims[2], "5000.00"),
        "split": rig.pay(a, claims[2], "300.00"),
        "back": rig.pay(b, claims[1], "120.00"),
        "again": rig.pay(a, claims[0], "80.00"),
    }
    split_again = rig.reverse(a, made["split"], "100.00", "200.00")
    rig.reverse(b, made["back"], "0.00", "120.00")
    again_again = rig.reverse(a, made["again"], "80.00", "0.00")
    assert split_again and again_again
    made |= {"split_again": split_again, "again_again": again_again}
    rig.world.service.register_other_coverage(CVR, claims[0], 1_000)
    a.reversals[CVR].append(
        {
            "TilbagefoerselId": str(uuid.uuid4()),
            "IndbetalingId": str(made["plain"]),
            "Kilde": "ORDRE",
            "Beloeb": "250.00",
            "Tilstand": "AFVENTER",
        }
    )
    return made

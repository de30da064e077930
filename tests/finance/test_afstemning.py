"""The three-way reconciliation over the parts' APIs (`GET /finance/api/v1/afstemning`): the
real debitorsystem's coverages (auditor token), the real finance and NemKonto, and recording
stand-ins for the fagsystems' case-worker API (`fagsystem_fake`), all on one application as
`indbetaling run` composes them, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from debitorsystem.conftest import World, code, make_world, world
from debitorsystem.test_staff_api import assert_problem
from indbetaling import parts
from indbetaling.debitorsystem.api import coverage_router
from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import ReversalRequest
from indbetaling.finance import app as finance_app
from indbetaling.finance.app import ApiSource, FagsystemSource, ReconciliationSources
from indbetaling.nemkonto import app as nemkonto_app

from .conftest import CVR, OTHER_CVR, PART, TOKEN
from .fagsystem_fake import FakeFagsystem

__all__ = ["make_world", "world"]  # the debitorsystem's fixtures, used here

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
        self.client = self.stack.enter_context(TestClient(app, raise_server_exceptions=False))
        return self.client

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


def test_a_consistent_authority_agrees(rig: Rig) -> None:
    made = consistent_world(rig)
    result = rig.reconcile()
    assert result == {"MyndighedCVR": CVR, "Afstemt": True, "Antal": len(made), "Afvigelser": []}
    a, b = rig.fakes
    for fake in (a, b):
        assert {s.authorization for s in fake.seen} == {f"Bearer {fake.token}"}
        paths = [s.path for s in fake.seen]
        assert f"/fagsystem/{fake.id}/api/v1/myndigheder/{CVR}/indbetalinger" in paths
        reversal_asks = [s for s in fake.seen if s.path.endswith("/tilbagefoersler")]
        assert reversal_asks
        assert all(s.params.get("Tilstand") == "UDFOERT" for s in reversal_asks)
    # every page was fetched: a's six payments come two a page
    a_pages = [
        s.params.get("FortsaettelsesNoegle") for s in a.seen if s.path.endswith("/indbetalinger")
    ]
    assert a_pages == [None, "2", "4"]
    # the other authority: only the fagsystem serving it is asked, and nothing is there
    a.seen.clear()
    b.seen.clear()
    assert rig.reconcile(OTHER_CVR) == {
        "MyndighedCVR": OTHER_CVR,
        "Afstemt": True,
        "Antal": 0,
        "Afvigelser": [],
    }
    assert a.seen == []
    assert {s.path.split("/")[-2] for s in b.seen} == {OTHER_CVR}


def test_every_mismatch_is_named_with_its_payment(rig: Rig) -> None:
    made = consistent_world(rig)
    a, b = rig.fakes
    # booked twice (a resend under a new PosteringId)
    rig.book(made["plain"], "INDBETALING", "250.00", posting_id=uuid.uuid4())
    # a coverage the fagsystem does not know: paid in the debitorsystem behind its back
    claim = rig.world.claim(100_000)
    stranger = uuid.uuid4()
    paid = rig.world.pay(
        claim, "10.00", payment_id=stranger, fagsystem=b.id, org_unit=rig.world.other_org_unit
    )
    assert code(paid) == "ACCEPTERET"
    # reversed in the debitorsystem while the fagsystem still has it ACCEPTERET
    request = ReversalRequest(made["other"], ReversalReason.FEJLREGISTRERING)
    rig.world.service.reverse(b.id, CVR, str(uuid.uuid4()), request)
    # a pay-back that never reached NemKonto
    lost = rig.pay(a, claim, "60.00")
    (payment,) = [p for p in a.payments[CVR] if p["IndbetalingId"] == str(lost)]
    rig.world.service.reverse(
        a.id, CVR, str(uuid.uuid4()), ReversalRequest(lost, ReversalReason.ANDET)
    )
    payment["Tilstand"] = "TILBAGEFOERT"
    rig.book(lost, "TILBAGEFOERSEL", "60.00")
    rig.book(lost, "TILBAGEBETALING", "60.00")
    a.reversals[CVR].append(
        {
            "IndbetalingId": str(lost),
            "Tilstand": "UDFOERT",
            "Genindbetal": "0.00",
            "Tilbagebetal": "60.00",
        }
    )
    # a payment still waiting for its answer
    waiting = uuid.uuid4()
    a.payments[CVR].append(
        {**a.payments[CVR][0], "IndbetalingId": str(waiting), "Tilstand": "AFSENDT"}
    )

    result = rig.reconcile()
    assert result["Afstemt"] is False
    assert result["Antal"] == len(made) + 3
    found = {(d["IndbetalingId"], d["Beskrivelse"]) for d in result["Afvigelser"]}
    assert found == {
        (str(made["plain"]), "Bogført 2 gange (INDBETALING)"),
        (str(stranger), "Dækning fra en indbetaling, som intet fagsystem i afstemningen kender"),
        (
            str(made["other"]),
            "Tilstandene er forskellige: indbetalingen er ACCEPTERET i fagsystemet, "
            "men dækningen er tilbageført i debitorsystemet",
        ),
        (str(lost), "Tilbagebetalingen på 60.00 er ikke sendt til NemKonto"),
        (str(waiting), "Indbetalingen afventer stadig svar fra debitorsystemet (AFSENDT)"),
    }
    row = next(d for d in result["Afvigelser"] if d["IndbetalingId"] == str(stranger))
    assert row == {
        "IndbetalingId": str(stranger),
        "Fagsystem": "ukendt",
        "Debitorsystem": f"dækning 10.00 (fagsystem {b.id})",
        "Finans": "ingen postering",
        "Beskrivelse": "Dækning fra en indbetaling, som intet fagsystem i afstemningen kender",
    }


def test_a_fagsystem_without_a_payments_api_is_named_not_a_crash(rig: Rig) -> None:
    consistent_world(rig)
    a, b = rig.fakes
    nowhere = rig.source(a, base_url=f"{BASE}/fagsystem/{a.id}/findes-ikke")
    client = rig.serve(fagsystems=[nowhere, rig.source(b)])
    answer = client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
    text = answer.json()["FejlTekst"]
    assert (
        f"Fagsystemet {a.id} har intet betalings-API (404 på "
        f"{BASE}/fagsystem/{a.id}/findes-ikke/myndigheder/{CVR}/indbetalinger)" in text
    )
    assert f"Fagsystemet {a.id} har intet API for tilbageførsler" in text
    assert str(b.id) not in text


def test_parts_that_refuse_fail_or_answer_nonsense_are_named(rig: Rig) -> None:
    consistent_world(rig)
    a, b = rig.fakes
    wrong = rig.serve(
        fagsystems=[rig.source(a, token="forkert"), rig.source(b)], auditor="ikke-revisor"
    )
    answer = wrong.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
    text = answer.json()["FejlTekst"]
    assert f"Fagsystemet {a.id} svarede 401" in text
    assert "Debitorsystemet svarede 401" in text and "IKKE_AUTENTIFICERET Ukendt token" in text

    client = rig.serve()
    for broken, says in (
        (
            {
                "Indbetalinger": [
                    {"IndbetalingId": str(uuid.uuid4()), "Beloeb": "1e3", "Tilstand": "ACCEPTERET"}
                ]
            },
            "ugyldig indbetaling (nr. 1)",
        ),
        (
            {"Indbetalinger": [{"IndbetalingId": "x", "Beloeb": "1.00", "Tilstand": "ACCEPTERET"}]},
            "ugyldig indbetaling",
        ),
        (
            {
                "Indbetalinger": [
                    {"IndbetalingId": str(uuid.uuid4()), "Beloeb": "1.00", "Tilstand": "BETALT"}
                ]
            },
            "Tilstand 'BETALT' er ukendt",
        ),
        ({"Indbetalinger": "nej"}, "uden listen Indbetalinger"),
        ({"Indbetalinger": [], "FortsaettelsesNoegle": "samme"}, "gentog sin FortsaettelsesNoegle"),
    ):
        a.broken = broken
        answer = client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
        assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
        assert f"Fagsystemet {a.id}" in answer.json()["FejlTekst"]
        assert says in answer.json()["FejlTekst"]
    a.broken = None

    unreachable = rig.source(a, base_url="http://127.0.0.1:9/fagsystem")
    far = rig.serve(fagsystems=[unreachable], outside="http://127.0.0.1:9")
    answer = far.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
    assert (
        f"Fagsystemet {a.id} kunne ikke nås på http://127.0.0.1:9/fagsystem/myndigheder/{CVR}/indbetalinger"
        in answer.json()["FejlTekst"]
    )

    unknown = client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": "99999999"})
    assert_problem(unknown, 502, "KILDE_UTILGAENGELIG")
    assert "Debitorsystemet kender ikke myndigheden 99999999" in unknown.json()["FejlTekst"]


def test_bad_questions_and_a_finance_without_sources(rig: Rig) -> None:
    client = rig.client
    assert client is not None
    for params in ({}, {"MyndighedCVR": "1234"}, {"MyndighedCVR": "abcdefgh"}):
        assert_problem(
            client.get(AFSTEMNING, headers=bearer(), params=params), 422, "UGYLDIG_FORESPOERGSEL"
        )
    alone = rig.serve(reconcile=False)
    answer = alone.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 503, "AFSTEMNING_IKKE_OPSAT")

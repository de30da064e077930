"""Finance's pages (`/finance/`): postings by authority and by payment, the reconciliation per
authority with its chart of daily payments, reversals and pay-backs (SVG made on the server),
for the finance user only; a filter that is not a payment's id says so in Danish."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indbetaling.finance.domain import Posting, PostingType, new_posting
from indbetaling.finance.reconciliation import Accounts, Deviation, Reconciliation
from indbetaling.finance.service import FinanceService
from indbetaling.finance.ui.chart import Day, chart, daily
from indbetaling.finance.ui.routes import finance_pages
from indbetaling.ui.access import WebAccess
from indbetaling.ui.pages import Pages
from indbetaling.ui.sessions import SessionCodec
from indbetaling.ui.signin import signin_router
from indbetaling.ui.users import Account, Role, UserDirectory, WebUser

from .values import CVR, OTHER_CVR

FINANCE = WebUser("oekonomi", "Økonomi", Role.FINANS)
STAFF = WebUser("opkraevning", "Opkrævning", Role.OPKRAEVNING, CVR)
PAYMENT = uuid.uuid4()
DEVIATING = uuid.uuid4()


def booked(kind: PostingType, amount: str, day: date, reference: uuid.UUID = PAYMENT) -> Posting:
    """A posting as the fagsystems book it (CONTRACT §7): a payment on the settlement account,
    its reversal back, a pay-back from the settlement account to the payout account."""
    lines = {
        PostingType.INDBETALING: [("6010", amount, ""), ("2901", f"-{amount}", "")],
        PostingType.TILBAGEFOERSEL: [("6010", f"-{amount}", ""), ("2901", amount, "")],
        PostingType.TILBAGEBETALING: [("2950", amount, ""), ("2901", f"-{amount}", "")],
    }[kind]
    return new_posting(
        posting_id=uuid.uuid4(),
        posting_date=day,
        authority_cvr=CVR,
        reference=reference,
        type=kind,
        lines=lines,
    )


STORY = [
    booked(PostingType.INDBETALING, "25.00", date(2026, 11, 24)),
    booked(PostingType.TILBAGEFOERSEL, "25.00", date(2026, 11, 26)),
    booked(PostingType.TILBAGEBETALING, "10.00", date(2026, 11, 26)),
    booked(PostingType.INDBETALING, "15.00", date(2026, 11, 26), uuid.uuid4()),
]


def client_for(engine: Engine, user: WebUser, result: Reconciliation) -> TestClient:
    service = FinanceService(engine)
    for p in STORY:
        service.receive(p)
    access = WebAccess(
        SessionCodec("a-secret-of-enough-length", secure=False),
        UserDirectory([Account(FINANCE, "kode-1"), Account(STAFF, "kode-2")]),
    )

    async def reconcile(cvr: str) -> Reconciliation:
        return result

    app = FastAPI()
    app.include_router(signin_router(Pages(access, [], "Test")))
    app.include_router(
        finance_pages(service, reconcile, access, {CVR: "Testrup Kommune", OTHER_CVR: "Andeby"})
    )
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/log-ind")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    client.post(
        "/log-ind",
        data={
            "csrf_token": token.group(1),
            "brugernavn": user.username,
            "adgangskode": "kode-1" if user is FINANCE else "kode-2",
        },
    )
    return client


@pytest.fixture
def engine(part_engine: Callable[[str, str], Engine]) -> Engine:
    return part_engine("finance", "sqlite")


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_reconciliation_page_says_whether_it_agrees_and_charts_each_day(
    engine: Engine,
) -> None:
    client = client_for(engine, FINANCE, Reconciliation(2))
    page = client.get(f"/finance/afstemning/{CVR}")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Afstemt Ja alle kilder fortæller det samme" in shown
    assert "Antal 2 indbetalinger sammenlignet" in shown
    assert "<svg" in page.text
    assert "<script" not in page.text
    assert "Indbetalinger 24.11.2026: 25,00 kr." in page.text
    assert "Tilbageførsler 26.11.2026: 25,00 kr." in page.text
    assert "Tilbagebetalinger 26.11.2026: 10,00 kr." in page.text
    assert "26.11.2026 15,00 kr. 25,00 kr. 10,00 kr." in shown
    assert "25.11.2026" not in shown  # a day without postings is charted, not tabled
    assert "Bogført pr. dag, de sidste 14 dage" in shown
    assert client.get(f"/finance/afstemning/{CVR}?dage=90").status_code == 200
    wrong = client.get(f"/finance/afstemning/{CVR}?dage=abc")
    assert wrong.status_code == 404
    assert "Grafen kan vise 14, 31, 90 dage." in text_of(wrong.text)


def test_every_deviation_is_shown_with_its_payment(engine: Engine) -> None:
    deviation = Deviation(DEVIATING, "ACCEPTERET", "ingen dækning", "ingen", "Dækning mangler")
    client = client_for(engine, FINANCE, Reconciliation(3, (deviation,)))
    shown = text_of(client.get(f"/finance/afstemning/{CVR}").text)
    assert "Afstemt Nej 1 afvigelser" in shown
    assert f"{DEVIATING} ACCEPTERET ingen dækning ingen Dækning mangler" in shown


def test_postings_by_authority_and_by_payment_and_bad_filters(engine: Engine) -> None:
    client = client_for(engine, FINANCE, Reconciliation(0))
    everything = client.get(f"/finance/posteringer?myndighed={CVR}")
    assert everything.text.count("<tr>") == 1 + len(STORY)
    one = client.get(f"/finance/posteringer?reference={PAYMENT}")
    assert one.text.count("<tr>") == 1 + 3
    assert "-25,00 kr." in one.text
    for query, message in [
        ("reference=abc", "'abc' er ikke et IndbetalingId"),
        ("myndighed=12345678", "Vælg en af myndighederne"),
    ]:
        refused = client.get(f"/finance/posteringer?{query}")
        assert refused.status_code == 422
        assert message in text_of(refused.text)
    unknown = client.get("/finance/afstemning/12345678")
    assert unknown.status_code == 404
    assert "Der er ingen myndighed med CVR-nummer 12345678" in text_of(unknown.text)


def test_only_finance_sees_its_pages(engine: Engine) -> None:
    client = client_for(engine, STAFF, Reconciliation(0))
    for path in ("/finance/", f"/finance/afstemning/{CVR}", "/finance/posteringer"):
        refused = client.get(path)
        assert refused.status_code == 403
        assert "har ikke adgang til denne side" in text_of(refused.text)


def test_the_chart_sums_each_day_and_scales_to_a_round_top() -> None:
    days = daily(STORY, Accounts())
    assert days == [
        Day(date(2026, 11, 24), (2500, 0, 0)),
        Day(date(2026, 11, 25), (0, 0, 0)),
        Day(date(2026, 11, 26), (1500, 2500, 1000)),
    ]
    drawn = chart(days)
    assert drawn.ticks[-1].label == "50,00 kr."
    tallest = max(drawn.bars, key=lambda b: b.height)
    assert tallest.height == pytest.approx((drawn.bottom_y - drawn.top) / 2)
    assert chart([]).bars == ()

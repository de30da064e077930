"""The collections staff's pages (`/debitorsystem/`) on the debitorsystem's own service: a
staff user sees only their authority; a write-down, an annulment and another coverage are
each confirmed first and made once; closing an order left for manual handling keeps who and
why; bad input shows a Danish message and changes nothing."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indbetaling.debitorsystem.domain import OrderState
from indbetaling.debitorsystem.ui.routes import debitorsystem_pages
from indbetaling.ui.access import WebAccess
from indbetaling.ui.pages import Pages
from indbetaling.ui.sessions import SessionCodec
from indbetaling.ui.signin import signin_router
from indbetaling.ui.users import Account, Role, UserDirectory, WebUser

from .conftest import CVR, OTHER_CVR, World, WorldFactory
from .test_manual_handling import over_covered_order, to_manual

STAFF = WebUser("opkraevning-testrup", "Opkrævning i Testrup", Role.OPKRAEVNING, CVR)
WORKER = WebUser("sagsbehandler", "Sagsbehandler", Role.SAGSBEHANDLER, "fs")
BASE = f"/debitorsystem/myndigheder/{CVR}"


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    return make_world("sqlite")


def client_for(world: World, user: WebUser) -> TestClient:
    access = WebAccess(
        SessionCodec("a-secret-of-enough-length", secure=False),
        UserDirectory([Account(STAFF, "kode-1"), Account(WORKER, "kode-2")]),
    )
    app = FastAPI()
    app.include_router(signin_router(Pages(access, [], "Test")))
    app.include_router(debitorsystem_pages(world.service, access, {CVR: "Testrup Kommune"}))
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/log-ind")
    signed_in = client.post(
        "/log-ind",
        data={
            "csrf_token": csrf_of(page.text),
            "brugernavn": user.username,
            "adgangskode": "kode-1" if user is STAFF else "kode-2",
            "naeste": "/",
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    return client


@pytest.fixture
def staff(world: World) -> TestClient:
    return client_for(world, STAFF)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def key_of(html: str) -> str:
    found = re.search(r'name="noegle" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def error_text(html: str) -> str:
    """The page's error summary, as one line of text."""
    found = re.search(r'class="error-summary"[^>]*>(.*?)</div>', html, re.S)
    assert found is not None, html
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def post_form(client: TestClient, path: str, **fields: str) -> Any:
    """POST `fields` with the session's CSRF token (read from the staff's search page)."""
    token = csrf_of(client.get(f"{BASE}/").text)
    return client.post(path, data={"csrf_token": token, **fields})


def change(client: TestClient, claim: uuid.UUID, slug: str, **fields: str) -> Any:
    """Fill a change's form, then confirm it."""
    confirm = post_form(client, f"{BASE}/fordringer/{claim}/{slug}", **fields)
    assert confirm.status_code == 200, confirm.text
    assert "Bekræft" in confirm.text
    return post_form(
        client, f"{BASE}/fordringer/{claim}/{slug}/bekraeft", noegle=key_of(confirm.text), **fields
    )


def test_staff_land_on_their_authority_and_see_no_other(world: World, staff: TestClient) -> None:
    assert staff.get("/debitorsystem/").url.path == f"{BASE}/"
    other = staff.get(f"/debitorsystem/myndigheder/{OTHER_CVR}/")
    assert other.status_code == 403
    assert "har ikke adgang til denne side" in error_text(other.text)
    their_claim = world.claim(50_000, cvr=OTHER_CVR)
    shown = staff.get(f"{BASE}/fordringer/{their_claim}")
    assert shown.status_code == 404
    assert "Fordringen findes ikke" in error_text(shown.text)
    worker = client_for(world, WORKER)
    assert worker.get(f"{BASE}/").status_code == 403


def test_search_by_cpr_or_claim_id_and_refuse_what_is_neither(
    world: World, staff: TestClient
) -> None:
    claim = world.claim(50_000)
    by_cpr = post_form(staff, f"{BASE}/", soegning="010180-1234")
    assert by_cpr.url.path == f"{BASE}/borgere/0101801234"
    assert str(claim) in by_cpr.text
    assert "010180-XXXX" in by_cpr.text
    assert "0101801234" not in by_cpr.text.replace("borgere/0101801234", "")
    by_id = post_form(staff, f"{BASE}/", soegning=str(claim))
    assert by_id.url.path == f"{BASE}/fordringer/{claim}"
    for typed, message in [
        ("", "Skriv et CPR-nummer eller et FordringId"),
        ("abc", "Skriv et CPR-nummer (10 cifre"),
    ]:
        refused = post_form(staff, f"{BASE}/", soegning=typed)
        assert refused.status_code == 422
        assert message in error_text(refused.text)


def test_a_write_down_is_confirmed_then_made_once_and_orders_the_payment_back(
    world: World, staff: TestClient
) -> None:
    claim = world.claim(100_000)
    world.pay(claim, "600.00")
    form = staff.get(f"{BASE}/fordringer/{claim}/nedregulering")
    assert "Nedregulér" in form.text
    confirm = post_form(staff, f"{BASE}/fordringer/{claim}/nedregulering", beloeb="500,00")
    assert "500,00 kr." in confirm.text
    assert world.service.claim(CVR, claim).write_downs == ()  # not before it is confirmed
    fields = {"beloeb": "500,00", "tekst": "Takst nedsat", "noegle": key_of(confirm.text)}
    done = post_form(staff, f"{BASE}/fordringer/{claim}/nedregulering/bekraeft", **fields)
    assert done.url.path == f"{BASE}/fordringer/{claim}"
    assert "Fordringen er nedreguleret." in done.text
    again = post_form(staff, f"{BASE}/fordringer/{claim}/nedregulering/bekraeft", **fields)
    assert again.status_code == 200
    ledger = world.service.claim(CVR, claim)
    assert [w.amount for w in ledger.write_downs] == [50_000]
    (order,) = ledger.orders
    assert (order.amount, order.overcoverage) == (60_000, 10_000)
    assert str(order.id) in done.text


def test_annulment_and_another_coverage_through_the_pages(world: World, staff: TestClient) -> None:
    claim = world.claim(100_000)
    covered = change(staff, claim, "daekning", beloeb="250,00")
    assert "Den anden dækning er registreret." in covered.text
    assert world.service.claim(CVR, claim).restance == 75_000
    annulled = change(staff, claim, "annullering", tekst="Oprettet ved en fejl")
    assert "Fordringen er annulleret." in annulled.text
    ledger = world.service.claim(CVR, claim)
    assert ledger.claim.annulled
    refused = post_form(staff, f"{BASE}/fordringer/{claim}/nedregulering", beloeb="1,00")
    assert refused.status_code == 422
    assert "Fordringen er annulleret og kan ikke ændres" in error_text(refused.text)


def test_bad_input_on_a_change_shows_a_danish_message_and_changes_nothing(
    world: World, staff: TestClient
) -> None:
    claim = world.claim(100_000)
    world.pay(claim, "100.00")
    their_claim = world.claim(50_000, cvr=OTHER_CVR)
    for slug, typed, message in [
        ("nedregulering", "", "Skriv et beløb"),
        ("nedregulering", "abc", "'abc' er ikke et beløb"),
        ("nedregulering", "1.000,01", "større end fordringens hovedstol"),
        ("nedregulering", "99999999999999,00", "mere end 13 cifre"),
        ("nedregulering", "0", "Beløbet skal være større end 0,00 kr."),
        ("daekning", "900,01", "Beløbet er større end fordringens restance (900,00 kr.)"),
        ("daekning", "-5", "Beløbet skal være større end 0,00 kr."),
    ]:
        for step in ("", "/bekraeft"):
            answer = post_form(
                staff,
                f"{BASE}/fordringer/{claim}/{slug}{step}",
                beloeb=typed,
                noegle=str(uuid.uuid4()),
            )
            assert answer.status_code == 422, (slug, typed)
            assert message in error_text(answer.text), (slug, typed)
    too_long = post_form(staff, f"{BASE}/fordringer/{claim}/annullering", tekst="x" * 201)
    assert "højst være 200 tegn" in error_text(too_long.text)
    for token in ("forfalsket", None):
        data = {"beloeb": "1,00", "noegle": str(uuid.uuid4())}
        if token is not None:
            data["csrf_token"] = token
        forged = staff.post(f"{BASE}/fordringer/{claim}/nedregulering/bekraeft", data=data)
        assert forged.status_code == 403
        assert "Formularens sikkerhedsnøgle mangler eller passer ikke" in error_text(forged.text)
    theirs = post_form(
        staff,
        f"{BASE}/fordringer/{their_claim}/nedregulering/bekraeft",
        beloeb="1,00",
        noegle=str(uuid.uuid4()),
    )
    assert theirs.status_code == 404
    assert "Fordringen findes ikke" in error_text(theirs.text)
    nonsense = staff.get(f"{BASE}/fordringer/abc/nedregulering")
    assert nonsense.status_code == 404
    ours, other = world.service.claim(CVR, claim), world.service.claim(OTHER_CVR, their_claim)
    assert (ours.write_downs, ours.claim.annulled, len(ours.coverages)) == ((), False, 1)
    assert (other.write_downs, other.coverages) == ((), ())


def test_an_order_left_for_manual_handling_is_closed_with_who_and_why(
    world: World, staff: TestClient
) -> None:
    order = over_covered_order(world)
    to_manual(world, order)
    waiting = staff.get(f"{BASE}/tilbagefoerselsordrer?tilstand=MANUEL")
    assert str(order.id) in waiting.text
    assert "INDBETALING_UKENDT" in waiting.text
    page = f"{BASE}/tilbagefoerselsordrer/{order.id}"
    for typed, message in [("", "Skriv hvorfor ordren lukkes"), ("x" * 201, "højst være 200")]:
        for step in ("/luk", "/luk/bekraeft"):
            refused = post_form(staff, page + step, begrundelse=typed)
            assert refused.status_code == 422
            assert message in error_text(refused.text)
    forged = staff.post(
        page + "/luk/bekraeft", data={"csrf_token": "forfalsket", "begrundelse": "Udbetalt"}
    )
    assert forged.status_code == 403
    assert world.service.reversal_order(CVR, order.id).state is OrderState.MANUEL
    confirm = post_form(staff, page + "/luk", begrundelse="Udbetalt via NemKonto")
    assert "Opkrævning i Testrup" in confirm.text
    closed = post_form(staff, page + "/luk/bekraeft", begrundelse="Udbetalt via NemKonto")
    assert "Ordren er lukket." in closed.text
    stored = world.service.reversal_order(CVR, order.id)
    assert (stored.state, stored.closed_by, stored.closed_reason) == (
        OrderState.LUKKET,
        "Opkrævning i Testrup",
        "Udbetalt via NemKonto",
    )
    again = post_form(staff, page + "/luk/bekraeft", begrundelse="Igen")
    assert "Kun en ordre til manuel behandling kan lukkes" in error_text(again.text)
    unknown = staff.get(f"{BASE}/tilbagefoerselsordrer/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert "Tilbageførselsordren findes ikke" in error_text(unknown.text)

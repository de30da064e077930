"""The case worker's web pages, in Debian's Chromium against a real `indbetaling run`: the
story through the pages only (sign in, find a citizen, pay part of a claim, see it ACCEPTERET
with its postings; the reversal order that a write-down makes waits in the inbox of the
SAGSBEHANDLER-policy fagsystem; execute it, paying part again and part back), a screenshot of
each step, axe-core on each page; and bad input on every form, which shows a Danish message
and stores nothing.

Screenshots go to a temporary folder, or to INDBETALING_SCREENSHOT_DIR (the README's pictures
are made with `INDBETALING_SCREENSHOT_DIR=docs/screenshots`).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.browser import Story, chromium, new_page, reload_until, serious_violations
from e2e.test_run import free_port, sample_of, start, stop, wait_for_demo_json

pytestmark = pytest.mark.browser

PAID = Decimal("25.00")
OVER = Decimal("10.00")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("pages")
    proc = start(data_dir, free_port())
    try:
        yield wait_for_demo_json(data_dir, proc)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture
def api(demo: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        yield client


def kr(amount: Decimal) -> str:
    """`1.234,50` as the pages write it."""
    whole, _, cents = f"{amount:.2f}".partition(".")
    return f"{int(whole):,}".replace(",", ".") + f",{cents}"


def web_user(demo: dict[str, Any], fagsystem: dict[str, Any]) -> dict[str, str]:
    user: dict[str, str] = next(
        u for u in demo["web_users"] if u.get("fagsystem_id") == fagsystem["id"]
    )
    return user


def sign_in(page: Page, user: dict[str, str]) -> None:
    page.get_by_label("Brugernavn").fill(user["username"])
    page.get_by_label("Adgangskode").fill(user["password"])
    page.get_by_role("button", name="Log ind").click()


def caseworker_api(
    api: httpx.Client, fagsystem: dict[str, Any], cvr: str, path: str, **params: str
) -> Any:
    answer = api.get(
        f"/fagsystem/{fagsystem['id']}/api/v1/myndigheder/{cvr}/{path}",
        params=params,
        headers={"Authorization": f"Bearer {fagsystem['caseworker_token']}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(what: str, check: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.3)


def screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("INDBETALING_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path / "screenshots"


def test_the_case_workers_pages(
    browser: Browser, demo: dict[str, Any], api: httpx.Client, tmp_path: Path
) -> None:
    """One `indbetaling run` for both (each start costs more than the checks): the story,
    then bad input on every form."""
    the_case_workers_story(demo, browser, api, screenshot_dir(tmp_path))
    bad_input_on_every_form_shows_a_danish_message_and_changes_nothing(demo, browser, api)


def the_case_workers_story(
    demo: dict[str, Any], browser: Browser, api: httpx.Client, screenshots: Path
) -> None:
    cvr = demo["authorities"][0]["cvr"]
    fagsystem = next(
        f
        for f in demo["fagsystemer"]
        if cvr in f["authorities"] and f["reversal_policy"] == "SAGSBEHANDLER"
    )
    sample = sample_of(demo, cvr, 2)
    restance = Decimal(sample["restance"])
    cpr = sample["part_id"].removeprefix("urn:oio:cpr-nr:")
    page = new_page(browser)
    story = Story(page, screenshots)

    # 1-2. Sign in: the fagsystem's pages send whoever is not signed in to the sign-in page.
    page.goto(f"{demo['base_url']}/fagsystem/{fagsystem['id']}/")
    expect(page.get_by_role("heading", name="Log ind")).to_be_visible()
    story.step("log-ind")
    sign_in(page, web_user(demo, fagsystem))
    expect(page.get_by_role("heading", name=fagsystem["name"])).to_be_visible()
    story.step("myndigheder")

    # 3-4. Find the citizen by CPR-nummer: their payable claims.
    page.locator("main").get_by_role("link", name=re.compile(cvr)).click()
    page.get_by_label("CPR-nummer").fill(f"{cpr[:6]}-{cpr[6:]}")
    story.step("soeg-borger")
    page.get_by_role("button", name="Søg").click()
    expect(page.get_by_role("heading", name=f"Borger {cpr[:6]}-{cpr[6:]}")).to_be_visible()
    row = page.locator("tr", has_text=sample["fordring_id"])
    expect(row).to_contain_text(f"{kr(restance)} kr.")
    story.step("borger")

    # 5-7. Pay part of the claim: the amount is prefilled with the Restance; confirm.
    page.get_by_role("link", name=f"Betal fordring {sample['fordring_id']}").click()
    amount = page.get_by_label("Beløb i kroner")
    expect(amount).to_have_value(kr(restance))
    amount.fill(kr(PAID))
    story.step("betal")
    page.get_by_role("button", name="Betal", exact=True).click()
    expect(page.get_by_role("heading", name="Bekræft indbetaling")).to_be_visible()
    story.step("bekraeft-betaling")
    page.get_by_role("button", name="Bekræft").click()
    expect(page.locator("main")).to_contain_text("ACCEPTERET")
    payment_id = page.url.split("/indbetalinger/")[1].split("?")[0]
    paid = caseworker_api(api, fagsystem, cvr, f"indbetalinger/{payment_id}")
    assert (paid["Tilstand"], paid["Beloeb"]) == ("ACCEPTERET", f"{PAID:.2f}")
    assert Decimal(paid["Restance"]) == restance - PAID
    (posting,) = paid["Posteringer"]
    expect(page.locator("tr", has_text=posting)).to_contain_text("Indbetaling")
    story.step("indbetaling-accepteret")

    # Collections staff write the claim down below what was paid (their pages come later:
    # the staff REST API), so the debitorsystem orders this payment reversed.
    down = api.post(
        f"/debitorsystem/api/v1/myndigheder/{cvr}/fordringer/{sample['fordring_id']}"
        "/nedreguleringer",
        headers={"Authorization": f"Bearer {demo['staff_tokens'][cvr]}"},
        json={"Beloeb": f"{restance - PAID + OVER:.2f}", "Tekst": "Takst rettet"},
    )
    assert down.status_code == 200, down.text

    # 8. The order waits in the inbox: Kilde ORDRE, with the order's Overdaekning.
    page.get_by_role("link", name="Tilbageførsler").click()
    order_row = page.locator("tr", has_text=payment_id)
    reload_until(page, lambda: order_row.count() == 1)
    expect(order_row).to_contain_text("ORDRE")
    expect(order_row).to_contain_text(f"{kr(OVER)} kr.")
    story.step("indbakke")

    # 9-11. Execute it: the split is prefilled as AUTOMATISK would make it (pay again what the
    # claim owes after the reversal, pay back the over-coverage); confirm; it is carried out.
    order_row.get_by_role("link", name=re.compile("^Behandl")).click()
    expect(page.get_by_label("Genindbetal (kr.)")).to_have_value(kr(PAID - OVER))
    expect(page.get_by_label("Tilbagebetal (kr.)")).to_have_value(kr(OVER))
    story.step("tilbagefoersel")
    page.get_by_role("button", name="Tilbagefør").click()
    expect(page.get_by_role("heading", name="Bekræft tilbageførsel")).to_be_visible()
    story.step("bekraeft-tilbagefoersel")
    page.get_by_role("button", name="Bekræft").click()
    state = page.locator("dl.facts .state").first
    reload_until(page, lambda: state.inner_text() == "UDFOERT")
    expect(page.locator("main")).to_contain_text("til borgerens NemKonto")
    story.step("tilbagefoersel-udfoert")
    reversal_id = page.url.split("/tilbagefoersler/")[1].split("?")[0]
    done = caseworker_api(api, fagsystem, cvr, f"tilbagefoersler/{reversal_id}")
    assert (done["Tilstand"], done["Kilde"]) == ("UDFOERT", "ORDRE")
    assert (done["Genindbetal"], done["Tilbagebetal"]) == (f"{PAID - OVER:.2f}", f"{OVER:.2f}")
    repaid = wait_for(
        "the payment again",
        lambda: (
            caseworker_api(api, fagsystem, cvr, f"indbetalinger/{done['GenindbetalingId']}")[
                "Tilstand"
            ]
            == "ACCEPTERET"
        ),
    )
    assert repaid

    # 12. The payment is reversed, booked three times: paid, reversed, paid back.
    page.get_by_role("link", name=payment_id).click()
    expect(page.locator("dl.facts")).to_contain_text("TILBAGEFOERT")
    expect(page.locator("main table").first.locator("tbody tr")).to_have_count(3)
    story.step("indbetaling-tilbagefoert")
    reversed_ = caseworker_api(api, fagsystem, cvr, f"indbetalinger/{payment_id}")
    assert reversed_["Tilstand"] == "TILBAGEFOERT"
    assert len(reversed_["Posteringer"]) == 3
    for posting in reversed_["Posteringer"]:
        expect(page.locator("main")).to_contain_text(posting)
    assert story.steps == 12


def error_shown(page: Page, text: str) -> None:
    expect(page.locator(".error-summary")).to_contain_text(text)


def forge(page: Page, how: str) -> None:
    """Forge (`value`) or drop (`remove`) the main form's CSRF token."""
    field = page.locator("main input[name=csrf_token]")
    script = "e => e.remove()" if how == "remove" else "e => { e.value = 'forfalsket' }"
    field.evaluate(script)


def bad_input_on_every_form_shows_a_danish_message_and_changes_nothing(
    demo: dict[str, Any], browser: Browser, api: httpx.Client
) -> None:
    authorities = [a["cvr"] for a in demo["authorities"]]
    fagsystem = next(f for f in demo["fagsystemer"] if set(f["authorities"]) != set(authorities))
    cvr = fagsystem["authorities"][0]
    other_cvr = next(c for c in authorities if c not in fagsystem["authorities"])
    other_fagsystem = next(f for f in demo["fagsystemer"] if f["id"] != fagsystem["id"])
    sample = sample_of(demo, cvr, 5)
    part_id = sample["part_id"]
    cpr = part_id.removeprefix("urn:oio:cpr-nr:")
    restance = Decimal(sample["restance"])
    reversals_before = caseworker_api(api, fagsystem, cvr, "tilbagefoersler")
    base = f"{demo['base_url']}/fagsystem/{fagsystem['id']}"
    home = f"{base}/myndigheder/{cvr}"
    page = new_page(browser)

    # Sign-in: empty, wrong password, forged CSRF token.
    page.goto(f"{base}/")
    page.get_by_role("button", name="Log ind").click()
    error_shown(page, "Skriv dit brugernavn")
    page.get_by_label("Brugernavn").fill(web_user(demo, fagsystem)["username"])
    page.get_by_label("Adgangskode").fill("abc")
    page.get_by_role("button", name="Log ind").click()
    error_shown(page, "Brugernavnet eller adgangskoden er forkert")
    forge(page, "value")
    sign_in(page, web_user(demo, fagsystem))
    error_shown(page, "Formularens sikkerhedsnøgle mangler eller passer ikke")
    page.goto(f"{base}/")
    sign_in(page, web_user(demo, fagsystem))

    # Search: empty, not a CPR number, an unknown one, a missing CSRF token.
    page.goto(f"{home}/")
    for typed, message in [
        ("", "Skriv et CPR-nummer"),
        ("abc", "Et CPR-nummer er 10 cifre"),
        ("3901000000", "Der er ingen betalbare fordringer for CPR-nummer 390100-XXXX"),
    ]:
        page.get_by_label("CPR-nummer").fill(typed)
        page.get_by_role("button", name="Søg").click()
        error_shown(page, message)
    forge(page, "remove")
    page.get_by_label("CPR-nummer").fill(cpr)
    page.get_by_role("button", name="Søg").click()
    error_shown(page, "Formularens sikkerhedsnøgle mangler")

    # Paying: empty, `abc`, more than the Restance, more than the wire can carry, 0; then a
    # forged CSRF token on the confirm step.
    page.goto(f"{home}/borgere/{cpr}/fordringer/{sample['fordring_id']}/betal")
    amount = page.get_by_label("Beløb i kroner")
    for typed, message in [
        ("", "Skriv et beløb"),
        ("abc", "'abc' er ikke et beløb"),
        (kr(restance + Decimal("0.01")), "Beløbet er større end fordringens restance"),
        ("99999999999999,00", "mere end 13 cifre"),
        ("0", "Beløbet skal være større end 0,00 kr."),
    ]:
        amount.fill(typed)
        page.get_by_role("button", name="Betal", exact=True).click()
        error_shown(page, message)
        expect(page.get_by_label("Beløb i kroner")).to_have_attribute("aria-invalid", "true")
    amount.fill("10,00")
    page.get_by_role("button", name="Betal", exact=True).click()
    forge(page, "value")
    page.get_by_role("button", name="Bekræft").click()
    error_shown(page, "Formularens sikkerhedsnøgle")

    # Another authority's claim, another authority, another fagsystem in the address.
    other = sample_of(demo, other_cvr, 0)
    other_cpr = other["part_id"].removeprefix("urn:oio:cpr-nr:")
    page.goto(f"{home}/borgere/{other_cpr}/fordringer/{other['fordring_id']}/betal")
    error_shown(page, "Fordringen er ikke blandt borgerens betalbare fordringer")
    page.goto(f"{base}/myndigheder/{other_cvr}/")
    error_shown(page, f"Fagsystemet har ingen aftale med myndigheden {other_cvr}")
    page.goto(f"{demo['base_url']}/fagsystem/{other_fagsystem['id']}/")
    error_shown(page, "har ikke adgang til denne side")

    # Manual advice: empty, not an id, an unknown payment.
    page.goto(f"{home}/tilbagefoersler/ny?kilde=MANUEL_ADVIS")
    for typed, message in [
        ("", "Skriv indbetalingens id"),
        ("abc", "IndbetalingId er ikke et gyldigt id"),
        (str(uuid.uuid4()), "Indbetalingen findes ikke"),
    ]:
        page.get_by_label("IndbetalingId").fill(typed)
        page.get_by_role("button", name="Registrér").click()
        error_shown(page, message)

    # Executing a reversal: a payment of this fagsystem, reversed by the case worker through
    # its page, then a split that is not an amount, negative, or not the payment's amount; a
    # forged CSRF token on the register form and on the confirm step.
    paying = sample_of(demo, cvr, 6)
    paid = api.post(
        f"/fagsystem/{fagsystem['id']}/api/v1/myndigheder/{cvr}/indbetalinger",
        headers={
            "Authorization": f"Bearer {fagsystem['caseworker_token']}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
        json={
            "FordringId": paying["fordring_id"],
            "Beloeb": "10.00",
            "IndbetalerPartId": paying["part_id"],
            "OrganisationsenhedId": fagsystem["org_units"][0],
        },
    )
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["IndbetalingId"]
    page.goto(f"{home}/indbetalinger/{payment_id}")
    page.get_by_role("link", name="Tilbagefør indbetalingen").click()
    expect(page.get_by_label("IndbetalingId")).to_have_value(payment_id)
    forge(page, "value")
    page.get_by_role("button", name="Registrér").click()
    error_shown(page, "Formularens sikkerhedsnøgle")
    page.go_back()
    page.reload()
    page.get_by_role("button", name="Registrér").click()
    expect(page.locator("dl.facts")).to_contain_text("SAGSBEHANDLER")
    expect(page.get_by_label("Genindbetal (kr.)")).to_have_value(kr(Decimal("10.00")))
    for repay, payback, message in [
        ("abc", "0", "Genindbetal: 'abc' er ikke et beløb"),
        ("-1,00", "11,00", "Genindbetal må ikke være negativt"),
        ("5,00", "1,00", "skal tilsammen være indbetalingens beløb (10,00 kr.)"),
    ]:
        page.get_by_label("Genindbetal (kr.)").fill(repay)
        page.get_by_label("Tilbagebetal (kr.)").fill(payback)
        page.get_by_role("button", name="Tilbagefør").click()
        error_shown(page, message)
    page.get_by_label("Genindbetal (kr.)").fill("4,00")
    page.get_by_label("Tilbagebetal (kr.)").fill("6,00")
    page.get_by_role("button", name="Tilbagefør").click()
    forge(page, "remove")
    page.get_by_role("button", name="Bekræft").click()
    error_shown(page, "Formularens sikkerhedsnøgle mangler")
    waiting, *older = caseworker_api(api, fagsystem, cvr, "tilbagefoersler")["Tilbagefoersler"]
    assert older == reversals_before["Tilbagefoersler"]
    assert (waiting["IndbetalingId"], waiting["Tilstand"]) == (payment_id, "AFVENTER")
    assert "Genindbetal" not in waiting
    still = caseworker_api(api, fagsystem, cvr, f"indbetalinger/{payment_id}")
    assert still["Tilstand"] == "ACCEPTERET"

    # Nothing of it was stored.
    assert caseworker_api(api, fagsystem, cvr, "indbetalinger", PartId=part_id) == {
        "Indbetalinger": []
    }
    assert caseworker_api(api, fagsystem, cvr, "tilbagefoersler") == {
        "Tilbagefoersler": [waiting, *reversals_before["Tilbagefoersler"]]
    }


def test_axe_finds_a_serious_fault_when_there_is_one(browser: Browser) -> None:
    """The accessibility check above would see a fault: a field without a label."""
    page = new_page(browser)
    page.set_content('<html lang="da"><body><main><input type="text"></main></body></html>')
    assert "label" in {v["id"] for v in serious_violations(page)}

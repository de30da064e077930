"""The web pages, in Debian's Chromium against a real `indbetaling run`: the story through the
pages only (a case worker signs in, finds a citizen, pays part of a claim and sees it
ACCEPTERET with its postings; collections staff find the claim and write it down; the reversal
order waits in the inbox of the SAGSBEHANDLER-policy fagsystem; the case worker executes it,
paying part again and part back; finance sees the authority's reconciliation agree), a
screenshot of each step, axe-core on each page; and bad input on every form, which shows a
Danish message and stores nothing.

Screenshots go to a temporary folder, or to INDBETALING_SCREENSHOT_DIR (the README's pictures
are made with `INDBETALING_SCREENSHOT_DIR=docs/screenshots`).
"""

from __future__ import annotations

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

from e2e.browser import (
    Story,
    new_page,
    no_serious_violations,
    reload_until,
    running_demo,
    screenshot_dir,
    serious_violations,
    sign_in,
)
from e2e.test_run import sample_of

pytestmark = pytest.mark.browser

PAID = Decimal("25.00")
OVER = Decimal("10.00")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_demo(tmp_path_factory.mktemp("pages")) as found:
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


def staff_user(demo: dict[str, Any], cvr: str) -> dict[str, str]:
    user: dict[str, str] = next(u for u in demo["web_users"] if u.get("cvr") == cvr)
    return user


def finance_user(demo: dict[str, Any]) -> dict[str, str]:
    user: dict[str, str] = next(u for u in demo["web_users"] if u["role"] == "FINANS")
    return user


def staff_api(api: httpx.Client, demo: dict[str, Any], cvr: str, path: str) -> Any:
    answer = api.get(
        f"/debitorsystem/api/v1/myndigheder/{cvr}/{path}",
        headers={"Authorization": f"Bearer {demo['staff_tokens'][cvr]}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


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


def test_the_case_workers_pages(
    browser: Browser, demo: dict[str, Any], api: httpx.Client, tmp_path: Path
) -> None:
    """One `indbetaling run` for both (each start costs more than the checks): the story,
    then bad input on every form."""
    the_case_workers_story(demo, browser, api, screenshot_dir(tmp_path))
    bad_input_on_every_form_shows_a_danish_message_and_changes_nothing(demo, browser, api)
    bad_input_on_the_staff_and_finance_forms_changes_nothing(demo, browser, api)


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

    # 8-12. Collections staff of the authority sign in, find the claim by the citizen's
    # CPR-nummer and write it down below what was paid (`Nedregulér`, `Bekræft`), so the
    # debitorsystem orders this payment reversed.
    staff_page = new_page(browser)
    story.page = staff_page
    staff_page.goto(f"{demo['base_url']}/debitorsystem/")
    sign_in(staff_page, staff_user(demo, cvr))
    staff_page.get_by_label("CPR-nummer eller FordringId").fill(f"{cpr[:6]}-{cpr[6:]}")
    story.step("opkraevning-soeg")
    staff_page.get_by_role("button", name="Søg").click()
    expect(staff_page.get_by_role("heading", name=f"Borger {cpr[:6]}-XXXX")).to_be_visible()
    no_serious_violations(staff_page)
    staff_page.get_by_role("link", name=sample["fordring_id"]).click()
    coverage_row = staff_page.locator("tr", has_text=payment_id)
    expect(coverage_row).to_contain_text(f"{kr(PAID)} kr.")
    story.step("opkraevning-fordring")
    staff_page.get_by_role("link", name="Nedregulér fordringen").click()
    write_down = restance - PAID + OVER
    staff_page.get_by_label("Nedregulér med (kr.)").fill(kr(write_down))
    staff_page.get_by_label("Begrundelse (valgfri)").fill("Takst rettet")
    story.step("nedregulering")
    staff_page.get_by_role("button", name="Nedregulér", exact=True).click()
    expect(staff_page.get_by_role("heading", name="Bekræft: nedregulér fordringen")).to_be_visible()
    story.step("bekraeft-nedregulering")
    staff_page.get_by_role("button", name="Bekræft").click()
    expect(staff_page.locator(".notice")).to_contain_text("Fordringen er nedreguleret.")
    expect(staff_page.locator("tr", has_text=payment_id).last).to_contain_text(f"{kr(OVER)} kr.")
    story.step("fordring-nedreguleret")
    claim_now = staff_api(api, demo, cvr, f"fordringer/{sample['fordring_id']}")
    assert [w["Beloeb"] for w in claim_now["Nedreguleringer"]] == [f"{write_down:.2f}"]
    (order,) = claim_now["TilbagefoerselsOrdrer"]
    assert (order["IndbetalingId"], order["Overdaekning"]) == (payment_id, f"{OVER:.2f}")
    story.page = page

    # 13. The order waits in the inbox: Kilde ORDRE, with the order's Overdaekning.
    page.get_by_role("link", name="Tilbageførsler").click()
    order_row = page.locator("tr", has_text=payment_id)
    reload_until(page, lambda: order_row.count() == 1)
    expect(order_row).to_contain_text("ORDRE")
    expect(order_row).to_contain_text(f"{kr(OVER)} kr.")
    story.step("indbakke")

    # 14-16. Execute it: the split is prefilled as AUTOMATISK would make it (pay again what the
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

    # 17. The payment is reversed, booked three times: paid, reversed, paid back.
    page.get_by_role("link", name=payment_id).click()
    expect(page.locator("dl.facts")).to_contain_text("TILBAGEFOERT")
    expect(page.locator("main table").first.locator("tbody tr")).to_have_count(3)
    story.step("indbetaling-tilbagefoert")
    reversed_ = caseworker_api(api, fagsystem, cvr, f"indbetalinger/{payment_id}")
    assert reversed_["Tilstand"] == "TILBAGEFOERT"
    assert len(reversed_["Posteringer"]) == 3
    for posting in reversed_["Posteringer"]:
        expect(page.locator("main")).to_contain_text(posting)

    # 18-19. Finance signs in: the authority's reconciliation agrees (as the demo started),
    # charted by day; the payment's three postings under its Reference.
    finance_page = new_page(browser)
    story.page = finance_page
    finance_page.goto(f"{demo['base_url']}/finance/")
    sign_in(finance_page, finance_user(demo))
    no_serious_violations(finance_page)
    finance_page.get_by_role("link", name=re.compile(f"^Afstemning for .*{cvr}")).click()
    agreed = finance_page.locator("dl.facts dd").first
    reload_until(finance_page, lambda: agreed.inner_text().startswith("Ja"))
    expect(finance_page.locator("svg rect").first).to_be_visible()
    story.step("afstemning")
    reconciled = api.get(
        "/finance/api/v1/afstemning",
        params={"MyndighedCVR": cvr},
        headers={"Authorization": f"Bearer {demo['finance_token']}"},
    )
    assert reconciled.status_code == 200, reconciled.text
    assert (reconciled.json()["Afstemt"], reconciled.json()["Afvigelser"]) == (True, [])
    count = reconciled.json()["Antal"]
    expect(finance_page.locator("dl.facts")).to_contain_text(f"{count} indbetalinger")
    finance_page.get_by_role("link", name="Posteringer", exact=True).click()
    finance_page.get_by_label("Reference (IndbetalingId, valgfri)").fill(payment_id)
    finance_page.get_by_role("button", name="Søg").click()
    expect(finance_page.locator("main tbody tr")).to_have_count(3)
    for kind in ("INDBETALING", "TILBAGEFOERSEL", "TILBAGEBETALING"):
        expect(finance_page.locator("main tbody")).to_contain_text(kind)
    story.step("posteringer")
    assert story.steps == 19


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


def bad_input_on_the_staff_and_finance_forms_changes_nothing(
    demo: dict[str, Any], browser: Browser, api: httpx.Client
) -> None:
    cvr, other_cvr = demo["authorities"][0]["cvr"], demo["authorities"][1]["cvr"]
    sample = sample_of(demo, cvr, 7)
    other = sample_of(demo, other_cvr, 0)
    base = f"{demo['base_url']}/debitorsystem/myndigheder/{cvr}"
    before = staff_api(api, demo, cvr, f"fordringer/{sample['fordring_id']}")
    theirs_before = staff_api(api, demo, other_cvr, f"fordringer/{other['fordring_id']}")
    page = new_page(browser)
    page.goto(f"{demo['base_url']}/debitorsystem/")
    sign_in(page, staff_user(demo, cvr))

    # Search: empty, `abc`, a missing CSRF token.
    search = page.get_by_label("CPR-nummer eller FordringId")
    for typed, message in [
        ("", "Skriv et CPR-nummer eller et FordringId"),
        ("abc", "Skriv et CPR-nummer (10 cifre"),
    ]:
        search.fill(typed)
        page.get_by_role("button", name="Søg").click()
        error_shown(page, message)
    forge(page, "remove")
    page.get_by_label("CPR-nummer eller FordringId").fill(sample["fordring_id"])
    page.get_by_role("button", name="Søg").click()
    error_shown(page, "Formularens sikkerhedsnøgle mangler")

    # Writing down: empty, `abc`, more than is owed, more than the wire carries; another
    # coverage beyond the Restance; a forged CSRF token on the confirm step.
    claim_page = f"{base}/fordringer/{sample['fordring_id']}"
    for slug, label, button, typed, message in [
        ("nedregulering", "Nedregulér med (kr.)", "Nedregulér", "", "Skriv et beløb"),
        ("nedregulering", "Nedregulér med (kr.)", "Nedregulér", "abc", "'abc' er ikke et beløb"),
        (
            "nedregulering",
            "Nedregulér med (kr.)",
            "Nedregulér",
            "9.999.999,00",
            "større end fordringens hovedstol",
        ),
        (
            "nedregulering",
            "Nedregulér med (kr.)",
            "Nedregulér",
            "99999999999999,00",
            "mere end 13 cifre",
        ),
        (
            "daekning",
            "Beløb (kr.)",
            "Registrér dækning",
            kr(Decimal(sample["restance"]) + Decimal("0.01")),
            "Beløbet er større end fordringens restance",
        ),
    ]:
        page.goto(f"{claim_page}/{slug}")
        page.get_by_label(label).fill(typed)
        page.get_by_role("button", name=button, exact=True).click()
        error_shown(page, message)
        expect(page.get_by_label(label)).to_have_attribute("aria-invalid", "true")
    no_serious_violations(page)
    page.get_by_label("Beløb (kr.)").fill("1,00")
    page.get_by_role("button", name="Registrér dækning").click()
    forge(page, "value")
    page.get_by_role("button", name="Bekræft").click()
    error_shown(page, "Formularens sikkerhedsnøgle")
    page.goto(f"{claim_page}/annullering")
    page.get_by_role("button", name="Annullér fordringen").click()
    forge(page, "remove")
    page.get_by_role("button", name="Bekræft").click()
    error_shown(page, "Formularens sikkerhedsnøgle mangler")

    # Another authority's claim id, and another authority, in the address.
    page.goto(f"{base}/fordringer/{other['fordring_id']}/nedregulering")
    error_shown(page, "Fordringen findes ikke")
    page.goto(f"{demo['base_url']}/debitorsystem/myndigheder/{other_cvr}/")
    error_shown(page, "har ikke adgang til denne side")

    # The staff's other pages pass axe-core too: an account's claims, the orders (the story's
    # among them), those left for manual handling, one order.
    page.goto(claim_page)
    page.locator("dl.facts").get_by_role("link", name=re.compile("^[0-9a-f-]{36}$")).click()
    expect(page.get_by_role("heading", name=re.compile("^Debitorkonto"))).to_be_visible()
    no_serious_violations(page)
    page.goto(f"{base}/tilbagefoerselsordrer?tilstand=MANUEL")
    no_serious_violations(page)
    page.goto(f"{base}/tilbagefoerselsordrer")
    page.get_by_role("link", name=re.compile("^Vis tilbageførselsordre")).first.click()
    expect(page.get_by_role("heading", name="Tilbageførselsordre")).to_be_visible()
    no_serious_violations(page)

    # Finance: a Reference that is not a payment's id; staff may not see finance's pages.
    page.goto(f"{demo['base_url']}/finance/")
    error_shown(page, "har ikke adgang til denne side")
    finance = new_page(browser)
    finance.goto(f"{demo['base_url']}/finance/posteringer")
    sign_in(finance, finance_user(demo))
    finance.get_by_label("Reference (IndbetalingId, valgfri)").fill("abc")
    finance.get_by_role("button", name="Søg").click()
    error_shown(finance, "'abc' er ikke et IndbetalingId")

    # Nothing of it was stored.
    assert staff_api(api, demo, cvr, f"fordringer/{sample['fordring_id']}") == before
    assert staff_api(api, demo, other_cvr, f"fordringer/{other['fordring_id']}") == theirs_before


def test_axe_finds_a_serious_fault_when_there_is_one(browser: Browser) -> None:
    """The accessibility check above would see a fault: a field without a label."""
    page = new_page(browser)
    page.set_content('<html lang="da"><body><main><input type="text"></main></body></html>')
    assert "label" in {v["id"] for v in serious_violations(page)}

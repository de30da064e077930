"""The Beskedfordeler's web pages, in Debian's Chromium against a real `indbetaling run`.

The story through the pages: a subscriber's administrator signs in, makes a pull mailbox and a
value list from a CSV file holding a sample claim's party, and subscribes the mailbox filtered
by it (`Opret abonnement`). Collections staff write the claim down (staff REST API, CONTRACT
§10), and its message arrives in the mailbox: its depth and its list of waiting messages show
it. A push mailbox of the same subscriber (made through the gateway, to a receiver that
refuses every message) puts the message in the error queue, where the administrator sees the
reason and re-delivers it. The operator sees every mailbox's depth, the error queue across
subscribers, and a refused publication with its reason, and re-delivers too. Every page is
checked by axe-core and photographed (`bf-…` under INDBETALING_SCREENSHOT_DIR).

Then bad input on every form (empty, malformed CPR numbers in the CSV, a file too big, a
forged or missing CSRF token, another subscriber's mailbox or value list in the address) shows
a Danish message and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from besked_samples import claim as claim_view
from besked_samples import envelope
from e2e.browser import (
    Story,
    new_page,
    no_serious_violations,
    reload_until,
    running_demo,
    screenshot_dir,
    sign_in,
)
from e2e.test_claim_messages_over_the_wire import XML, token, wait_until
from e2e.test_run import sample_of
from e2e.test_subscriber_through_the_gateway import REFUSAL, push_receiver, staff_write_down
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING, read_status_code

pytestmark = pytest.mark.browser

BF = "/api/v1/beskedfordeler"
PAGES = "/beskedfordeler/sider"
LIST_NAME = "Borgere med sag"
MAILBOX_NAME = "Til afhentning"
OTHER_CPR = "0102034567"


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Any]]:
    with push_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_demo(tmp_path_factory.mktemp("bf-pages")) as found:
        yield found


def user_named(demo: dict[str, Any], **match: str) -> dict[str, str]:
    found: dict[str, str] = next(
        u for u in demo["web_users"] if all(u.get(k) == v for k, v in match.items())
    )
    return found


def csv_of(*lines: str) -> dict[str, Any]:
    return {"name": "cpr.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}


def forge(form: Locator, how: str) -> None:
    """Forge (`value`) or drop (`remove`) a form's CSRF token."""
    field = form.locator("input[name=csrf_token]")
    script = "e => e.remove()" if how == "remove" else "e => { e.value = 'forfalsket' }"
    field.evaluate(script)


def csrf_refused(page: Page) -> None:
    expect(page.get_by_role("heading", name="Formularen kunne ikke godkendes")).to_be_visible()


def error_shown(page: Page, text: str) -> None:
    expect(page.locator("main .error-summary").first).to_contain_text(text)


def test_the_beskedfordeler_pages(
    browser: Browser, demo: dict[str, Any], receiver: tuple[str, Any], tmp_path: Path
) -> None:
    """One `indbetaling run` for all (each start costs more than the checks)."""
    push_url, received = receiver
    story = Story(new_page(browser), screenshot_dir(tmp_path), prefix="bf-")
    ids = the_administrators_story(demo, story, push_url, received)
    the_operators_story(demo, browser, story, ids, received)
    assert story.steps == 11
    bad_input_on_every_form(demo, browser, ids)


def the_administrators_story(
    demo: dict[str, Any], story: Story, push_url: str, received: Any
) -> dict[str, str]:
    sample = sample_of(demo, demo["authorities"][0]["cvr"], 1)
    cvr, part_id = sample["cvr"], sample["part_id"]
    cpr = part_id.removeprefix("urn:oio:cpr-nr:")
    fagsystem = next(f for f in demo["fagsystemer"] if cvr in f["authorities"])
    admin = user_named(demo, abonnent_id=fagsystem["id"])
    root = f"{demo['base_url']}{PAGES}/abonnenter/{fagsystem['id']}"
    page = story.page

    # 1-2. The Beskedfordeler's pages send whoever is not signed in to the sign-in page; the
    # administrator lands on its subscriber's mailboxes: the fagsystem's push mailbox.
    page.goto(f"{demo['base_url']}/beskedfordeler/")
    expect(page.get_by_role("heading", name="Log ind")).to_be_visible()
    story.step("log-ind")
    sign_in(page, admin)
    expect(page).to_have_url(f"{root}/")
    expect(
        page.get_by_role("heading", name=re.compile(re.escape(fagsystem["name"])))
    ).to_be_visible()
    for mailbox_id in fagsystem["dueslag"]:
        expect(page.locator("main")).to_contain_text(mailbox_id)
    expect(page.locator("main")).to_contain_text(f"Myndighed: {cvr}")
    story.step("dueslag")

    # A push mailbox to the subscriber's own receiver, which refuses every message, made
    # through the gateway as the subscriber's it-system would (the pages make pull mailboxes).
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        me = {"Authorization": f"Bearer {token(client, fagsystem, cvr)}"}
        pushed = client.post(
            f"{BF}/dueslag",
            json={"navn": "Skubbes til modtageren", "push_url": push_url},
            headers=me,
        )
        assert pushed.status_code == 201, pushed.text
    push_box = pushed.json()["id"]

    # A new pull mailbox.
    page.get_by_label("Dueslagets navn").fill(MAILBOX_NAME)
    page.get_by_role("button", name="Opret dueslag").click()
    expect(page.get_by_role("heading", name=f"Dueslag: {MAILBOX_NAME}")).to_be_visible()
    expect(page.locator("#dybde")).to_have_text("0")
    box_url = page.url.split("?")[0]
    pull_box = box_url.rsplit("/", 1)[1]

    # 3-4. A value list from a CSV file: a heading, the sample's party and one more.
    page.get_by_role("link", name="Værdilister").click()
    page.get_by_label("Værdilistens navn").fill(LIST_NAME)
    page.get_by_role("button", name="Opret værdiliste").click()
    expect(page.get_by_role("heading", name=f"Værdiliste: {LIST_NAME}")).to_be_visible()
    expect(page.locator("#antal")).to_have_text("0")
    list_id = page.url.split("?")[0].rsplit("/", 1)[1]
    page.get_by_label("CSV-fil med CPR-numre").set_input_files(
        csv_of("CPR-nummer", f"{cpr[:6]}-{cpr[6:]}", "", f"{OTHER_CPR};Anden borger")
    )
    story.step("vaerdiliste-fil")
    page.get_by_role("button", name="Indlæs").click()
    expect(page.locator("#antal")).to_have_text("2")
    expect(page.locator("main")).to_contain_text("2 CPR-numre læst fra filen; 2 var nye")
    expect(page.locator("#vaerdier-liste")).to_contain_text(f"{cpr[:6]}-XXXX")
    expect(page.locator("#vaerdier-liste")).not_to_contain_text(cpr)
    story.step("vaerdiliste")

    # 5-6. Opret abonnement on the pull mailbox: the claim messages of the authority, about a
    # party on the list.
    page.goto(box_url)
    page.get_by_role("link", name="Opret abonnement").click()
    subscribe(page, cvr)
    story.step("opret-abonnement")
    page.get_by_role("button", name="Opret abonnement").click()
    expect(page.locator("main")).to_contain_text("Abonnementet er oprettet")
    expect(page.locator("main")).to_contain_text(f"Værdiliste: {LIST_NAME}")
    expect(page.locator("main")).to_contain_text("FordringTilIndbetaling")
    story.step("abonnement-oprettet")

    # The same filter on the push mailbox.
    page.goto(f"{root}/dueslag/{push_box}/abonnementer/ny")
    subscribe(page, cvr)
    page.get_by_role("button", name="Opret abonnement").click()
    expect(page.locator("main")).to_contain_text(f"Værdiliste: {LIST_NAME}")

    # 7. Collections staff write the claim down: its message waits in the pull mailbox.
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        staff_write_down(client, demo, sample, "1.00")
    page.goto(box_url)
    reload_until(page, lambda: page.locator("#dybde").inner_text() == "1")
    waiting = page.locator("main table").last
    expect(waiting.locator("tbody tr")).to_have_count(1)
    story.step("besked-i-dueslaget")

    # 8. The push mailbox's receiver refused it: the error queue says why; re-deliver it.
    wait_until(lambda: received.pushes, "the write-down's message at the push URL")
    page.get_by_role("link", name="Fejlkø").click()
    row = page.locator("main tbody tr")
    reload_until(page, lambda: row.count() == 1)
    expect(row).to_contain_text(REFUSAL)
    expect(row).to_contain_text("Skubbes til modtageren")
    story.step("fejlkoe")
    pushes = len(received.pushes)
    row.get_by_role("button", name=re.compile("Genlevér")).click()
    expect(page.locator("main .notice")).to_contain_text("leveres igen")
    wait_until(lambda: len(received.pushes) > pushes, "the re-delivered push")
    reload_until(page, lambda: row.count() == 1)  # refused again, so back in the queue

    # A publication refused (a subscriber may not publish), for the operator to see.
    message = envelope(claim_view(part_id, cvr=cvr))[1]
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        me = {"Authorization": f"Bearer {token(client, fagsystem, cvr)}"}
        answer = client.post(f"{BF}/BeskedAfsend", content=message, headers={**XML, **me})
        assert read_status_code(answer.content) == 40
    return {
        "pull_box": pull_box,
        "push_box": push_box,
        "list_id": list_id,
        "fagsystem": fagsystem["id"],
        "cvr": cvr,
        "root": root,
    }


def subscribe(page: Page, cvr: str) -> None:
    page.get_by_label("Beskedtype").select_option(BESKEDTYPE_FORDRING_TIL_INDBETALING)
    page.get_by_label("Myndighedens CVR-nummer (valgfrit)").fill(cvr)
    page.get_by_label("Værdiliste (valgfri)").select_option(label=LIST_NAME)


def the_operators_story(
    demo: dict[str, Any], browser: Browser, story: Story, ids: dict[str, str], received: Any
) -> None:
    page = new_page(browser)
    story.page = page
    page.goto(f"{demo['base_url']}/log-ind")
    sign_in(page, user_named(demo, role="BESKEDFORDELER_DRIFT"))

    # 9. Every mailbox with its depth: the new pull mailbox holds the message.
    expect(page.get_by_role("heading", name="Beskedfordeleren: drift")).to_be_visible()
    expect(page.locator(f"[data-dybde='{ids['pull_box']}']")).to_have_text("1")
    for fagsystem in demo["fagsystemer"]:
        for mailbox_id in fagsystem["dueslag"]:
            expect(page.locator(f"[data-dybde='{mailbox_id}']")).to_be_visible()
    story.step("drift-dueslag")

    # 10. The error queue across subscribers: re-deliver.
    page.get_by_role("link", name="Fejlkø").click()
    row = page.locator("main tbody tr", has_text="Skubbes til modtageren")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(REFUSAL)
    story.step("drift-fejlkoe")
    pushes = len(received.pushes)
    row.get_by_role("button", name=re.compile("Genlevér")).click()
    expect(page.locator("main .notice")).to_contain_text("leveres igen")
    wait_until(lambda: len(received.pushes) > pushes, "the operator's re-delivered push")

    # 11. The refused publication with its reason.
    page.get_by_role("link", name="Afviste beskeder").click()
    expect(page.locator("main tbody tr").first).to_contain_text(
        f"Afsenderen {ids['fagsystem']} må ikke afsende"
    )
    story.step("drift-afviste")

    # The operator's pages are not a subscriber's, nor the other way round.
    page.goto(f"{ids['root']}/")
    expect(page.get_by_role("heading", name="Ingen adgang")).to_be_visible()


def bad_input_on_every_form(demo: dict[str, Any], browser: Browser, ids: dict[str, str]) -> None:
    fagsystem = next(f for f in demo["fagsystemer"] if f["id"] == ids["fagsystem"])
    other = next(f for f in demo["fagsystemer"] if f["id"] != ids["fagsystem"])
    root = ids["root"]
    page = new_page(browser)
    page.goto(f"{demo['base_url']}/log-ind")
    sign_in(page, user_named(demo, abonnent_id=fagsystem["id"]))
    expect(page).to_have_url(f"{root}/")
    list_url = f"{root}/vaerdilister/{ids['list_id']}"
    box_url = f"{root}/dueslag/{ids['pull_box']}"

    # Another subscriber's list, made through the gateway by that subscriber.
    other_cvr = other["authorities"][0]
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        them = {"Authorization": f"Bearer {token(client, other, other_cvr)}"}
        made = client.post(
            f"{BF}/vaerdilister", json={"navn": "Deres", "vaerdier": [OTHER_CPR]}, headers=them
        )
        assert made.status_code == 201, made.text
    other_list = made.json()["id"]

    # A new mailbox without a name; forged and missing CSRF.
    mailboxes = page.locator("main tbody tr")
    before = mailboxes.count()
    page.get_by_role("button", name="Opret dueslag").click()
    error_shown(page, "Skriv dueslagets navn")
    no_serious_violations(page)
    for how in ("value", "remove"):
        page.goto(f"{root}/")
        page.get_by_label("Dueslagets navn").fill("Forfalsket")
        forge(page.locator("main form"), how)
        page.get_by_role("button", name="Opret dueslag").click()
        csrf_refused(page)
    page.goto(f"{root}/")
    expect(mailboxes).to_have_count(before)

    # The value list: a new one without a name; the CSV: no file, malformed CPR numbers (line
    # numbers shown), not text, too big, forged and missing CSRF; removing: empty, `abc`.
    page.goto(f"{root}/vaerdilister/")
    lists_before = page.locator("main tbody tr").count()
    page.get_by_role("button", name="Opret værdiliste").click()
    error_shown(page, "Skriv værdilistens navn")
    no_serious_violations(page)
    page.goto(f"{root}/vaerdilister/")
    expect(page.locator("main tbody tr")).to_have_count(lists_before)

    page.goto(list_url)
    page.get_by_role("button", name="Indlæs").click()
    error_shown(page, "Vælg en CSV-fil med CPR-numre")
    page.get_by_label("CSV-fil med CPR-numre").set_input_files(
        csv_of("0311559999", "abc", "031155-99", "", "12345678901")
    )
    page.get_by_role("button", name="Indlæs").click()
    error_shown(page, "3 af filens 4 linjer er ikke CPR-numre, så intet er indlæst")
    problems = page.locator("#linjer-med-fejl")
    expect(problems).to_contain_text("Linje 2: 'abc' er ikke et CPR-nummer")
    expect(problems).to_contain_text("Linje 3:")
    expect(problems).to_contain_text("Linje 5:")
    expect(problems).not_to_contain_text("Linje 1:")
    no_serious_violations(page)
    expect(page.locator("#antal")).to_have_text("2")
    page.get_by_label("CSV-fil med CPR-numre").set_input_files(
        {"name": "billede.csv", "mimeType": "text/csv", "buffer": b"\xff\xfe\x00\x81" * 10}
    )
    page.get_by_role("button", name="Indlæs").click()
    error_shown(page, "Filen er ikke en tekstfil")
    page.get_by_label("CSV-fil med CPR-numre").set_input_files(
        {"name": "tom.csv", "mimeType": "text/csv", "buffer": b"CPR-nummer\n\n"}
    )
    page.get_by_role("button", name="Indlæs").click()
    error_shown(page, "Filen har ingen CPR-numre")
    huge = ("0311559999\n" * (11 * 1024 * 1024 // 11 + 10)).encode()
    page.get_by_label("CSV-fil med CPR-numre").set_input_files(
        {"name": "stor.csv", "mimeType": "text/csv", "buffer": huge}
    )
    page.get_by_role("button", name="Indlæs").click()
    error_shown(page, "Filen er for stor")
    expect(page.locator("#antal")).to_have_text("2")
    for how in ("value", "remove"):
        page.goto(list_url)
        upload = page.locator("main form", has=page.get_by_label("CSV-fil med CPR-numre"))
        page.get_by_label("CSV-fil med CPR-numre").set_input_files(csv_of("0311559999"))
        forge(upload, how)
        page.get_by_role("button", name="Indlæs").click()
        csrf_refused(page)
    page.goto(list_url)
    expect(page.locator("#antal")).to_have_text("2")

    page.get_by_role("button", name="Fjern").click()
    error_shown(page, "Skriv de CPR-numre, der skal fjernes")
    page.get_by_label("CPR-numre, der skal fjernes").fill(f"{OTHER_CPR}\nabc")
    page.get_by_role("button", name="Fjern").click()
    error_shown(page, "Nogle linjer er ikke CPR-numre, så intet er fjernet")
    expect(page.locator("#linjer-med-fejl")).to_contain_text("Linje 2:")
    page.goto(list_url)
    remove = page.locator("main form", has=page.get_by_label("CPR-numre, der skal fjernes"))
    page.get_by_label("CPR-numre, der skal fjernes").fill(OTHER_CPR)
    forge(remove, "value")
    page.get_by_role("button", name="Fjern").click()
    csrf_refused(page)
    page.goto(list_url)
    expect(page.locator("#antal")).to_have_text("2")

    # Removing works: the other party leaves the list.
    page.get_by_label("CPR-numre, der skal fjernes").fill(f"{OTHER_CPR[:6]}-{OTHER_CPR[6:]}")
    page.get_by_role("button", name="Fjern").click()
    expect(page.locator("main .notice")).to_contain_text("1 CPR-numre fjernet")
    expect(page.locator("#antal")).to_have_text("1")

    # The subscription form: nothing chosen, a CVR number that is none, forged CSRF.
    page.goto(box_url)
    subscriptions = page.locator("main table").first.locator("tbody tr")
    expect(subscriptions).to_have_count(1)
    page.get_by_role("link", name="Opret abonnement").click()
    page.get_by_label("Myndighedens CVR-nummer (valgfrit)").fill("abc")
    page.get_by_role("button", name="Opret abonnement").click()
    error_shown(page, "Vælg en beskedtype")
    error_shown(page, "Et CVR-nummer er 8 cifre")
    no_serious_violations(page)
    page.get_by_label("Beskedtype").select_option(BESKEDTYPE_FORDRING_TIL_INDBETALING)
    page.get_by_label("Myndighedens CVR-nummer (valgfrit)").fill("")
    forge(page.locator("main form"), "value")
    page.get_by_role("button", name="Opret abonnement").click()
    csrf_refused(page)
    page.goto(box_url)
    expect(subscriptions).to_have_count(1)

    # Editing a subscription: a bad CVR number changes nothing; a good one is saved.
    page.get_by_role("link", name=re.compile("Redigér")).click()
    expect(page.get_by_role("heading", name="Redigér abonnement")).to_be_visible()
    expect(page.get_by_label("Myndighedens CVR-nummer (valgfrit)")).to_have_value(ids["cvr"])
    page.get_by_label("Myndighedens CVR-nummer (valgfrit)").fill("1234")
    page.get_by_role("button", name="Gem abonnement").click()
    error_shown(page, "Et CVR-nummer er 8 cifre")
    page.goto(box_url)
    expect(subscriptions).to_contain_text(f"Myndighed: {ids['cvr']}")
    page.get_by_role("link", name=re.compile("Redigér")).click()
    page.get_by_label("Myndighedens CVR-nummer (valgfrit)").fill("")
    page.get_by_role("button", name="Gem abonnement").click()
    expect(page.locator("main .notice")).to_contain_text("Abonnementet er gemt")
    expect(subscriptions).to_have_count(1)
    expect(subscriptions).to_contain_text("Myndighed: alle")
    expect(subscriptions).to_contain_text(f"Værdiliste: {LIST_NAME}")

    # Another subscriber's mailbox and value list in the address: unknown, and nothing changes.
    page.goto(f"{root}/dueslag/{other['dueslag'][0]}")
    expect(page.get_by_role("heading", name="Findes ikke")).to_be_visible()
    expect(page.locator("main")).to_contain_text("findes ikke")
    no_serious_violations(page)
    page.goto(f"{root}/dueslag/{other['dueslag'][0]}/abonnementer/ny")
    expect(page.get_by_role("heading", name="Findes ikke")).to_be_visible()
    page.goto(f"{root}/vaerdilister/{other_list}")
    expect(page.get_by_role("heading", name="Findes ikke")).to_be_visible()
    page.goto(f"{demo['base_url']}{PAGES}/abonnenter/{other['id']}/")
    expect(page.get_by_role("heading", name="Ingen adgang")).to_be_visible()
    page.goto(f"{demo['base_url']}{PAGES}/drift/")
    expect(page.get_by_role("heading", name="Ingen adgang")).to_be_visible()

    # Forms aimed at the other subscriber's list and mailbox, with this session's valid token.
    page.goto(list_url)
    csrf = page.locator("main input[name=csrf_token]").first.input_value()
    answer = page.request.post(
        f"{root}/vaerdilister/{other_list}/fjern", form={"csrf_token": csrf, "vaerdier": OTHER_CPR}
    )
    assert answer.status == 404
    assert "findes ikke" in answer.text()
    answer = page.request.post(
        f"{root}/dueslag/{other['dueslag'][0]}/abonnementer",
        form={"csrf_token": csrf, "beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING},
    )
    assert answer.status == 404
    answer = page.request.post(
        f"{root}/dueslag/{ids['pull_box']}/abonnementer",
        form={
            "csrf_token": csrf,
            "beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING,
            "vaerdiliste": other_list,
        },
    )
    assert answer.status == 422
    assert "Værdilisten findes ikke blandt dine værdilister" in answer.text()
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        them = {"Authorization": f"Bearer {token(client, other, other_cvr)}"}
        theirs = client.get(f"{BF}/vaerdilister/{other_list}", headers=them)
        assert theirs.json()["antal"] == 1
        subs = client.get(f"{BF}/dueslag/{other['dueslag'][0]}/abonnementer", headers=them)
        assert len(subs.json()) == len(other["authorities"])
    page.goto(box_url)
    expect(subscriptions).to_have_count(1)
    two_files = page.request.post(
        f"{list_url}/upload",
        multipart={
            "csrf_token": csrf,
            "fil": {"name": "a.csv", "mimeType": "text/csv", "buffer": OTHER_CPR.encode()},
            "fil2": {"name": "b.csv", "mimeType": "text/csv", "buffer": OTHER_CPR.encode()},
        },
    )
    assert two_files.status == 400
    assert "Formularen kunne ikke læses" in two_files.text()
    page.goto(list_url)
    expect(page.locator("#antal")).to_have_text("1")

    # Deleting a subscription is confirmed first; a forged token on the confirmation changes
    # nothing.
    page.goto(box_url)
    page.get_by_role("link", name=re.compile("^Slet")).click()
    expect(page.get_by_role("heading", name="Slet abonnement")).to_be_visible()
    expect(page.locator("main .confirm")).to_contain_text(f"Værdiliste: {LIST_NAME}")
    no_serious_violations(page)
    forge(page.locator("main .confirm form"), "value")
    page.get_by_role("button", name="Bekræft sletning").click()
    csrf_refused(page)
    page.goto(box_url)
    expect(subscriptions).to_have_count(1)
    page.get_by_role("link", name=re.compile("^Slet")).click()
    page.get_by_role("button", name="Bekræft sletning").click()
    expect(page.locator("main .notice")).to_contain_text("Abonnementet er slettet")
    expect(page.locator("main")).to_contain_text("Dueslaget har ingen abonnementer")

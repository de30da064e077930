"""Signing in to the pages through an OpenID Connect provider, over real HTTP.

The provider here (`oidc_provider.Provider`) is the test's own stand-in for an external identity
provider such as Keycloak or Entra ID: a small HTTP server on a free port with discovery,
authorization (consenting at once for the test's user), token and JWKS endpoints, signing ID
tokens with its RSA key. `indbetaling run` is started with `INDBETALING_WEB_OIDC_*` pointing at
it; httpx follows the redirects from `/log-ind/oidc` to the provider and back, as a browser
would. A good sign-in ends on the user's own pages with their scope; a wrong state, a replayed
nonce, another signing key, an expired token, another audience and a token without a known role
are each refused with a Danish message, and nobody is signed in after them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from e2e.browser import chromium
from e2e.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, Tamper
from e2e.test_run import free_port, start, stop, wait_for_demo_json

PROVIDER_NAME = "Testudbyder"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    found = Provider().start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("oidc")
    proc = start(
        data_dir,
        free_port(),
        INDBETALING_WEB_OIDC_ISSUER=provider.issuer,
        INDBETALING_WEB_OIDC_CLIENT_ID=CLIENT_ID,
        INDBETALING_WEB_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        INDBETALING_WEB_OIDC_PROVIDER_NAME=PROVIDER_NAME,
        INDBETALING_DEMO_CLAIMS="100",  # the pages need a few claims, not the demo's many
    )
    try:
        yield wait_for_demo_json(data_dir, proc)
    finally:
        stop(proc)


@pytest.fixture
def browser(demo: dict[str, Any]) -> Iterator[httpx.Client]:
    """A client that keeps cookies and follows redirects, across the pages and the provider."""
    with httpx.Client(base_url=demo["base_url"], timeout=30, follow_redirects=True) as client:
        yield client


def fagsystem_ids(demo: dict[str, Any]) -> list[str]:
    return [f["id"] for f in demo["fagsystemer"]]


def sign_in(browser: httpx.Client, next_path: str = "/") -> httpx.Response:
    """Click `Log ind med ...` on the sign-in page and follow the provider's redirects."""
    page = browser.get("/log-ind", params={"naeste": next_path})
    assert page.status_code == 200
    link = re.search(r'<a class="button" href="([^"]+)">Log ind med ' + PROVIDER_NAME, page.text)
    assert link is not None, page.text
    return browser.get(link.group(1).replace("&amp;", "&"))


def signed_in(browser: httpx.Client, path: str) -> bool:
    answer = browser.get(path, follow_redirects=False)
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/log-ind?naeste=")
        return False
    return True


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_a_case_worker_signs_in_at_the_provider_and_sees_only_their_fagsystem(
    demo: dict[str, Any], provider: Provider, browser: httpx.Client
) -> None:
    mine, other = fagsystem_ids(demo)[:2]
    assert demo["web_users"] == [], "no demo passwords when an identity provider is configured"
    page = browser.get("/log-ind")
    assert 'name="adgangskode"' not in page.text
    refused = browser.post("/log-ind", data={"brugernavn": "x", "adgangskode": "y"})
    assert refused.status_code == 403
    assert "Log ind med adgangskode er slået fra" in refused.text

    provider.claims = {
        "name": "Karen Sagsbehandler",
        "preferred_username": "karen",
        "roles": ["offline_access", f"sagsbehandler:{mine}"],
    }
    home = sign_in(browser)
    assert home.status_code == 200, home.text
    assert str(home.url) == f"{demo['base_url']}/fagsystem/{mine}/"
    assert [urlsplit(str(r.url)).path for r in home.history] == [
        "/log-ind/oidc",
        "/realms/test/auth",
        "/log-ind/oidc/svar",
    ]
    assert "Karen Sagsbehandler" in home.text
    cvr = next(f for f in demo["fagsystemer"] if f["id"] == mine)["authorities"][0]
    assert browser.get(f"/fagsystem/{mine}/myndigheder/{cvr}/").status_code == 200
    elsewhere = browser.get(f"/fagsystem/{other}/")
    assert elsewhere.status_code == 403
    assert "Ingen adgang" in elsewhere.text
    assert browser.get("/finance/").status_code == 403

    # The provider's answer is good once: the flow's cookie is spent.
    again = browser.get(str(home.history[-1].url))
    assert again.status_code == 400
    assert "OIDC_INTET_LOGIND" in again.text

    signed_out = browser.post("/log-ud", data={"csrf_token": csrf(home)})
    assert signed_out.status_code == 200
    assert urlsplit(str(signed_out.url)).path == "/log-ind"
    assert "Du er logget ud af Indbetaling." in signed_out.text
    end_session = re.search(r'href="([^"]+)">Log også ud hos ' + PROVIDER_NAME, signed_out.text)
    assert end_session is not None
    url = urlsplit(end_session.group(1).replace("&amp;", "&"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.issuer}/logout"
    assert parse_qs(url.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": [f"{demo['base_url']}/log-ind"],
    }
    assert not signed_in(browser, f"/fagsystem/{mine}/")


def test_staff_and_finance_land_on_their_pages_and_a_deep_link_is_kept(
    demo: dict[str, Any], provider: Provider, browser: httpx.Client
) -> None:
    cvr = demo["authorities"][0]["cvr"]
    provider.claims = {"name": "Ole Opkræver", "roles": f"opkraevning:{cvr}"}
    staff = sign_in(browser)
    assert str(staff.url) == f"{demo['base_url']}/debitorsystem/myndigheder/{cvr}/"
    assert "Ole Opkræver" in staff.text

    with httpx.Client(base_url=demo["base_url"], timeout=30, follow_redirects=True) as other:
        provider.claims = {"name": "Fie Finans", "roles": ["finans"]}
        finance = sign_in(other, f"/finance/afstemning/{cvr}")
        assert finance.status_code == 200
        assert urlsplit(str(finance.url)).path == f"/finance/afstemning/{cvr}"


REFUSALS = [
    pytest.param(Tamper(state="forfalsket"), (400, "OIDC_STATE", "state passer ikke"), id="state"),
    pytest.param(Tamper(replay_nonce=True), (401, "OIDC_NONCE", "nonce passer ikke"), id="nonce"),
    pytest.param(
        Tamper(other_key=True), (401, "OIDC_SIGNATUR", "ikke underskrevet"), id="other-key"
    ),
    pytest.param(
        Tamper(expired=True), (401, "OIDC_UDLOEBET", "ID-tokenet er udløbet"), id="expired"
    ),
    pytest.param(
        Tamper(audience="et-andet-system"), (401, "OIDC_MODTAGER", "et andet system"), id="audience"
    ),
]


@pytest.mark.parametrize(("tamper", "refusal"), REFUSALS)
def test_a_bad_answer_from_the_provider_is_refused_and_signs_nobody_in(
    demo: dict[str, Any],
    provider: Provider,
    browser: httpx.Client,
    tamper: Tamper,
    refusal: tuple[int, str, str],
) -> None:
    status, code, text = refusal
    mine = fagsystem_ids(demo)[0]
    provider.claims = {"name": "Karen", "roles": [f"sagsbehandler:{mine}"]}
    if tamper.replay_nonce:  # an earlier sign-in whose nonce the provider then replays
        with httpx.Client(base_url=demo["base_url"], timeout=30, follow_redirects=True) as c:
            assert sign_in(c).status_code == 200
    provider.tamper = tamper
    refused = sign_in(browser)
    assert refused.status_code == status, refused.text
    assert urlsplit(str(refused.url)).path == "/log-ind/oidc/svar"
    assert "Log-ind kunne ikke gennemføres" in refused.text
    assert text in refused.text
    assert f"Fejlkode: {code}" in refused.text
    assert not signed_in(browser, f"/fagsystem/{mine}/")
    # The refusal spent the flow: trying again starts afresh and succeeds.
    assert sign_in(browser).status_code == 200
    assert signed_in(browser, f"/fagsystem/{mine}/")


@pytest.mark.parametrize(
    "roles",
    [
        pytest.param(["administrator", "sagsbehandler"], id="no-known-role"),
        pytest.param(
            ["sagsbehandler:00000000-0000-4000-8000-000000000000"], id="unknown-fagsystem"
        ),
        pytest.param(None, id="no-roles-claim"),
    ],
)
def test_a_user_without_a_role_here_is_refused_with_a_clear_page(
    demo: dict[str, Any], provider: Provider, browser: httpx.Client, roles: list[str] | None
) -> None:
    provider.claims = {"name": "Uden Rolle"} | ({} if roles is None else {"roles": roles})
    refused = sign_in(browser)
    assert refused.status_code == 403
    assert "Ingen adgang til Indbetaling" in refused.text
    assert "Du er logget ind hos Testudbyder som Uden Rolle" in refused.text
    assert "Fejlkode: OIDC_INGEN_ROLLE" in refused.text
    for fagsystem in fagsystem_ids(demo):
        assert not signed_in(browser, f"/fagsystem/{fagsystem}/")


@pytest.fixture(scope="module")
def cross_site(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[str]:
    """The pages at `localhost`, the provider at `127.0.0.1`: two sites, so the browser sends
    the sign-in's SameSite=Lax cookie back only because the provider's answer is a top-level
    GET."""
    data_dir = tmp_path_factory.mktemp("oidc-browser")
    port = free_port()
    base = f"http://localhost:{port}"
    proc = start(
        data_dir,
        port,
        INDBETALING_PUBLIC_BASE_URL=base,
        INDBETALING_WEB_OIDC_ISSUER=provider.issuer,
        INDBETALING_WEB_OIDC_CLIENT_ID=CLIENT_ID,
        INDBETALING_WEB_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        INDBETALING_WEB_OIDC_PROVIDER_NAME=PROVIDER_NAME,
        INDBETALING_DEMO_CLAIMS="100",
    )
    try:
        wait_for_demo_json(data_dir, proc)
        yield base
    finally:
        stop(proc)


@pytest.mark.browser
def test_in_chromium_the_case_worker_signs_in_and_out_across_sites(
    cross_site: str, demo: dict[str, Any], provider: Provider
) -> None:
    mine = fagsystem_ids(demo)[0]
    provider.claims = {"name": "Karen Sagsbehandler", "roles": [f"sagsbehandler:{mine}"]}
    with chromium() as browser:
        # The pages' own Content-Security-Policy stays on: nothing here needs it bypassed.
        page = browser.new_context(locale="da-DK").new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{cross_site}/fagsystem/{mine}/")
        expect(page).to_have_url(re.compile(r"/log-ind\?naeste="))
        page.get_by_role("link", name=f"Log ind med {PROVIDER_NAME}").click()
        expect(page).to_have_url(f"{cross_site}/fagsystem/{mine}/")
        expect(page.get_by_text("Karen Sagsbehandler")).to_be_visible()
        page.get_by_role("button", name="Log ud").click()
        expect(page.get_by_text("Du er logget ud af Indbetaling.")).to_be_visible()
        logout = page.get_by_role("link", name=f"Log også ud hos {PROVIDER_NAME}")
        assert (logout.get_attribute("href") or "").startswith(f"{provider.issuer}/logout?")
        page.goto(f"{cross_site}/fagsystem/{mine}/")
        expect(page).to_have_url(re.compile(r"/log-ind\?naeste="))

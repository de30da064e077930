"""Driving the pages in Debian's Chromium (never a downloaded browser) with Playwright, and
checking them with axe-core (vendored from npm under `assets/`).

Without Chromium the browser tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from e2e.test_run import free_port, start, stop, wait_for_demo_json

CHROMIUM = Path(os.environ.get("INDBETALING_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).parent / "assets" / "axe.min.js"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SERIOUS = {"serious", "critical"}


def chromium_path() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    message = f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)  # only outside CI: under CI=true it failed above


@contextmanager
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def running_demo(data_dir: Path) -> Iterator[dict[str, Any]]:
    """An `indbetaling run` with its demo data in `data_dir`, while in the block: its
    demo.json."""
    proc = start(data_dir, free_port())
    try:
        yield wait_for_demo_json(data_dir, proc)
    finally:
        stop(proc)


def new_page(browser: Browser) -> Page:
    """A page of its own (its own cookies). The pages' Content-Security-Policy forbids inline
    scripts; the test bypasses it only to inject axe-core."""
    context = browser.new_context(
        bypass_csp=True, locale="da-DK", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(30_000)
    return context.new_page()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [v for v in found if v["impact"] in SERIOUS]


def no_serious_violations(page: Page) -> None:
    assert serious_violations(page) == [], f"axe on {page.url}"


def screenshot_dir(tmp_path: Path) -> Path:
    """INDBETALING_SCREENSHOT_DIR when it is set (the README's pictures), else a temporary
    folder."""
    chosen = os.environ.get("INDBETALING_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path / "screenshots"


def sign_in(page: Page, user: dict[str, str]) -> None:
    """Fill in and send the sign-in page the browser is on."""
    page.get_by_label("Brugernavn").fill(user["username"])
    page.get_by_label("Adgangskode").fill(user["password"])
    page.get_by_role("button", name="Log ind").click()


class Story:
    """Screenshots of each step (`<prefix>01-<name>.png`, …), each page checked by axe-core
    first."""

    def __init__(self, page: Page, folder: Path, prefix: str = "") -> None:
        self.page = page
        self.folder = folder
        self.prefix = prefix
        self.steps = 0
        folder.mkdir(parents=True, exist_ok=True)

    def step(self, name: str) -> None:
        no_serious_violations(self.page)
        self.steps += 1
        path = self.folder / f"{self.prefix}{self.steps:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)


def reload_until(page: Page, ready: Callable[[], bool], seconds: float = 60) -> None:
    """Reload the page until `ready()` (a generous deadline, never a fixed wait)."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{page.url} did not get there in {seconds} s"
        page.wait_for_timeout(300)
        page.reload()

"""The browser the page tests share (Debian's Chromium, see `e2e.browser`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for a test module (imported here only when a test asks for it)."""
    from e2e.browser import chromium

    with chromium() as found:
        yield found

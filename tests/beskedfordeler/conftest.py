"""Fixtures of the Beskedfordeler tests: the part on SQLite or PostgreSQL, callers, an app."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI, Request

from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler.api import Unauthenticated, beskedfordeler_router
from indbetaling.beskedfordeler.service import Beskedfordeler, grant_publish

DEBITORSYSTEM = "d0000000-0000-4000-8000-000000000001"
FAGSYSTEM_A = "f0000000-0000-4000-8000-00000000000a"
FAGSYSTEM_B = "f0000000-0000-4000-8000-00000000000b"
TEST_CALLER_HEADER = "x-test-it-system"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def header_caller(request: Request) -> str:
    """A fake resolver for unit tests: the it-system named in a test header."""
    value = request.headers.get(TEST_CALLER_HEADER)
    if not value:
        raise Unauthenticated("Ingen kalder")
    return value


@pytest.fixture
def bf(part_engine: Callable[[str, str], object], backend: str) -> Beskedfordeler:
    engine = part_engine("beskedfordeler", backend)
    fordeler = Beskedfordeler(engine)  # type: ignore[arg-type]
    grant_publish(fordeler, DEBITORSYSTEM, BESKEDTYPE_FORDRING_TIL_INDBETALING)
    return fordeler


@pytest.fixture
def client(bf: Beskedfordeler) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(beskedfordeler_router(bf, header_caller), prefix="/beskedfordeler")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bf")


def as_system(it_system: str) -> dict[str, str]:
    return {TEST_CALLER_HEADER: it_system}

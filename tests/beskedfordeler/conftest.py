"""Fixtures of the Beskedfordeler tests: the part on SQLite or PostgreSQL, callers, an app."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from http import HTTPStatus

import httpx
import pytest
from fastapi import FastAPI, Request

from indbetaling import http_errors, throwaway
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler.api import Unauthenticated, beskedfordeler_router
from indbetaling.beskedfordeler.service import Beskedfordeler, grant_publish

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

DEBITORSYSTEM = "d0000000-0000-4000-8000-000000000001"
FAGSYSTEM_A = "f0000000-0000-4000-8000-00000000000a"
FAGSYSTEM_B = "f0000000-0000-4000-8000-00000000000b"
TEST_CALLER_HEADER = "x-test-it-system"
TEST_AUTHORITY_HEADER = "x-test-authority"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def header_caller(request: Request) -> str:
    """A fake resolver for unit tests: the it-system (and authority) named in test headers."""
    value = request.headers.get(TEST_CALLER_HEADER)
    if not value:
        raise Unauthenticated("Ingen kalder")
    if authority := request.headers.get(TEST_AUTHORITY_HEADER):
        request.state.authority_cvr = authority
    return value


@pytest.fixture
def bf(part_engine: Callable[[str, str], object], backend: str) -> Beskedfordeler:
    engine = part_engine("beskedfordeler", backend)
    fordeler = Beskedfordeler(engine)  # type: ignore[arg-type]
    grant_publish(fordeler, DEBITORSYSTEM, BESKEDTYPE_FORDRING_TIL_INDBETALING)
    return fordeler


@pytest.fixture
def client(bf: Beskedfordeler) -> httpx.AsyncClient:
    app = problem_app()
    app.include_router(beskedfordeler_router(bf, header_caller), prefix="/beskedfordeler")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bf")


def problem_app() -> FastAPI:
    """An app that answers errors as the composed system does: with problem documents."""
    app = FastAPI()
    http_errors.install(app)
    return app


def assert_problem(response: httpx.Response, status: int, code: str) -> str:
    """Assert a problem document with `status` and `code`; returns its FejlTekst."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == http_errors.PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["title"] == HTTPStatus(status).phrase
    assert body["FejlKode"] == code
    assert body["FejlTekst"] == body["detail"]
    assert "Traceback" not in response.text
    return str(body["FejlTekst"])


def as_system(it_system: str, authority: str | None = None) -> dict[str, str]:
    headers = {TEST_CALLER_HEADER: it_system}
    if authority is not None:
        headers[TEST_AUTHORITY_HEADER] = authority
    return headers


@pytest.fixture
def rabbit_node(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[throwaway.RabbitNode]:
    """A RabbitMQ node of this test's own, so it can restart it without disturbing others."""
    del amqp_url  # required like every RabbitMQ test: fails under CI=true when missing
    if not throwaway.RABBITMQ_SERVER.exists():
        message = "rabbitmq-server is not installed; this test restarts a node of its own"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)  # only outside CI: under CI=true it failed above
    node = throwaway.RabbitNode(tmp_path_factory.mktemp("rabbit"), throwaway.free_port())
    node.start()
    try:
        yield node
    finally:
        node.close()

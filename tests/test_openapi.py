"""The OpenAPI description of the running system documents one error shape: every non-2xx
answer of every operation is an RFC 9457 problem document carrying FejlKode and FejlTekst."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indbetaling.app import build
from indbetaling.http_errors import PROBLEM_MEDIA_TYPE
from indbetaling.settings import Settings

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def error_answers(schema: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if not status.startswith(("2", "3")):
                    found.append((path, method, status, answer))
    return found


def test_every_error_of_every_operation_is_a_problem_document(tmp_path: Path) -> None:
    system = build(Settings(data_dir=tmp_path, demo_claims=100))
    with TestClient(system.app) as client:
        schema = client.get("/api/v1/openapi.json").json()
        problem = schema["components"]["schemas"]["Problem"]
        assert {"FejlKode", "FejlTekst", "status", "title", "detail"} <= set(problem["required"])
        errors = error_answers(schema)
        assert len(errors) >= 2 * len(schema["paths"])  # at least a 422 or default each
        for path, method, status, answer in errors:
            assert answer["content"] == {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}, (
                path,
                method,
                status,
            )
        assert "HTTPValidationError" not in schema["components"]["schemas"]

        # And the answers are what the description says.
        unknown = client.get("/debitorsystem/api/v1/myndigheder/12345678/fordringer/x")
        assert unknown.headers["content-type"] == PROBLEM_MEDIA_TYPE
        body = unknown.json()
        assert set(body) == {"type", "title", "status", "detail", "FejlKode", "FejlTekst"}
        assert body["status"] == unknown.status_code == 401
        missing = client.get("/ingen/sti")
        assert missing.status_code == 404
        assert missing.json()["FejlKode"] == "IKKE_FUNDET"


GATEWAY = "/api/v1/debitorindbetaling"
GATEWAY_OPERATIONS = {
    "/soeg-fordring-til-indbetaling": (
        "SoegFordringTilIndbetalingRequest",
        "SoegFordringTilIndbetalingResponse",
        False,
    ),
    "/foretag-indbetaling": ("ForetagIndbetalingRequest", "ForetagIndbetalingResponse", True),
    "/foretag-indbetaling-nedregulering": (
        "ForetagIndbetalingNedreguleringRequest",
        "ForetagIndbetalingNedreguleringResponse",
        True,
    ),
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi"), demo_claims=100)
    with TestClient(build(settings).app) as client:
        yield client, settings


def test_the_description_has_the_gateway_operations_with_their_models(
    running: tuple[TestClient, Settings],
) -> None:
    client, settings = running
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["servers"] == [{"url": settings.base_url}]
    assert schema["components"]["securitySchemes"]["bearer"] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "",
    }
    models = schema["components"]["schemas"]
    for path, (request, response, changing) in GATEWAY_OPERATIONS.items():
        operation = schema["paths"][GATEWAY + path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{request}"}, path
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{response}"}, path
        assert request in models and response in models
        assert operation["security"] == [{"bearer": []}], path
        for status in ("401", "403", "422"):
            assert operation["responses"][status]["content"] == {
                PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}
            }, (path, status)
        keys = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        if changing:
            assert len(keys) == 1, path
            assert keys[0]["in"] == "header" and keys[0]["required"] is True
            assert keys[0]["schema"]["format"] == "uuid"
        else:
            assert keys == [], path
    # The operation ids stay unique: each operation is described once, at the gateway.
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_description_leaves_out_the_providers_own_addresses(
    running: tuple[TestClient, Settings],
) -> None:
    client, _ = running
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/debitorsystem/service")]
    assert not [p for p in paths if p.startswith("/debitorsystem/api/v1/debitorindbetaling")]
    assert not [p for p in paths if "{rest_path" in p]
    # The collections staff API stays described.
    assert "/debitorsystem/api/v1/myndigheder/{cvr}/fordringer" in paths
    # The Beskedfordeler is described where subscribers call it: through the gateway.
    assert not [p for p in paths if p.startswith("/beskedfordeler/")]
    for path in ("/dueslag", "/dueslag/{mailbox_id}/beskeder", "/fejlkoe", "/BeskedAfsend"):
        item = paths["/api/v1/beskedfordeler" + path]
        for operation in item.values():
            assert operation["security"] == [{"bearer": []}], path
            assert operation["responses"]["502"]["content"] == {
                PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}
            }, path
    answer = client.get("/api/v1/beskedfordeler/dueslag")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
    # And the described gateway path is the one that answers: without a token, a 401 problem.
    answer = client.post(GATEWAY + "/soeg-fordring-til-indbetaling", json={})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_docs_pages_load_everything_from_our_own_server(
    running: tuple[TestClient, Settings], page: str
) -> None:
    client, _ = running
    html = client.get(page)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    loaded = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html.text)
    assert loaded, html.text
    assert "/api/v1/openapi.json" in loaded
    assert not re.search(r"https?://", html.text), html.text
    for url in loaded:
        assert url.startswith("/"), url
        assert client.get(url).status_code == 200, url

"""The OpenAPI description of the running system documents one error shape: every non-2xx
answer of every operation is an RFC 9457 problem document carrying FejlKode and FejlTekst."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

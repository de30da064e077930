"""schemathesis against the REST mirror's OpenAPI and the real debitorsystem: no 5xx, and every
response conforms to its schema (status, content type, headers, body).

The calls go straight to the provider with the caller assertion the gateway would add, so that
what is checked (also for undeclared methods) is the mirror itself; the way through the gateway
is tested in `test_wire_rest.py`."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from debitorsystem.wire_env import (
    PROVIDER_REST,
    WireEnv,
    live_server,
    provider_headers,
    wire_env,
)
from indbetaling import http_errors
from indbetaling.caller import CallerVerifier
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.debitorsystem.wire import rest_router

__all__ = ["live_server", "wire_env"]  # fixtures
pytestmark = pytest.mark.slow  # a live server and 40 generated calls per operation


def _openapi() -> dict[str, Any]:
    """The mirror's OpenAPI as a client sees it below `/api/v1/debitorindbetaling`."""
    app = FastAPI(title="DebitorIndbetalingAfsend REST", version="1")
    verifier = CallerVerifier({"keys": []}, DEBITOR_INDBETALING_ENTITY_ID)
    app.include_router(rest_router(None, verifier))  # type: ignore[arg-type] # schema only
    http_errors.document_problems(app)  # as every app that serves it does (`install`)
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the rules are tested on both databases elsewhere; this is about the wire


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_rest_mirror_keeps_its_openapi(case: Any, wire_env: WireEnv) -> None:
    case.call_and_validate(
        base_url=f"{wire_env.base_url}{PROVIDER_REST}",
        headers=provider_headers(wire_env),
        # Not every schema-valid request can be served: an opaque FortsaettelsesNoegle that is
        # not ours, or a search without PartId, DebitorkontoId and FordringId, is refused with
        # a declared 422 problem (asserted in test_wire_rest.py); every other check runs.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )

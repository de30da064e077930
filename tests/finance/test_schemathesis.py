"""schemathesis against finance's and NemKonto's OpenAPI, served by the real parts on SQLite
over real HTTP: no 5xx for any generated request, and every answer conforms to its schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from indbetaling import parts
from indbetaling.db import make_engine, migrate
from indbetaling.finance import app as finance_app
from indbetaling.finance.app import ApiSource, ReconciliationSources
from indbetaling.nemkonto import app as nemkonto_app
from serviceplatform.harness import LiveServer, live_server

from .values import TOKEN

__all__ = ["live_server"]
LOCAL = "http://finans.test"
pytestmark = pytest.mark.slow  # a live server and generated calls per operation


def _app(data_dir: Path | None = None) -> Any:
    def engine(part: str) -> Any:
        if data_dir is None:
            return make_engine("sqlite://")  # schema only: never connected
        made = make_engine(f"sqlite:///{data_dir / part}.sqlite", sqlite_synchronous="NORMAL")
        migrate(made, part)
        return made

    app, workers = parts.new_app("Finans og NemKonto", "test")
    # the reconciliation's sources: NemKonto itself and a debitorsystem without coverages
    sources = ReconciliationSources(
        fagsystems=[],
        debitorsystem=ApiSource(f"{LOCAL}/debitorsystem/api/v1", "revisor"),
        nemkonto=ApiSource(f"{LOCAL}/nemkonto/api/v1", TOKEN),
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL)
    finance = finance_app.build(engine("finance"), tokens=[TOKEN], http=http, sources=sources)
    nemkonto = nemkonto_app.build(engine("nemkonto"), tokens=[TOKEN])
    parts.mount(app, workers, [finance, nemkonto])

    @app.get("/debitorsystem/api/v1/myndigheder/{cvr}/daekninger", include_in_schema=False)
    def no_coverages(cvr: str) -> dict[str, Any]:
        return {"Daekninger": []}

    return app


schema = schemathesis.openapi.from_dict(_app().openapi())


@pytest.fixture(scope="module")
def served(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    live_server.current.app = _app(tmp_path_factory.mktemp("finance-schema"))
    return live_server.base_url


@schema.include(path_regex="^/(finance|nemkonto)/").parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_finance_and_nemkonto_keep_their_openapi(case: Any, served: str) -> None:
    case.call_and_validate(
        base_url=served,
        headers={"Authorization": f"Bearer {TOKEN}"},
        # A listing without MyndighedCVR or Reference, a key that is not ours, a posting whose
        # generated lines do not balance: schema-valid, refused with a declared 4xx problem.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )

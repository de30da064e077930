"""Operators' view: logs that never show a CPR number and carry the call's TransactionUUID,
JSON in production, and `/metrics` counting requests by route and status."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from indbetaling.observability import bind_transaction, configure_logging
from indbetaling.parts import new_app

CPR = "urn:oio:cpr-nr:3101801234"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(json=True)
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()


def test_logs_are_json_with_the_transaction_and_no_cpr(log_lines: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # as an earlier server left it
    configure_logging(json=True)
    logging.getLogger().handlers[0].setStream(log_lines)  # type: ignore[attr-defined]
    bind_transaction("5b6f0d1e-0000-4000-8000-000000000001")
    logging.getLogger("uvicorn.access").info('"GET /x?PartId=%s HTTP/1.1" 200', CPR)
    logging.getLogger("indbetaling").warning("payer %s refused", "3101801234", extra={"p": CPR})
    records = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert [r["level"] for r in records] == ["info", "warning"]
    assert all(r["transaction_uuid"] == "5b6f0d1e-0000-4000-8000-000000000001" for r in records)
    assert "3101801234" not in log_lines.getvalue()
    assert "310180-XXXX" in records[0]["event"]
    assert records[1]["p"] == "urn:oio:cpr-nr:310180-XXXX"


def test_metrics_count_requests_by_route_and_status() -> None:
    app, _workers = new_app("test", "test")

    @app.get("/ting/{ting_id}")
    def thing(ting_id: int) -> dict[str, int]:
        return {"id": ting_id}

    with TestClient(app) as client:
        for n in (1, 2, 3):
            assert client.get(f"/ting/{n}").status_code == 200
        assert client.get("/ting/abc").status_code == 422
        text = client.get("/metrics").text
    ok = 'indbetaling_http_requests_total{method="GET",route="/ting/{ting_id}",status="200"}'
    bad = 'indbetaling_http_requests_total{method="GET",route="/ting/{ting_id}",status="422"}'
    assert float(text.split(ok)[1].split()[0]) >= 3
    assert float(text.split(bad)[1].split()[0]) >= 1
    assert (
        'indbetaling_http_request_seconds_bucket{le="0.005",method="GET",route="/ting/{ting_id}"}'
        in text
    )

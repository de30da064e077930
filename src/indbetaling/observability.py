"""What operators see: logs and metrics.

Logs: every record, ours and the libraries' (uvicorn's access log too), goes through structlog:
CPR numbers are masked in the message and in every value, the TransactionUUID of the call being
handled is attached when one is known (`bind_transaction`), and production writes one JSON
object per line (`log_json`).

Metrics: `/metrics` in Prometheus' text format: requests by method, route and status with
their latency, and whatever the parts count (e.g. `indbetaling_payments_total`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.ids import mask_cpr_in_text

REQUESTS = Counter(
    "indbetaling_http_requests_total",
    "HTTP requests answered, by method, route and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "indbetaling_http_request_seconds",
    "Time to answer an HTTP request, by method and route",
    ["method", "route"],
)


def mask_cpr(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """A structlog processor: no CPR number leaves in clear, wherever it stands."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask_cpr_in_text(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = mask_cpr_in_text(str(value))
    return event


def configure_logging(*, json: bool, level: int = logging.INFO) -> None:
    """Send every log record through structlog: masked, with its context, as JSON or text."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_cpr,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # a server started earlier may have set its own level
        logger.disabled = False


def bind_transaction(transaction_uuid: str | None) -> None:
    """Attach the call's TransactionUUID to every log record made while handling it."""
    if transaction_uuid:
        structlog.contextvars.bind_contextvars(transaction_uuid=transaction_uuid)


def install(app: FastAPI) -> None:
    """`/metrics`, request metrics, and a fresh log context for every request."""

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        structlog.contextvars.clear_contextvars()
        bind_transaction(request.headers.get("idempotency-key"))
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "(ukendt)")
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

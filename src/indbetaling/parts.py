"""What a part's entry point (`<part>/app.py`) hands the server, and how a server is made of
parts: the part's routes, its background work and its database, nothing else.

`serve(parts)` makes the one FastAPI application of a process: the embedded default hands it
every part, a production process one. Parts never see each other here: each `build` gets only
settings and clients of the wire (an HTTP client, the platform's public keys).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine, text

from indbetaling import __version__, http_errors, observability
from indbetaling.background import BackgroundWorkers
from indbetaling.db import read

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"
REDOC_URL = "/api/v1/redoc"
DOCS_ASSETS_URL = "/api/v1/docs/assets"

ThreadLoop = Callable[[threading.Event], None]
TaskLoop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class PartApp:
    """One part, ready to be served."""

    name: str
    engine: Engine
    routers: list[APIRouter] = field(default_factory=list)
    """Mounted as they are: each carries its own path prefix."""
    threads: list[tuple[str, ThreadLoop]] = field(default_factory=list)
    """Blocking background loops (each in a thread of its own)."""
    tasks: list[tuple[str, TaskLoop]] = field(default_factory=list)
    """Async background loops (each a task on the server's event loop)."""


def new_app(title: str, description: str) -> tuple[FastAPI, BackgroundWorkers]:
    """An empty application whose lifespan runs the background work added to `workers`."""
    workers = BackgroundWorkers()
    # Swagger UI and ReDoc from assets the package ships: the docs work without the internet.
    app = FastAPIOffline(
        docs_url=DOCS_URL,
        redoc_url=REDOC_URL,
        static_url=DOCS_ASSETS_URL,
        swagger_ui_oauth2_redirect_url=DOCS_URL + "/oauth2-redirect",
        lifespan=workers.lifespan,
        title=title,
        version=__version__,
        description=description,
        openapi_url=OPENAPI_URL,
    )
    http_errors.install(app)
    observability.install(app)
    return app, workers


def mount(app: FastAPI, workers: BackgroundWorkers, parts: Iterable[PartApp]) -> None:
    """Serve `parts` from `app`: their routes, their background work, and health endpoints
    that check each part's database."""
    parts = list(parts)
    for part in parts:
        for router in part.routers:
            app.include_router(router)
        for name, loop in part.threads:
            workers.add_thread(name, loop)
        for name, task in part.tasks:
            workers.add_task(name, task)
    _mount_health(app, {part.name: part.engine for part in parts})


def _mount_health(app: FastAPI, engines: dict[str, Engine]) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        failing = []
        for part, engine in engines.items():
            try:
                with read(engine) as conn:
                    conn.execute(text("SELECT 1"))
            except Exception:  # readiness reports any failure as not ready
                failing.append(part)
        status = 503 if failing else 200
        return JSONResponse({"ready": not failing, "failing": failing}, status_code=status)

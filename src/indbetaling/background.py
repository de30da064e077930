"""Background loops of the parts (relays, push, clean-up), started and stopped with the server:
threads for blocking loops, asyncio tasks for the async ones, one stop signal for all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

log = logging.getLogger("indbetaling")
RETRY_SECONDS = 5.0


class BackgroundWorkers:
    """The parts' background loops (relays, clean-up), started and stopped with the server."""

    def __init__(self) -> None:
        self._loops: list[tuple[str, Callable[[threading.Event], None]]] = []
        self._tasks: list[tuple[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add_thread(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        self._loops.append((name, loop))

    def add_task(
        self, name: str, loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]]
    ) -> None:
        self._tasks.append((name, loop))

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=loop, args=(self._stop,), name=name, daemon=True)
            for name, loop in self._loops
        ]
        for thread in self._threads:
            thread.start()
        stop_tasks = asyncio.Event()
        tasks = [asyncio.create_task(loop(stop_tasks), name=name) for name, loop in self._tasks]
        try:
            yield
        finally:
            stop_tasks.set()
            self._stop.set()
            if tasks:
                await asyncio.wait(tasks, timeout=10)
            for thread in self._threads:
                thread.join(timeout=10)


async def until_connected(connect: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Connect, trying again every few seconds while the broker is away (the robust connection
    takes over once made)."""
    while not stop.is_set():
        try:
            await connect()
            return
        except Exception as exc:  # aio-pika's connection errors are not all OSErrors
            log.warning("RabbitMQ is not reachable yet (%s); trying again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_SECONDS)

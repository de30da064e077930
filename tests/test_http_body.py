"""The one body reader: limits before parsing, chunked bodies counted as they come, and a
client that goes away mid-body is a refusal, not an internal error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from starlette.requests import Request
from starlette.types import Message

from indbetaling.http_body import (
    BadContentLength,
    BodyTooLarge,
    ClientGone,
    read_limited_body,
)


def request(messages: Iterable[Message], headers: dict[str, str] | None = None) -> Request:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    return Request(scope, receive)


def body(*chunks: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]


def read(req: Request, limit: int) -> bytes:
    return asyncio.run(read_limited_body(req, limit))


def test_a_body_within_the_limit_is_read_whole() -> None:
    assert read(request(body(b"ab", b"cd")), 4) == b"abcd"


def test_a_declared_or_chunked_body_over_the_limit_is_refused() -> None:
    with pytest.raises(BodyTooLarge) as declared:
        read(request(body(b"x"), {"content-length": "5"}), 4)
    assert declared.value.http_status == 413
    with pytest.raises(BodyTooLarge):
        read(request(body(b"abc", b"de")), 4)
    with pytest.raises(BadContentLength):
        read(request(body(b"x"), {"content-length": "1e3"}), 4)


def test_a_client_that_goes_away_mid_body_is_a_refusal() -> None:
    gone = [{"type": "http.request", "body": b"ab", "more_body": True}]
    with pytest.raises(ClientGone) as refused:
        read(request(gone), 100)
    assert refused.value.http_status == 400

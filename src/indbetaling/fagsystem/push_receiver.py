"""The fagsystem's receiver of pushed messages (`BeskedFaaTilsendt`) at its `push_url`.

A push is a POST of KOMBIT's `ModtagBeskedInput`, signed per Standard Webhooks with the
subscription's secret. An unsigned, wrongly signed or stale push gets HTTP 401 and nothing is
processed. A signed push is parsed and validated: a valid message is stored once per BeskedId
and answered `ModtagBeskedOutput/StandardRetur/StatusKode` 20 (also when it was received
before), an invalid one 40 with the reason. A message stored for the first time is handed to
`on_stored` in the same transaction (so the fagsystem keeps its overview of claims current): a
message is never stored without its effect, nor has it twice. Only reading the body runs on the
event loop; checking, parsing and storing run in the threadpool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from indbetaling.besked import Envelope, InvalidMessage, modtag_besked_output, parse_envelope
from indbetaling.db import write
from indbetaling.fagsystem import store
from indbetaling.http_body import BodyRefused, read_limited_body
from indbetaling.webhooks import InvalidSignature, verify
from indbetaling.xml_safety import DEFAULT_MAX_BYTES, UnsafeXml

XML_MEDIA_TYPE = "text/xml; charset=utf-8"

OnStored = Callable[[Connection, Envelope, datetime], object]
"""Called with the open transaction, the message and the time it was received."""


def _xml(body: bytes, status_code: int = 200) -> Response:
    return Response(content=body, status_code=status_code, media_type=XML_MEDIA_TYPE)


def push_receiver_router(
    engine: Engine,
    secret: str | Callable[[], str],
    *,
    path: str = "/beskeder",
    fagsystem_id: str = "",
    now: Callable[[], float] = time.time,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_stored: OnStored | None = None,
) -> APIRouter:
    """A router with `POST {path}`: the fagsystem's push receiver, on its own database.

    `secret` is the subscription's `whsec_…` secret, or a callable giving the current one.
    `fagsystem_id` names the receiving fagsystem where one database serves several.
    """
    router = APIRouter()

    def answer(headers: Mapping[str, str], body: bytes) -> Response:
        key = secret() if callable(secret) else secret
        try:
            verify(key, headers, body, now=int(now()))
        except InvalidSignature as exc:
            return Response(content=str(exc), status_code=401, media_type="text/plain")
        try:
            envelope = parse_envelope(body, max_bytes=max_bytes)
        except (InvalidMessage, UnsafeXml) as exc:
            return _xml(modtag_besked_output(40, str(exc)[:500]))
        received_at = datetime.now(UTC)
        with write(engine) as conn:
            first = store.store_received(conn, envelope, received_at, fagsystem_id)
            if first and on_stored is not None:
                on_stored(conn, envelope, received_at)
        return _xml(modtag_besked_output(20))

    @router.post(path, response_class=Response, summary="BeskedFaaTilsendt (ModtagBeskedInput)")
    async def receive(request: Request) -> Response:
        try:
            body = await read_limited_body(request, max_bytes)
        except BodyRefused:
            return _xml(modtag_besked_output(40, "Beskeden er for stor"), status_code=413)
        return await run_in_threadpool(answer, request.headers, body)

    return router

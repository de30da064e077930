"""Reading a request body with a size limit, before anything is parsed (chunked bodies too).

The one body reader of the project. A declared `Content-Length` over the limit is refused
before a byte is read, and a body without one (chunked) is refused as soon as it grows past
the limit; a client that goes away mid-body is `ClientGone`, not an internal error. Each wire
turns a `BodyRefused` into its own answer (a SOAP fault, a problem document, a
`ModtagBeskedOutput`).
"""

from __future__ import annotations

from typing import TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

M = TypeVar("M", bound=BaseModel)


class BodyRefused(ValueError):
    """The body was not read; the text says why (Danish / English)."""

    http_status = 400


class BodyTooLarge(BodyRefused):
    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Forespørgslen er større end {limit} bytes / request larger than {limit} bytes"
        )
        self.limit = limit


class BadContentLength(BodyRefused):
    def __init__(self) -> None:
        super().__init__("Content-Length er ikke et tal / bad Content-Length")


class ClientGone(BodyRefused):
    """The client went away before the whole body had come; nobody is left to answer."""

    def __init__(self) -> None:
        super().__init__("Klienten afbrød forespørgslen / the client went away mid-request")


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The whole body, or `BodyTooLarge` as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadContentLength
        if int(declared) > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone from None
    return b"".join(chunks)


async def read_model(request: Request, model: type[M], limit: int) -> M:
    """The JSON body as `model`, read with `read_limited_body` (`BodyRefused` when it cannot
    be); a body that is not `model` raises `RequestValidationError` (422)."""
    body = await read_limited_body(request, limit)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None

"""Reading a request body with a size limit, before anything is parsed (chunked bodies too)."""

from __future__ import annotations

from starlette.requests import Request

from indbetaling.soap.faults import SoapFault
from indbetaling.soap.parsing import MAX_BODY_BYTES, too_large_fault


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or a 413 Client fault as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large_fault(limit)
        except ValueError:
            raise SoapFault(
                "Client", "Content-Length er ikke et tal / bad Content-Length"
            ) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large_fault(limit)
        chunks.append(chunk)
    return b"".join(chunks)

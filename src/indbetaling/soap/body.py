"""A SOAP request body, read with the project's one size-limited reader; a refusal is a fault."""

from __future__ import annotations

from starlette.requests import Request

from indbetaling import http_body
from indbetaling.http_body import BodyRefused, BodyTooLarge
from indbetaling.soap.faults import SoapFault
from indbetaling.soap.parsing import MAX_BODY_BYTES, too_large_fault


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or a 413 Client fault as soon as it is known to exceed `limit` bytes
    (a Client fault when its Content-Length is no number)."""
    try:
        return await http_body.read_limited_body(request, limit)
    except BodyTooLarge:
        raise too_large_fault(limit) from None
    except BodyRefused as exc:
        raise SoapFault("Client", str(exc)) from None

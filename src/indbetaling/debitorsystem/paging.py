"""Continuation keys (FortsaettelsesNoegle) of the staff's paged lists: opaque texts that carry
the last position of a page and are bound to the query they page, so a key used with another
query (another authority or filter) is refused rather than silently paging something else."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from indbetaling.debitorsystem.transactions import InvalidRequest


def _bound(query: Sequence[str | None]) -> str:
    return hashlib.sha256(json.dumps(list(query)).encode()).hexdigest()[:16]


def make_key(query: Sequence[str | None], position: Sequence[str]) -> str:
    raw = json.dumps({"q": _bound(query), "p": list(position)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_key(key: str, query: Sequence[str | None], size: int) -> list[str]:
    """The position in `key`, with `size` parts; InvalidRequest when it is malformed or made
    for another query."""
    try:
        raw = base64.urlsafe_b64decode((key + "=" * (-len(key) % 4)).encode())
        data = json.loads(raw)
        bound, position = data["q"], data["p"]
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest("FortsaettelsesNoegle er ugyldig") from None
    if (
        not isinstance(position, list)
        or len(position) != size
        or not all(isinstance(p, str) for p in position)
    ):
        raise InvalidRequest("FortsaettelsesNoegle er ugyldig")
    if bound != _bound(query):
        raise InvalidRequest("FortsaettelsesNoegle hører til en anden forespørgsel")
    return list(position)

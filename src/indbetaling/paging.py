"""Continuation keys (FortsaettelsesNoegle) of paged lists: opaque texts that carry the last
position of a page and are bound to the query they page, so a key used with another query
(another authority or filter) is refused rather than silently paging something else."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

T = TypeVar("T")

PAGE = 100
"""Items a page of a listing holds unless its `Antal` says otherwise."""
PAGE_MAX = 1000


class InvalidPage(ValueError):
    """A page that cannot be given as asked (Danish text)."""


class InvalidKey(InvalidPage):
    """A continuation key that is malformed or was made for another query (Danish text)."""


def _bound(query: Sequence[str | None]) -> str:
    return hashlib.sha256(json.dumps(list(query)).encode()).hexdigest()[:16]


def make_key(query: Sequence[str | None], position: Sequence[str]) -> str:
    raw = json.dumps({"q": _bound(query), "p": list(position)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_key(key: str, query: Sequence[str | None], size: int) -> list[str]:
    """The position in `key`, with `size` parts; InvalidKey when it is malformed or made for
    another query."""
    try:
        raw = base64.urlsafe_b64decode((key + "=" * (-len(key) % 4)).encode())
        data = json.loads(raw)
        bound, position = data["q"], data["p"]
    except (ValueError, KeyError, TypeError):
        raise InvalidKey("FortsaettelsesNoegle er ugyldig") from None
    if (
        not isinstance(position, list)
        or len(position) != size
        or not all(isinstance(p, str) for p in position)
    ):
        raise InvalidKey("FortsaettelsesNoegle er ugyldig")
    if bound != _bound(query):
        raise InvalidKey("FortsaettelsesNoegle hører til en anden forespørgsel")
    return list(position)


def make_seq_key(query: Sequence[str | None], seq: int) -> str:
    """A key whose position is a row's sequence number (lists in order of arrival)."""
    return make_key(query, [str(seq)])


def read_seq_key(key: str, query: Sequence[str | None]) -> int:
    """The sequence number in a `make_seq_key` key; InvalidKey otherwise."""
    (text,) = read_key(key, query, 1)
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InvalidKey("FortsaettelsesNoegle er ugyldig")
    return int(text)


def page_by_seq(
    query: Sequence[str | None],
    key: str | None,
    size: int,
    fetch: Callable[[int | None, int], Sequence[T]],
    seq_of: Callable[[T], int],
) -> tuple[list[T], str | None]:
    """A page of a list in order of arrival: `fetch(after_seq, limit)` reads at most `limit`
    items after `after_seq`; the next page's key is None on the last page. InvalidKey when
    `key` is not one of this query's."""
    after = read_seq_key(key, query) if key else None
    found = list(fetch(after, size + 1))
    page = found[:size]
    return page, make_seq_key(query, seq_of(page[-1])) if len(found) > size else None


def document_page(
    listing: str,
    authority_cvr: str | None,
    reference: UUID | None,
    key: str | None,
    size: int,
    *,
    fetch: Callable[[int | None, int], Sequence[T]],
    seq_of: Callable[[T], int],
) -> tuple[list[T], str | None]:
    """A page of documents of an authority and/or about one payment (`Reference`), in order of
    arrival (`page_by_seq`); InvalidPage when neither is asked or `size` is out of range."""
    if authority_cvr is None and reference is None:
        raise InvalidPage("Angiv MyndighedCVR eller Reference")
    if not 1 <= size <= PAGE_MAX:
        raise InvalidPage(f"Antal skal være 1-{PAGE_MAX}")
    query = (listing, authority_cvr, str(reference) if reference else None)
    return page_by_seq(query, key, size, fetch, seq_of)

"""The finance ledger's use cases: receive a posting (once per PosteringId), list postings.
One transaction each; blocking, so callers on an event loop run them in a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine

from indbetaling import db, paging
from indbetaling.finance import domain, store
from indbetaling.finance.domain import FejlKode, Posting, Refused
from indbetaling.finance.store import StoredPosting

PAGE = 100
PAGE_MAX = 1000


@dataclass(frozen=True)
class Received:
    stored: StoredPosting
    new: bool
    """False when the same posting had come before (the answer is the stored one)."""


class FinanceService:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def receive(self, posting: Posting) -> Received:
        """Book `posting` once: a new id is stored, the same posting again answers the stored
        one, another posting under a taken id is `Refused` POSTERINGID_KONFLIKT. Two equal
        postings at once store one (the second waits on the first's key and reads it)."""
        with db.write(self.engine) as conn:
            new = store.insert_posting(conn, posting, self.clock())
            stored = store.load_posting(conn, posting.id)
        assert stored is not None  # noqa: S101 - inserted or found above, in one transaction
        if not new:
            domain.receive(posting, stored.posting)
        return Received(stored, new)

    def postings_page(
        self, authority_cvr: str | None, reference: UUID | None, key: str | None, size: int = PAGE
    ) -> tuple[list[StoredPosting], str | None]:
        """A page of postings of an authority and/or about one payment in order of arrival, and
        the key of the next page (None on the last)."""
        if authority_cvr is None and reference is None:
            raise Refused(FejlKode.UGYLDIG_FORESPOERGSEL, "Angiv MyndighedCVR eller Reference")
        if not 1 <= size <= PAGE_MAX:
            raise Refused(FejlKode.UGYLDIG_FORESPOERGSEL, f"Antal skal være 1-{PAGE_MAX}")
        query = ("posteringer", authority_cvr, str(reference) if reference else None)

        def fetch(after: int | None, limit: int) -> list[StoredPosting]:
            with db.read(self.engine) as conn:
                return store.postings_page(
                    conn,
                    authority_cvr=authority_cvr,
                    reference=reference,
                    after_seq=after,
                    limit=limit,
                )

        try:
            return paging.page_by_seq(query, key, size, fetch, lambda s: s.seq)
        except paging.InvalidKey as exc:
            raise Refused(FejlKode.UGYLDIG_FORESPOERGSEL, str(exc)) from None

    def authority_postings(self, authority_cvr: str) -> list[Posting]:
        """Every posting of the authority, in order of arrival (for the reconciliation)."""
        result: list[Posting] = []
        after: int | None = None
        while True:
            with db.read(self.engine) as conn:
                found = store.postings_page(
                    conn, authority_cvr=authority_cvr, reference=None, after_seq=after, limit=5000
                )
            result.extend(s.posting for s in found)
            if len(found) < 5000:
                return result
            after = found[-1].seq

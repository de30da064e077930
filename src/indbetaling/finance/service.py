"""The finance ledger's use cases: receive a posting (once per PosteringId), list postings.
One transaction each; blocking, so callers on an event loop run them in a thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine

from indbetaling import db, paging
from indbetaling.finance import domain, store
from indbetaling.finance.domain import FejlKode, Posting
from indbetaling.finance.store import StoredPosting
from indbetaling.idempotency import Received, receive_once
from indbetaling.refusal import Refused

PAGE, PAGE_MAX = paging.PAGE, paging.PAGE_MAX


class FinanceService:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def receive(self, posting: Posting) -> Received[StoredPosting]:
        """Book `posting` once: a new id is stored, the same posting again answers the stored
        one, another posting under a taken id is `Refused` POSTERINGID_KONFLIKT. Two equal
        postings at once store one (the second waits on the first's key and reads it)."""
        now = self.clock()
        return receive_once(
            self.engine,
            insert=lambda conn: store.insert_posting(conn, posting, now),
            load=lambda conn: store.load_posting(conn, posting.id),
            check_same=lambda stored: domain.check_same(posting, stored.posting),
        )

    def postings_page(
        self, authority_cvr: str | None, reference: UUID | None, key: str | None, size: int = PAGE
    ) -> tuple[list[StoredPosting], str | None]:
        """A page of postings of an authority and/or about one payment in order of arrival, and
        the key of the next page (None on the last)."""

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
            return paging.document_page(
                "posteringer",
                authority_cvr,
                reference,
                key,
                size,
                fetch=fetch,
                seq_of=lambda s: s.seq,
            )
        except paging.InvalidPage as exc:
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

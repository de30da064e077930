"""NemKonto's use cases: receive a payment request (once per BetalingsanmodningId), list them.
One transaction each; blocking, so callers on an event loop run them in a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine

from indbetaling import db, paging
from indbetaling.nemkonto import domain, store
from indbetaling.nemkonto.domain import FejlKode, PaymentRequest, Refused
from indbetaling.nemkonto.store import StoredRequest

PAGE = 100
PAGE_MAX = 1000


@dataclass(frozen=True)
class Received:
    stored: StoredRequest
    new: bool
    """False when the same request had come before (the answer is the stored one)."""


class NemKontoService:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def receive(self, request: PaymentRequest) -> Received:
        """Record `request` once: a new id is stored, the same request again answers the stored
        one, another request under a taken id is `Refused` BETALINGSANMODNINGID_KONFLIKT."""
        with db.write(self.engine) as conn:
            new = store.insert_request(conn, request, self.clock())
            stored = store.load_request(conn, request.id)
        assert stored is not None  # noqa: S101 - inserted or found above, in one transaction
        if not new:
            domain.receive(request, stored.request)
        return Received(stored, new)

    def requests_page(
        self, authority_cvr: str | None, reference: UUID | None, key: str | None, size: int = PAGE
    ) -> tuple[list[StoredRequest], str | None]:
        """A page of requests of an authority and/or about one payment, in order of arrival,
        and the key of the next page (None on the last)."""
        if authority_cvr is None and reference is None:
            raise Refused(FejlKode.UGYLDIG_FORESPOERGSEL, "Angiv MyndighedCVR eller Reference")
        query = ("betalingsanmodninger", authority_cvr, str(reference) if reference else None)

        def fetch(after: int | None, limit: int) -> list[StoredRequest]:
            with db.read(self.engine) as conn:
                return store.requests_page(
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

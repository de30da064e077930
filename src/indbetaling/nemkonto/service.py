"""NemKonto's use cases: receive a payment request (once per BetalingsanmodningId), list them.
Each is one transaction and blocks: an event loop hands it to a thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine

from indbetaling import db, paging
from indbetaling.idempotency import Received, receive_once
from indbetaling.nemkonto import domain, store
from indbetaling.nemkonto.domain import FejlKode, PaymentRequest
from indbetaling.nemkonto.store import StoredRequest
from indbetaling.refusal import Refused

PAGE, PAGE_MAX = paging.PAGE, paging.PAGE_MAX


class NemKontoService:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def receive(self, request: PaymentRequest) -> Received[StoredRequest]:
        """Record `request` once: a new id is stored, the same request again answers the stored
        one, another request under a taken id is `Refused` BETALINGSANMODNINGID_KONFLIKT."""
        now = self.clock()
        return receive_once(
            self.engine,
            insert=lambda conn: store.insert_request(conn, request, now),
            load=lambda conn: store.load_request(conn, request.id),
            check_same=lambda stored: domain.check_same(request, stored.request),
        )

    def requests_page(
        self, authority_cvr: str | None, reference: UUID | None, key: str | None, size: int = PAGE
    ) -> tuple[list[StoredRequest], str | None]:
        """A page of requests of an authority and/or about one payment, in order of arrival,
        and the key of the next page (None on the last)."""

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
            return paging.document_page(
                "betalingsanmodninger",
                authority_cvr,
                reference,
                key,
                size,
                fetch=fetch,
                seq_of=lambda s: s.seq,
            )
        except paging.InvalidPage as exc:
            raise Refused(FejlKode.UGYLDIG_FORESPOERGSEL, str(exc)) from None

"""The overview of payable claims, kept current two ways (CONTRACT §3, §6, §9):

- `refresh`: a search of the debitorsystem for one party (SoegFordringTilIndbetaling through
  the port, every page), as of the moment the search began; the party's claims it no longer
  lists are no longer payable;
- `apply_message`: a FordringTilIndbetaling message as it is received (Oprettet, Aendret,
  Afsluttet), as of its Dannelsestidspunkt, in the transaction that stores the message.

Either way an older word never overwrites a newer one and a repeat changes nothing
(`claims_store.remember_claims`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Connection, Engine

from indbetaling.besked import Envelope, ObjectAction
from indbetaling.db import read, write
from indbetaling.fagsystem import claims_store
from indbetaling.fagsystem.client import DebitorIndbetaling, SearchQuery
from indbetaling.fordring import ClaimView

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def apply_message(
    conn: Connection, fagsystem_id: UUID, envelope: Envelope, received_at: datetime
) -> bool:
    """Take a received message's claim into the overview; True when the overview changed.

    The claim is as of the envelope's Dannelsestidspunkt; a message without one (the
    envelope's schema allows it) counts as of `received_at`. `Afsluttet` means no longer
    payable, whatever else the claim shows."""
    claim = envelope.claim
    if claim is None:
        return False
    closed = ObjectAction.AFSLUTTET.value in envelope.filter_data.actions
    seen_at = envelope.created_at or received_at
    changed = claims_store.remember_claims(
        conn, fagsystem_id, [claim], seen_at, received_at, closed=closed
    )
    return changed > 0


def message_handler(fagsystem_id: UUID) -> Callable[[Connection, Envelope, datetime], bool]:
    """`apply_message` for one fagsystem, as the push receiver's `on_stored`."""

    def handle(conn: Connection, envelope: Envelope, received_at: datetime) -> bool:
        return apply_message(conn, fagsystem_id, envelope, received_at)

    return handle


async def refresh(
    engine: Engine,
    debitor: DebitorIndbetaling,
    fagsystem_id: UUID,
    cvr: str,
    part_id: str,
    *,
    clock: Clock = _utc_now,
) -> None:
    """Search the debitorsystem for the party's claims in the authority and keep what it says.

    Raises the port's `NoBusinessAnswer` (and then nothing is changed)."""
    seen_at = clock()
    views = await debitor.search(cvr, SearchQuery(part_id=part_id))
    await asyncio.to_thread(_remember_search, engine, fagsystem_id, (cvr, part_id), views, seen_at)


def _remember_search(
    engine: Engine,
    fagsystem_id: UUID,
    party: tuple[str, str],
    views: list[ClaimView],
    seen_at: datetime,
) -> None:
    cvr, part_id = party
    # only what the search was about: the authority's claims for which the party is liable
    found = [
        v
        for v in views
        if v.authority_cvr == cvr and any(p.part_id == part_id for p in v.liable_parties)
    ]
    now = _utc_now()
    with write(engine) as conn:
        claims_store.remember_claims(conn, fagsystem_id, found, seen_at, now)
        claims_store.close_unlisted(
            conn,
            fagsystem_id,
            cvr,
            part_id,
            listed={v.claim_id for v in found},
            seen_at=seen_at,
            now=now,
        )


def payable_claims(engine: Engine, fagsystem_id: UUID, cvr: str, part_id: str) -> list[ClaimView]:
    """The party's payable claims in the authority as the overview holds them (blocking)."""
    with read(engine) as conn:
        return claims_store.payable_claims(conn, fagsystem_id, cvr, part_id)

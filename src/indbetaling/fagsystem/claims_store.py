"""The fagsystem's overview of payable claims: per hosted fagsystem, each claim as it last
learned it (from a search or a FordringTilIndbetaling message) and the parties liable for it.

`seen_at` is when the debitorsystem said so (the message's Dannelsestidspunkt, or the time of
the search), so an older word never overwrites a newer one, and a repeat changes nothing. A
claim that stops being payable stays, with `payable` false: what was last known of it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    String,
    Table,
    Text,
    Uuid,
    delete,
    insert,
    select,
    update,
)

from indbetaling.db import UtcDateTime, insert_or_ignore
from indbetaling.fagsystem.store import metadata
from indbetaling.fordring import ClaimStatus, ClaimView, view_from_json, view_to_json

claims = Table(
    "claims",
    metadata,
    Column("fagsystem_id", Uuid, primary_key=True),
    Column("claim_id", Uuid, primary_key=True),
    Column("authority_cvr", String(8), nullable=False),
    Column("restance_ore", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("payable", Boolean, nullable=False),
    Column("view_json", Text, nullable=False),  # the claim as `fordring.view_to_json` writes it
    Column("seen_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

claim_parties = Table(
    "claim_parties",
    metadata,
    Column("fagsystem_id", Uuid, primary_key=True),
    Column("claim_id", Uuid, primary_key=True),
    Column("part_id", String(64), primary_key=True),
    Column("authority_cvr", String(8), nullable=False),
    Index("ix_claim_parties_party", "fagsystem_id", "authority_cvr", "part_id"),
)


@dataclass(frozen=True)
class StoredClaim:
    """A claim as the overview holds it."""

    view: ClaimView
    payable: bool
    seen_at: datetime
    updated_at: datetime


def is_payable(view: ClaimView) -> bool:
    """What a view alone says: active with something owed."""
    return view.status is ClaimStatus.AKTIV and view.restance > 0


def remember_claims(
    conn: Connection,
    fagsystem_id: UUID,
    views: Iterable[ClaimView],
    seen_at: datetime,
    now: datetime,
    *,
    closed: bool = False,
) -> int:
    """Keep each claim as of `seen_at`, unless it is already known as of `seen_at` or later;
    the number of claims that changed. `closed` says the debitorsystem told the claims are no
    longer payable (a message's `Afsluttet`, e.g. when its payment period ended) whatever the
    views show; otherwise a view is payable when `is_payable`."""
    changed = 0
    for view in views:
        key = {"fagsystem_id": fagsystem_id, "claim_id": view.claim_id}
        values: dict[str, Any] = {
            "authority_cvr": view.authority_cvr,
            "restance_ore": view.restance,
            "status": view.status.value,
            "payable": is_payable(view) and not closed,
            "view_json": json.dumps(view_to_json(view), sort_keys=True),
            "seen_at": seen_at,
            "updated_at": now,
        }
        if not insert_or_ignore(conn, claims, **key, **values):
            newer = (
                update(claims)
                .where(claims.c.fagsystem_id == fagsystem_id)
                .where(claims.c.claim_id == view.claim_id)
                .where(claims.c.seen_at < seen_at)  # atomic: a row lock decides a race
                .values(**values)
            )
            if conn.execute(newer).rowcount == 0:
                continue
            conn.execute(
                delete(claim_parties)
                .where(claim_parties.c.fagsystem_id == fagsystem_id)
                .where(claim_parties.c.claim_id == view.claim_id)
            )
        parties = {p.part_id for p in view.liable_parties}
        conn.execute(
            insert(claim_parties),
            [{**key, "part_id": p, "authority_cvr": view.authority_cvr} for p in sorted(parties)],
        )
        changed += 1
    return changed


def close_unlisted(
    conn: Connection,
    fagsystem_id: UUID,
    cvr: str,
    part_id: str,
    *,
    listed: Collection[UUID],
    seen_at: datetime,
    now: datetime,
) -> int:
    """After a search for `part_id` at `seen_at` found `listed`: every other claim of the party
    known as payable from before `seen_at` is not payable any more. The number closed."""
    known = select(claim_parties.c.claim_id).where(
        claim_parties.c.fagsystem_id == fagsystem_id,
        claim_parties.c.authority_cvr == cvr,
        claim_parties.c.part_id == part_id,
    )
    statement = (
        update(claims)
        .where(claims.c.fagsystem_id == fagsystem_id)
        .where(claims.c.claim_id.in_(known))
        .where(claims.c.payable.is_(True))
        .where(claims.c.seen_at < seen_at)
        .values(payable=False, seen_at=seen_at, updated_at=now)
    )
    if listed:
        statement = statement.where(claims.c.claim_id.not_in(list(listed)))
    return int(conn.execute(statement).rowcount)


def payable_claims(conn: Connection, fagsystem_id: UUID, cvr: str, part_id: str) -> list[ClaimView]:
    """The party's payable claims in the authority, by due date (then FordringId)."""
    query = (
        select(claims.c.view_json)
        .join(
            claim_parties,
            (claim_parties.c.fagsystem_id == claims.c.fagsystem_id)
            & (claim_parties.c.claim_id == claims.c.claim_id),
        )
        .where(claims.c.fagsystem_id == fagsystem_id)
        .where(claim_parties.c.authority_cvr == cvr)
        .where(claim_parties.c.part_id == part_id)
        .where(claims.c.payable.is_(True))
    )
    views = [view_from_json(json.loads(text)) for text in conn.execute(query).scalars()]
    return sorted(views, key=lambda v: (v.due_date, str(v.claim_id)))


def stored_claim(conn: Connection, fagsystem_id: UUID, claim_id: UUID) -> StoredClaim | None:
    """One claim as the overview holds it, payable or not."""
    row = conn.execute(
        select(claims)
        .where(claims.c.fagsystem_id == fagsystem_id)
        .where(claims.c.claim_id == claim_id)
    ).first()
    if row is None:
        return None
    return StoredClaim(
        view=view_from_json(json.loads(row.view_json)),
        payable=row.payable,
        seen_at=row.seen_at,
        updated_at=row.updated_at,
    )

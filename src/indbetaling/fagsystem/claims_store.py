"""The fagsystem's overview of payable claims: per hosted fagsystem, each claim as it last
learned it (from a search or a FordringTilIndbetaling message) and the parties liable for it.

`seen_at` is when the debitorsystem said so (the message's Dannelsestidspunkt, or the time of
the search), so an older word never overwrites a newer one.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text, Uuid

from indbetaling.db import UtcDateTime
from indbetaling.fagsystem.store import metadata

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

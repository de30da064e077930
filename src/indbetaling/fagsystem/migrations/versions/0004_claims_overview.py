"""Fagsystem: the overview of payable claims and their liable parties, per hosted fagsystem.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("restance_ore", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payable", sa.Boolean(), nullable=False),
        sa.Column("view_json", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fagsystem_id", "claim_id"),
    )
    op.create_table(
        "claim_parties",
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("fagsystem_id", "claim_id", "part_id"),
    )
    op.create_index(
        "ix_claim_parties_party",
        "claim_parties",
        ["fagsystem_id", "authority_cvr", "part_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_claim_parties_party", table_name="claim_parties")
    op.drop_table("claim_parties")
    op.drop_table("claims")

"""Fagsystem: reversal orders received from debitorsystems, once per TilbagefoerselsOrdreId.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reversal_orders",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("overcoverage_ore", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_uuid", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_ore > 0", name="ck_reversal_orders_amount_positive"),
        sa.CheckConstraint("overcoverage_ore > 0", name="ck_reversal_orders_overcoverage_positive"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index(
        "ix_reversal_orders_pending",
        "reversal_orders",
        ["fagsystem_id", "state", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reversal_orders_pending", table_name="reversal_orders")
    op.drop_table("reversal_orders")

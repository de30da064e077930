"""Refused publications: every message the Beskedfordeler refuses, with its reason, for operators.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 08:20:00.000000
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
        "refused_messages",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("publisher_id", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("besked_id", sa.String(length=64), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("refused_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refused_messages_publisher_id"), ["publisher_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("refused_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refused_messages_publisher_id"))
    op.drop_table("refused_messages")

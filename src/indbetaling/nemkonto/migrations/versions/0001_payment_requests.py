"""NemKonto: the payment requests it has received.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_requests",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("part_id", sa.String(length=40), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_ore > 0", name=op.f("ck_payment_requests_amount_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("id", name=op.f("uq_payment_requests_id")),
    )
    op.create_index("ix_payment_requests_authority", "payment_requests", ["authority_cvr", "seq"])
    op.create_index("ix_payment_requests_reference", "payment_requests", ["reference", "seq"])


def downgrade() -> None:
    op.drop_index("ix_payment_requests_reference", table_name="payment_requests")
    op.drop_index("ix_payment_requests_authority", table_name="payment_requests")
    op.drop_table("payment_requests")

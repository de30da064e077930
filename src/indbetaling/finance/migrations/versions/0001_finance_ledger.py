"""Finance: the ledger's postings and their lines.

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
        "postings",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("reference", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_postings")),
        sa.UniqueConstraint("id", name=op.f("uq_postings_id")),
    )
    op.create_index("ix_postings_authority", "postings", ["authority_cvr", "seq"])
    op.create_index("ix_postings_reference", "postings", ["reference", "seq"])
    op.create_table(
        "posting_lines",
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.CheckConstraint("amount_ore <> 0", name=op.f("ck_posting_lines_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_posting_lines_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("posting_id", "line_no", name=op.f("pk_posting_lines")),
    )


def downgrade() -> None:
    op.drop_table("posting_lines")
    op.drop_index("ix_postings_reference", table_name="postings")
    op.drop_index("ix_postings_authority", table_name="postings")
    op.drop_table("postings")

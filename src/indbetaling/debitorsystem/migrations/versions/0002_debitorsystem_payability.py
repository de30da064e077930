"""debitorsystem: the payability each claim's last message told of

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 07:30:00

A claim's payability changes with the date alone when its payment period opens or ends; the
debitorsystem then sends its message (CONTRACT §6). It keeps, per claim, whether its last message
told of a payable claim, so it sends that message once.
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
        "announced_payability",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("payable", sa.Integer(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_announced_payability_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_announced_payability")),
    )


def downgrade() -> None:
    op.drop_table("announced_payability")

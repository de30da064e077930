"""Fagsystem: a reversal remembers that the debitorsystem refused its new payment of
Genindbetal, which was then paid back instead.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reversals") as batch:
        batch.add_column(
            sa.Column("repay_refused", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("reversals") as batch:
        batch.drop_column("repay_refused")

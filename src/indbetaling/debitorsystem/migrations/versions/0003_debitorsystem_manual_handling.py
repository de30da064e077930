"""debitorsystem: collections staff close reversal orders and reverse other coverages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 07:40:00

A reversal order waiting for manual handling (MANUEL) is closed by a named member of staff with a
reason (state LUKKET); another coverage (ANDEN) that over-covers a claim is reversed by staff, who
is recorded with the reversal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reversal_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("closed_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("reversals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reversals", schema=None) as batch_op:
        batch_op.drop_column("staff_name")
    with op.batch_alter_table("reversal_orders", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("closed_by")

"""debitorsystem: the KLA types in a fagsystem's sortiment

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 07:50:00

A fagsystem's sortiment per authority names the ORG units it may pay from (`assortment`) and the
account and claim types (KLA classes) it may use (`assortment_types`, R10).
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
        "assortment_types",
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("type_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_cvr"],
            ["authorities.cvr"],
            name=op.f("fk_assortment_types_authority_cvr_authorities"),
        ),
        sa.ForeignKeyConstraint(
            ["fagsystem_id"],
            ["fagsystems.id"],
            name=op.f("fk_assortment_types_fagsystem_id_fagsystems"),
        ),
        sa.PrimaryKeyConstraint(
            "fagsystem_id", "authority_cvr", "type_code", name=op.f("pk_assortment_types")
        ),
    )


def downgrade() -> None:
    op.drop_table("assortment_types")

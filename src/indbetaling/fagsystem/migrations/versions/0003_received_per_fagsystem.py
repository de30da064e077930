"""Received messages are kept per hosted fagsystem: one BeskedId may reach several.

The primary key grows from (besked_id) to (fagsystem_id, besked_id). The table is made anew and
its rows copied, which is the same on SQLite and PostgreSQL.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "besked_id, message_type, claim_id, authority_cvr, restance_ore, status, "
    "last_timely_payment_date, envelope, received_at"
)


def _create(name: str, key: list[str], with_fagsystem: bool) -> None:
    columns = [sa.Column("fagsystem_id", sa.String(36), nullable=False, server_default="")]
    op.create_table(
        name,
        *(columns if with_fagsystem else []),
        sa.Column("besked_id", sa.String(length=64), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=True),
        sa.Column("authority_cvr", sa.String(length=8), nullable=True),
        sa.Column("restance_ore", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("last_timely_payment_date", sa.Date(), nullable=True),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
    )


def _replace(with_fagsystem: bool, key: list[str]) -> None:
    _create("received_messages_new", key, with_fagsystem)
    op.execute(
        f"INSERT INTO received_messages_new ({COLUMNS}) SELECT {COLUMNS} FROM received_messages"  # noqa: S608 - constant names
    )
    op.drop_index("ix_received_messages_claim_id", table_name="received_messages")
    op.drop_table("received_messages")
    op.rename_table("received_messages_new", "received_messages")
    op.create_index("ix_received_messages_claim_id", "received_messages", ["claim_id"])


def upgrade() -> None:
    _replace(True, ["fagsystem_id", "besked_id"])


def downgrade() -> None:
    _replace(False, ["besked_id"])

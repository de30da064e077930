"""Fagsystem: its payments and their history, reversals and pay-backs, and the outbox of its
postings and payout requests.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_published_at"), ["published_at"], unique=False)

    op.create_table(
        "paybacks",
        sa.Column("payback_id", sa.Uuid(), nullable=False),
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("reversal_id", sa.Uuid(), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_ore > 0", name="ck_paybacks_amount_positive"),
        sa.PrimaryKeyConstraint("payback_id"),
        sa.UniqueConstraint("payment_id"),
        sa.UniqueConstraint("reversal_id"),
    )
    op.create_table(
        "payment_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_events_payment_id"), ["payment_id"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("payer_part_id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=True),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("transaction_uuid", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_text", sa.String(length=500), nullable=True),
        sa.Column("restance_ore", sa.BigInteger(), nullable=True),
        sa.Column("coverage_id", sa.Uuid(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("active_reversal_id", sa.Uuid(), nullable=True),
        sa.Column("repays_reversal_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_ore > 0", name="ck_payments_amount_positive"),
        sa.PrimaryKeyConstraint("payment_id"),
        sa.UniqueConstraint("fagsystem_id", "idempotency_key", name="uq_payments_idempotency_key"),
        sa.UniqueConstraint("transaction_uuid"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payments_due", ["fagsystem_id", "state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_payments_listing", ["fagsystem_id", "authority_cvr", "created_at"], unique=False
        )

    op.create_table(
        "reversals",
        sa.Column("reversal_id", sa.Uuid(), nullable=False),
        sa.Column("fagsystem_id", sa.Uuid(), nullable=False),
        sa.Column("authority_cvr", sa.String(length=8), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("overcoverage_ore", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_text", sa.String(length=500), nullable=True),
        sa.Column("automatic", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("repay_ore", sa.BigInteger(), nullable=True),
        sa.Column("payback_ore", sa.BigInteger(), nullable=True),
        sa.Column("step_state", sa.String(length=20), nullable=True),
        sa.Column("reverse_transaction_uuid", sa.Uuid(), nullable=True),
        sa.Column("repay_payment_id", sa.Uuid(), nullable=True),
        sa.Column("repay_transaction_uuid", sa.Uuid(), nullable=True),
        sa.Column("payback_id", sa.Uuid(), nullable=True),
        sa.Column("restance_after_ore", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_ore > 0", name="ck_reversals_amount_positive"),
        sa.CheckConstraint("repay_ore >= 0 AND payback_ore >= 0", name="ck_reversals_split"),
        sa.PrimaryKeyConstraint("reversal_id"),
        sa.UniqueConstraint("fagsystem_id", "order_id", name="uq_reversals_order"),
        sa.UniqueConstraint("reverse_transaction_uuid"),
    )
    with op.batch_alter_table("reversals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reversals_due", ["fagsystem_id", "step_state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_reversals_listing", ["fagsystem_id", "authority_cvr", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reversals_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reversals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reversals_payment_id"))
        batch_op.drop_index("ix_reversals_listing")
        batch_op.drop_index("ix_reversals_due")

    op.drop_table("reversals")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_listing")
        batch_op.drop_index("ix_payments_due")

    op.drop_table("payments")
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_events_payment_id"))

    op.drop_table("payment_events")
    op.drop_table("paybacks")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_published_at"))

    op.drop_table("outbox")

"""Beskedfordeler tables: publishers, mailboxes, subscriptions, value lists, mailbox messages,
push attempts and the error queue.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 20:56:09.381448
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
        "error_queue",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mailbox_id", sa.String(length=64), nullable=False),
        sa.Column("besked_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("error_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_error_queue_mailbox_id"), ["mailbox_id"], unique=False)

    op.create_table(
        "mailbox_messages",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mailbox_id", sa.String(length=64), nullable=False),
        sa.Column("besked_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliveries", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("mailbox_id", "besked_id", name="uq_mailbox_messages_besked"),
    )
    with op.batch_alter_table("mailbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mailbox_messages_due", ["mailbox_id", "visible_at", "seq"], unique=False
        )

    op.create_table(
        "mailboxes",
        sa.Column("mailbox_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("push_url", sa.String(length=2000), nullable=True),
        sa.Column("push_secret", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id"),
    )
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailboxes_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "publisher_permissions",
        sa.Column("it_system_id", sa.String(length=64), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("it_system_id", "message_type", name="pk_publisher_permissions"),
    )
    op.create_table(
        "push_attempts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mailbox_id", sa.String(length=64), nullable=False),
        sa.Column("besked_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("push_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_push_attempts_mailbox_id"), ["mailbox_id"], unique=False
        )

    op.create_table(
        "value_lists",
        sa.Column("list_id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("list_id"),
    )
    with op.batch_alter_table("value_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_value_lists_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("mailbox_id", sa.String(length=64), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=True),
        sa.Column("authority_cvr", sa.String(length=8), nullable=True),
        sa.Column("object_action", sa.String(length=40), nullable=True),
        sa.Column("value_list_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailboxes.mailbox_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["value_list_id"],
            ["value_lists.list_id"],
        ),
        sa.PrimaryKeyConstraint("subscription_id"),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_mailbox_id"), ["mailbox_id"], unique=False
        )

    op.create_table(
        "value_list_values",
        sa.Column("list_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["value_lists.list_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("list_id", "value", name="pk_value_list_values"),
    )


def downgrade() -> None:
    op.drop_table("value_list_values")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_mailbox_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("value_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_value_lists_owner_id"))

    op.drop_table("value_lists")
    with op.batch_alter_table("push_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_attempts_mailbox_id"))

    op.drop_table("push_attempts")
    op.drop_table("publisher_permissions")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailboxes_subscriber_id"))

    op.drop_table("mailboxes")
    with op.batch_alter_table("mailbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_mailbox_messages_due")

    op.drop_table("mailbox_messages")
    with op.batch_alter_table("error_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_error_queue_mailbox_id"))

    op.drop_table("error_queue")

"""The Beskedfordeler's tables (SQLAlchemy Core) and the queries its use cases need.

- `publisher_permissions`: which it-system may publish which message type.
- `mailboxes` (dueslag, UUID) of subscriber it-systems, pull or push; `subscriptions` with their
  filters. `value_lists` and `value_list_values`: the values are keyed by (list, value), so a
  lookup of one value in a list of a million is one B-tree probe, never a scan.
- `mailbox_messages`: the database mailbox (embedded default, and every push mailbox): a row
  is visible from `visible_at`; taking it hides it for a lease (redelivered if not acked in
  time, as AMQP redelivers on disconnect), acking deletes it.
- `push_attempts`: every push, with its answer. `error_queue` (fejlkø): pushes that gave up.
- `refused_messages`: every publication the Beskedfordeler refused, with its reason and the
  first `MAX_REFUSED_BODY` bytes of what was sent (`body_size` says how much that was).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
)

from indbetaling.beskedfordeler.domain import Filter, Mailbox, Subscription
from indbetaling.db import UtcDateTime, insert_or_ignore

metadata = MetaData()
_ID = String(64)
_SEQ = BigInteger().with_variant(Integer, "sqlite")

publisher_permissions = Table(
    "publisher_permissions",
    metadata,
    Column("it_system_id", _ID, nullable=False),
    Column("message_type", _ID, nullable=False),
    PrimaryKeyConstraint("it_system_id", "message_type", name="pk_publisher_permissions"),
)

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("mailbox_id", _ID, primary_key=True),
    Column("subscriber_id", _ID, nullable=False, index=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("push_url", String(2000), nullable=True),
    Column("push_secret", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

value_lists = Table(
    "value_lists",
    metadata,
    Column("list_id", _ID, primary_key=True),
    Column("owner_id", _ID, nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

value_list_values = Table(
    "value_list_values",
    metadata,
    Column("list_id", _ID, ForeignKey("value_lists.list_id", ondelete="CASCADE"), nullable=False),
    Column("value", String(200), nullable=False),
    PrimaryKeyConstraint("list_id", "value", name="pk_value_list_values"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", _ID, primary_key=True),
    Column(
        "mailbox_id",
        _ID,
        ForeignKey("mailboxes.mailbox_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("message_type", _ID, nullable=True),
    Column("authority_cvr", String(8), nullable=True),
    Column("object_action", String(40), nullable=True),
    Column("value_list_id", _ID, ForeignKey("value_lists.list_id"), nullable=True),
)

mailbox_messages = Table(
    "mailbox_messages",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("mailbox_id", _ID, nullable=False),
    Column("besked_id", _ID, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("enqueued_at", UtcDateTime, nullable=False),
    Column("visible_at", UtcDateTime, nullable=False),
    Column("deliveries", Integer, nullable=False, server_default="0"),
    UniqueConstraint("mailbox_id", "besked_id", name="uq_mailbox_messages_besked"),
    Index("ix_mailbox_messages_due", "mailbox_id", "visible_at", "seq"),
)

push_attempts = Table(
    "push_attempts",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("mailbox_id", _ID, nullable=False, index=True),
    Column("besked_id", _ID, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

error_queue = Table(
    "error_queue",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("mailbox_id", _ID, nullable=False, index=True),
    Column("besked_id", _ID, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(200), nullable=False),
    Column("failed_at", UtcDateTime, nullable=False),
)

refused_messages = Table(
    "refused_messages",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("publisher_id", _ID, nullable=False, index=True),
    Column("via", String(10), nullable=False),
    Column("besked_id", _ID, nullable=True),
    Column("transaction_id", _ID, nullable=True),
    Column("reason", String(500), nullable=False),
    Column("refused_at", UtcDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("body_size", Integer, nullable=False),
)
MAX_REFUSED_BODY = 64_000


# --- publishers, mailboxes, subscriptions ----------------------------------------------------


def grant_publish(conn: Connection, it_system_id: str, message_type: str) -> None:
    insert_or_ignore(
        conn, publisher_permissions, it_system_id=it_system_id, message_type=message_type.lower()
    )


def may_publish(conn: Connection, it_system_id: str, message_type: str) -> bool:
    row = conn.execute(
        select(publisher_permissions.c.it_system_id).where(
            publisher_permissions.c.it_system_id == it_system_id,
            publisher_permissions.c.message_type == message_type.lower(),
        )
    ).first()
    return row is not None


def add_mailbox(conn: Connection, mailbox: Mailbox, now: datetime) -> None:
    conn.execute(
        mailboxes.insert().values(
            mailbox_id=mailbox.mailbox_id,
            subscriber_id=mailbox.subscriber_id,
            name=mailbox.name,
            push_url=mailbox.push_url,
            push_secret=mailbox.push_secret,
            created_at=now,
        )
    )


def _mailbox(row: object) -> Mailbox:
    return Mailbox(
        mailbox_id=row.mailbox_id,  # type: ignore[attr-defined]
        subscriber_id=row.subscriber_id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        push_url=row.push_url,  # type: ignore[attr-defined]
        push_secret=row.push_secret,  # type: ignore[attr-defined]
    )


def update_mailbox(conn: Connection, mailbox: Mailbox) -> None:
    conn.execute(
        mailboxes.update()
        .where(mailboxes.c.mailbox_id == mailbox.mailbox_id)
        .values(name=mailbox.name, push_url=mailbox.push_url, push_secret=mailbox.push_secret)
    )


def delete_mailbox(conn: Connection, mailbox_id: str) -> None:
    """The mailbox, its subscriptions, its waiting messages and its error-queue entries."""
    conn.execute(delete(subscriptions).where(subscriptions.c.mailbox_id == mailbox_id))
    conn.execute(delete(mailbox_messages).where(mailbox_messages.c.mailbox_id == mailbox_id))
    conn.execute(delete(error_queue).where(error_queue.c.mailbox_id == mailbox_id))
    conn.execute(delete(mailboxes).where(mailboxes.c.mailbox_id == mailbox_id))


def get_mailbox(conn: Connection, mailbox_id: str) -> Mailbox | None:
    row = conn.execute(select(mailboxes).where(mailboxes.c.mailbox_id == mailbox_id)).first()
    return None if row is None else _mailbox(row)


def list_mailboxes(conn: Connection, subscriber_id: str | None = None) -> list[Mailbox]:
    query = select(mailboxes).order_by(mailboxes.c.created_at, mailboxes.c.mailbox_id)
    if subscriber_id is not None:
        query = query.where(mailboxes.c.subscriber_id == subscriber_id)
    return [_mailbox(r) for r in conn.execute(query)]


def get_mailboxes(conn: Connection, mailbox_ids: Collection[str]) -> list[Mailbox]:
    if not mailbox_ids:
        return []
    rows = conn.execute(select(mailboxes).where(mailboxes.c.mailbox_id.in_(list(mailbox_ids))))
    return sorted((_mailbox(r) for r in rows), key=lambda m: m.mailbox_id)


def add_subscription(conn: Connection, subscription: Subscription) -> None:
    f = subscription.filter
    conn.execute(
        subscriptions.insert().values(
            subscription_id=subscription.subscription_id,
            mailbox_id=subscription.mailbox_id,
            message_type=f.message_type.lower() if f.message_type else None,
            authority_cvr=f.authority_cvr,
            object_action=f.object_action,
            value_list_id=f.value_list_id,
        )
    )


def subscriptions_for(conn: Connection, message_type: str) -> list[Subscription]:
    """Every subscription that could match a message of this type (type-less ones included)."""
    c = subscriptions.c
    rows = conn.execute(
        select(subscriptions)
        .where((c.message_type == message_type.lower()) | c.message_type.is_(None))
        .order_by(c.subscription_id)
    )
    return [_subscription(r) for r in rows]


def _subscription(row: Any) -> Subscription:
    return Subscription(
        subscription_id=row.subscription_id,
        mailbox_id=row.mailbox_id,
        filter=Filter(
            message_type=row.message_type,
            authority_cvr=row.authority_cvr,
            object_action=row.object_action,
            value_list_id=row.value_list_id,
        ),
    )


def subscriptions_of(conn: Connection, mailbox_id: str) -> list[Subscription]:
    c = subscriptions.c
    rows = conn.execute(
        select(subscriptions).where(c.mailbox_id == mailbox_id).order_by(c.subscription_id)
    )
    return [_subscription(r) for r in rows]


def update_subscription(conn: Connection, subscription: Subscription) -> bool:
    """Give a subscription of `subscription.mailbox_id` a new filter; False when it is none."""
    f = subscription.filter
    c = subscriptions.c
    result = conn.execute(
        subscriptions.update()
        .where(
            c.subscription_id == subscription.subscription_id,
            c.mailbox_id == subscription.mailbox_id,
        )
        .values(
            message_type=f.message_type.lower() if f.message_type else None,
            authority_cvr=f.authority_cvr,
            object_action=f.object_action,
            value_list_id=f.value_list_id,
        )
    )
    return bool(result.rowcount)


def message_types(conn: Connection) -> list[str]:
    """The message types some publisher may publish."""
    c = publisher_permissions.c
    return list(conn.execute(select(c.message_type).distinct().order_by(c.message_type)).scalars())


def delete_subscription(conn: Connection, mailbox_id: str, subscription_id: str) -> bool:
    c = subscriptions.c
    result = conn.execute(
        delete(subscriptions).where(
            c.mailbox_id == mailbox_id, c.subscription_id == subscription_id
        )
    )
    return bool(result.rowcount)


# --- value lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueListInfo:
    list_id: str
    owner_id: str | None
    name: str
    note: str | None
    size: int


def create_value_list(
    conn: Connection,
    list_id: str,
    owner_id: str | None,
    name: str,
    *,
    note: str | None,
    now: datetime,
) -> None:
    conn.execute(
        value_lists.insert().values(
            list_id=list_id, owner_id=owner_id, name=name, note=note, created_at=now
        )
    )


def value_list_info(
    conn: Connection, list_ids: Collection[str], owner_id: str | None = None
) -> list[ValueListInfo]:
    """The lists among `list_ids`; only those `owner_id` owns when it is given."""
    if not list_ids:
        return []
    size = (
        select(func.count())
        .where(value_list_values.c.list_id == value_lists.c.list_id)
        .scalar_subquery()
    )
    query = select(value_lists, size.label("size")).where(value_lists.c.list_id.in_(list(list_ids)))
    if owner_id is not None:
        query = query.where(value_lists.c.owner_id == owner_id)
    rows = conn.execute(query.order_by(value_lists.c.list_id))
    return [ValueListInfo(r.list_id, r.owner_id, r.name, r.note, int(r.size)) for r in rows]


def search_value_lists(
    conn: Connection, name: str | None, first: int, limit: int, owner_id: str | None = None
) -> list[str]:
    query = select(value_lists.c.list_id).order_by(value_lists.c.list_id)
    if owner_id is not None:
        query = query.where(value_lists.c.owner_id == owner_id)
    if name:
        query = query.where(value_lists.c.name == name)
    return list(conn.execute(query.offset(first).limit(limit)).scalars())


def add_values(conn: Connection, list_id: str, values: Iterable[str], chunk: int = 10_000) -> int:
    """Add values (duplicates ignored) in bulk; returns how many were new.

    A million values take seconds: on PostgreSQL they are streamed with COPY into a temporary
    table and merged from there in index order; on SQLite they go through the driver's
    `executemany` in chunks of `chunk` rows, past SQLAlchemy's per-row work.
    """
    if conn.dialect.name == "postgresql":
        return _copy_values(conn, list_id, values, chunk)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    added = 0
    try:
        batch: list[tuple[str, str]] = []
        for value in values:
            batch.append((list_id, value))
            if len(batch) >= chunk:
                added += _add_batch(cursor, batch)
                batch = []
        if batch:
            added += _add_batch(cursor, batch)
    finally:
        cursor.close()
    return added


def _add_batch(cursor: Any, batch: list[tuple[str, str]]) -> int:
    cursor.executemany(
        "INSERT INTO value_list_values (list_id, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
        batch,
    )
    return max(int(cursor.rowcount or 0), 0)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_values(conn: Connection, list_id: str, values: Iterable[str], chunk: int) -> int:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_values (value varchar(200)) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE incoming_values")
        with cursor.copy("COPY incoming_values (value) FROM STDIN") as copy:
            lines: list[str] = []
            for value in values:
                lines.append(value.translate(_COPY_ESCAPES))
                if len(lines) >= chunk:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
        cursor.execute(
            "INSERT INTO value_list_values (list_id, value) "
            "SELECT %s, value FROM incoming_values ORDER BY value ON CONFLICT DO NOTHING",
            (list_id,),
        )
        return max(int(cursor.rowcount or 0), 0)
    finally:
        cursor.close()


def remove_values(conn: Connection, list_id: str, values: Collection[str]) -> int:
    removed = 0
    items = list(values)
    for start in range(0, len(items), 5000):
        result = conn.execute(
            delete(value_list_values).where(
                value_list_values.c.list_id == list_id,
                value_list_values.c.value.in_(items[start : start + 5000]),
            )
        )
        removed += int(result.rowcount or 0)
    return removed


def list_values(conn: Connection, list_id: str, limit: int) -> list[str]:
    return list(
        conn.execute(
            select(value_list_values.c.value)
            .where(value_list_values.c.list_id == list_id)
            .order_by(value_list_values.c.value)
            .limit(limit)
        ).scalars()
    )


def value_list_in_use(conn: Connection, list_id: str) -> bool:
    row = conn.execute(
        select(subscriptions.c.subscription_id).where(subscriptions.c.value_list_id == list_id)
    ).first()
    return row is not None


def delete_value_list(conn: Connection, list_id: str) -> bool:
    conn.execute(delete(value_list_values).where(value_list_values.c.list_id == list_id))
    result = conn.execute(delete(value_lists).where(value_lists.c.list_id == list_id))
    return bool(result.rowcount)


def lists_containing(
    conn: Connection, list_ids: Collection[str], values: Collection[str]
) -> set[str]:
    """Which of `list_ids` hold at least one of `values`: one index probe per (list, value)."""
    if not list_ids or not values:
        return set()
    rows = conn.execute(
        select(value_list_values.c.list_id)
        .where(
            value_list_values.c.list_id.in_(sorted(list_ids)),
            value_list_values.c.value.in_(sorted(values)),
        )
        .distinct()
    )
    return set(rows.scalars())


# --- database mailbox -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    mailbox_id: str
    besked_id: str
    payload: bytes
    deliveries: int


def put_message(
    conn: Connection, mailbox_id: str, besked_id: str, payload: bytes, now: datetime
) -> bool:
    """Place a message; a BeskedId already waiting in that mailbox is not placed twice."""
    return insert_or_ignore(
        conn,
        mailbox_messages,
        mailbox_id=mailbox_id,
        besked_id=besked_id,
        payload=payload,
        enqueued_at=now,
        visible_at=now,
        deliveries=0,
    )


def take_messages(
    conn: Connection, mailbox_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[StoredMessage]:
    """Take visible messages, oldest first, hiding them until `lease_until`."""
    m = mailbox_messages.c
    query = (
        select(m.seq, m.mailbox_id, m.besked_id, m.payload, m.deliveries)
        .where(m.mailbox_id == mailbox_id, m.visible_at <= now)
        .order_by(m.seq)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if rows:
        conn.execute(
            mailbox_messages.update()
            .where(m.seq.in_([r.seq for r in rows]))
            .values(visible_at=lease_until, deliveries=m.deliveries + 1)
        )
    return [
        StoredMessage(r.seq, r.mailbox_id, r.besked_id, bytes(r.payload), r.deliveries + 1)
        for r in rows
    ]


def due_push_messages(conn: Connection, now: datetime, limit: int) -> list[StoredMessage]:
    """Messages in push mailboxes whose next attempt is due, oldest first."""
    m = mailbox_messages.c
    query = (
        select(m.seq, m.mailbox_id, m.besked_id, m.payload, m.deliveries)
        .join(mailboxes, mailboxes.c.mailbox_id == m.mailbox_id)
        .where(mailboxes.c.push_url.is_not(None), m.visible_at <= now)
        .order_by(m.visible_at, m.seq)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=mailbox_messages, skip_locked=True)
    return [
        StoredMessage(r.seq, r.mailbox_id, r.besked_id, bytes(r.payload), r.deliveries)
        for r in conn.execute(query)
    ]


def ack_message(conn: Connection, mailbox_id: str, seq: int) -> bool:
    result = conn.execute(
        delete(mailbox_messages).where(
            mailbox_messages.c.seq == seq, mailbox_messages.c.mailbox_id == mailbox_id
        )
    )
    return bool(result.rowcount)


def release_message(
    conn: Connection, mailbox_id: str, seq: int, visible_at: datetime, *, count: bool = False
) -> bool:
    """Make a taken message visible again at `visible_at` (nack, or a push retry)."""
    m = mailbox_messages.c
    values: dict[str, object] = {"visible_at": visible_at}
    if count:
        values["deliveries"] = m.deliveries + 1
    result = conn.execute(
        mailbox_messages.update().where(m.seq == seq, m.mailbox_id == mailbox_id).values(**values)
    )
    return bool(result.rowcount)


def mailbox_depths(conn: Connection) -> dict[str, int]:
    m = mailbox_messages.c
    rows = conn.execute(select(m.mailbox_id, func.count()).group_by(m.mailbox_id))
    return {r[0]: int(r[1]) for r in rows}


@dataclass(frozen=True)
class WaitingMessage:
    seq: int
    besked_id: str
    enqueued_at: datetime
    deliveries: int
    size: int


def waiting_messages(conn: Connection, mailbox_id: str, limit: int) -> list[WaitingMessage]:
    """What waits in a database mailbox, oldest first (taken but not yet acked included)."""
    m = mailbox_messages.c
    rows = conn.execute(
        select(m.seq, m.besked_id, m.enqueued_at, m.deliveries, func.length(m.payload))
        .where(m.mailbox_id == mailbox_id)
        .order_by(m.seq)
        .limit(limit)
    )
    return [WaitingMessage(r[0], r[1], r[2], int(r[3]), int(r[4] or 0)) for r in rows]


def record_push_attempt(
    conn: Connection, mailbox_id: str, besked_id: str, attempt: int, *, outcome: str, now: datetime
) -> None:
    conn.execute(
        push_attempts.insert().values(
            mailbox_id=mailbox_id,
            besked_id=besked_id,
            attempt=attempt,
            outcome=outcome[:200],
            at=now,
        )
    )


# --- error queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedMessage:
    seq: int
    mailbox_id: str
    besked_id: str
    attempts: int
    last_error: str
    failed_at: datetime


def move_to_error_queue(
    conn: Connection, message: StoredMessage, attempts: int, last_error: str, now: datetime
) -> None:
    conn.execute(
        error_queue.insert().values(
            mailbox_id=message.mailbox_id,
            besked_id=message.besked_id,
            payload=message.payload,
            attempts=attempts,
            last_error=last_error[:200],
            failed_at=now,
        )
    )
    ack_message(conn, message.mailbox_id, message.seq)


def list_error_queue(conn: Connection, mailbox_ids: Collection[str] | None) -> list[FailedMessage]:
    e = error_queue.c
    query = select(error_queue).order_by(e.seq)
    if mailbox_ids is not None:
        query = query.where(e.mailbox_id.in_(list(mailbox_ids)))
    return [
        FailedMessage(r.seq, r.mailbox_id, r.besked_id, r.attempts, r.last_error, r.failed_at)
        for r in conn.execute(query)
    ]


def take_from_error_queue(conn: Connection, seq: int) -> StoredMessage | None:
    e = error_queue.c
    row = conn.execute(
        select(e.seq, e.mailbox_id, e.besked_id, e.payload).where(e.seq == seq)
    ).first()
    if row is None:
        return None
    conn.execute(delete(error_queue).where(e.seq == seq))
    return StoredMessage(row.seq, row.mailbox_id, row.besked_id, bytes(row.payload), 0)


# --- refused publications ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedMessage:
    seq: int
    publisher_id: str
    via: str
    besked_id: str | None
    transaction_id: str | None
    reason: str
    refused_at: datetime
    body: bytes
    body_size: int


def record_refused(
    conn: Connection,
    *,
    publisher_id: str,
    via: str,
    besked_id: str | None,
    transaction_id: str | None,
    reason: str,
    body: bytes,
    now: datetime,
) -> None:
    conn.execute(
        refused_messages.insert().values(
            publisher_id=publisher_id[:64],
            via=via[:10],
            besked_id=besked_id[:64] if besked_id else None,
            transaction_id=transaction_id[:64] if transaction_id else None,
            reason=reason[:500],
            refused_at=now,
            body=body[:MAX_REFUSED_BODY],
            body_size=len(body),
        )
    )


def list_refused(
    conn: Connection, publisher_id: str | None, first: int, limit: int
) -> list[RefusedMessage]:
    """Refused publications, newest first; only `publisher_id`'s when it is given."""
    r = refused_messages.c
    query = select(refused_messages).order_by(r.seq.desc())
    if publisher_id is not None:
        query = query.where(r.publisher_id == publisher_id)
    return [
        RefusedMessage(
            row.seq,
            row.publisher_id,
            row.via,
            row.besked_id,
            row.transaction_id,
            row.reason,
            row.refused_at,
            bytes(row.body),
            row.body_size,
        )
        for row in conn.execute(query.offset(first).limit(limit))
    ]


def count_refused(conn: Connection, publisher_id: str | None = None) -> int:
    query = select(func.count()).select_from(refused_messages)
    if publisher_id is not None:
        query = query.where(refused_messages.c.publisher_id == publisher_id)
    return int(conn.execute(query).scalar_one())

"""Idempotent operations: the key is (calling it-system, TransactionUUID).

The key is claimed by inserting it in the same transaction as the work it guards, and the answer
is written to the same row before that transaction commits. So:

- a replay with the same request gets the stored answer, byte for byte, whatever has happened
  since; a replay with another request gets the caller's conflict answer and changes nothing;
- a duplicate that arrives while the first is running waits on the key's row lock (PostgreSQL) or
  on the write lock (SQLite) and then reads the first one's answer;
- a process that dies mid-request leaves nothing behind: its transaction, key included, rolls
  back, and the retry does the work.

Answers are canonical JSON (`canonical_json`), so every wire renders them the same way each time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    select,
)

from indbetaling.db import UtcDateTime, insert_or_ignore, write

JsonObject = Mapping[str, Any]
T = TypeVar("T")


def idempotency_table(metadata: MetaData) -> Table:
    """The stored answers of one part, in that part's own database."""
    return Table(
        "idempotency_answers",
        metadata,
        Column("caller", String(64), nullable=False),
        Column("transaction_uuid", String(64), nullable=False),
        Column("operation", String(64), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("answer", LargeBinary, nullable=True),
        Column("created_at", UtcDateTime, nullable=False, index=True),
        PrimaryKeyConstraint("caller", "transaction_uuid", name="pk_idempotency_answers"),
    )


def canonical_json(value: Any) -> bytes:
    """One byte sequence for one value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_hash(operation: str, request: JsonObject) -> str:
    return hashlib.sha256(canonical_json({"operation": operation, "request": request})).hexdigest()


def run_once(
    conn: Connection,
    table: Table,
    *,
    caller: str,
    key: str,
    operation: str,
    request: JsonObject,
    now: datetime,
    work: Callable[[], JsonObject],
    conflict: Callable[[], JsonObject],
) -> bytes:
    """Do `work` once for (caller, key) inside the open transaction `conn`; return its answer.

    `work` runs in the same transaction and returns the answer to store. A replay of the same
    request returns the stored bytes; another request under the same key gets `conflict()`,
    which is not stored (the key keeps its first answer).
    """
    digest = request_hash(operation, request)
    claimed = insert_or_ignore(
        conn,
        table,
        caller=caller,
        transaction_uuid=key,
        operation=operation,
        request_hash=digest,
        answer=None,
        created_at=now,
    )
    if not claimed:
        row = conn.execute(
            select(table.c.request_hash, table.c.answer).where(
                table.c.caller == caller, table.c.transaction_uuid == key
            )
        ).one()
        if row.request_hash != digest or row.answer is None:
            return canonical_json(conflict())
        return bytes(row.answer)
    answer = canonical_json(work())
    conn.execute(
        table.update()
        .where(table.c.caller == caller, table.c.transaction_uuid == key)
        .values(answer=answer)
    )
    return answer


def purge(conn: Connection, table: Table, *, now: datetime, retention: timedelta) -> int:
    """Forget answers older than the retention period; returns how many were removed."""
    result = conn.execute(delete(table).where(table.c.created_at < now - retention))
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Received(Generic[T]):
    """A document received under the id its sender made, as it is stored."""

    stored: T
    new: bool
    """False when the same document had come before (the answer is the stored one)."""


def receive_once(
    engine: Engine,
    *,
    insert: Callable[[Connection], bool],
    load: Callable[[Connection], T | None],
    check_same: Callable[[T], None],
) -> Received[T]:
    """Keep a document once under its own id (a PosteringId, a BetalingsanmodningId): `insert`
    stores it unless the id is taken, `load` reads what is stored under the id, and for a taken
    id `check_same` raises when the stored one is another document. Two equal documents at once
    store one: the second waits on the first's key (PostgreSQL) or the write lock (SQLite)."""
    with write(engine) as conn:
        new = insert(conn)
        stored = load(conn)
    if stored is None:
        raise RuntimeError("a document inserted or found in this transaction is gone")
    if not new:
        check_same(stored)
    return Received(stored, new)

"""What every debitorsystem use case shares: the clock and new ids, one write transaction that
is run again whole when it lost a race, and the claim's FordringTilIndbetaling message, written
to the outbox in the same transaction as the change it tells of (CONTRACT §6)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from indbetaling import db, idempotency, outbox
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.domain import ClaimLedger
from indbetaling.fordring import view_to_json
from indbetaling.instants import as_utc, instant_text

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
MESSAGE_TOPIC = "OekonomiFordringTilIndbetaling"
RETRIES = 8

T = TypeVar("T")


class InvalidRequest(ValueError):
    """The request's shape is wrong (not a business answer): a SOAP Client fault / HTTP 400."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class UseCases:
    """The debitorsystem's database, clock and id source, and the plumbing of its use cases."""

    def __init__(
        self,
        engine: Engine,
        *,
        system_id: UUID,
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], UUID] = uuid.uuid4,
    ) -> None:
        self.engine = engine
        self.system_id = system_id
        self.clock: Callable[[], datetime] = lambda: as_utc(clock())
        """Now, in UTC whatever `clock` gives (a naive time is taken to be UTC)."""
        self.new_id = new_id

    def today(self) -> date:
        return self.clock().astimezone(COPENHAGEN).date()

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a whole transaction again when the database refused it for a race it lost
        (a unique key taken meanwhile, a deadlock); the next attempt sees the winner's work."""
        for n in range(RETRIES):
            try:
                return attempt()
            except IntegrityError:
                if n == RETRIES - 1:
                    raise
            except DBAPIError as exc:
                if not _is_transient(exc) or n == RETRIES - 1:
                    raise
            time.sleep(0.005 * (2**n))
        raise AssertionError("unreachable")

    def _run_once(
        self,
        caller: str,
        key: str,
        operation: str,
        request: idempotency.JsonObject,
        *,
        work: Callable[[Connection, datetime], idempotency.JsonObject],
        conflict: Callable[[], idempotency.JsonObject],
    ) -> bytes:
        """`work` once per (caller, key) in one transaction with its stored answer
        (`idempotency.run_once`), the whole run again if it lost a race."""

        def attempt() -> bytes:
            now = self.clock()
            with db.write(self.engine) as conn:
                return idempotency.run_once(
                    conn,
                    store.idempotency_answers,
                    caller=caller,
                    key=key,
                    operation=operation,
                    request=request,
                    now=now,
                    work=lambda: work(conn, now),
                    conflict=conflict,
                )

        return self._retrying(attempt)

    def _announce(
        self, conn: Connection, before: ClaimLedger | None, after: ClaimLedger, now: datetime
    ) -> None:
        """Write the claim's FordringTilIndbetaling message to the outbox (CONTRACT §6).

        Nothing is told when the view did not change (an over-covered claim shows Restance 0.00
        however much it is over-covered); a claim that stops being payable or is over-covered is
        told as `Afsluttet`."""
        if before is None:
            handling = "Oprettet"
        elif before.view() == after.view():
            return
        elif after.overcoverage or (
            before.is_payable(self.today()) and not after.is_payable(self.today())
        ):
            handling = "Afsluttet"
        else:
            handling = "Aendret"
        self._send_message(conn, after, handling, now)

    def _send_message(
        self, conn: Connection, ledger: ClaimLedger, handling: str, now: datetime
    ) -> None:
        """Write one FordringTilIndbetaling message of `ledger` to the outbox, and note the
        payability it tells of (so a change by the date alone is told once, `payability`)."""
        store.note_announced_payability(
            conn, ledger.claim.id, payable=ledger.is_payable(self.today()), now=now
        )
        besked_id = self.new_id()
        payload = {
            "BeskedId": str(besked_id),
            "TransaktionsId": str(self.new_id()),
            "ObjektHandling": handling,
            "Dannelsestidspunkt": instant_text(now),
            "Kildesystem": str(self.system_id),
            "FordringTilIndbetaling": view_to_json(ledger.view()),
        }
        outbox.enqueue(
            conn,
            store.outbox,
            topic=MESSAGE_TOPIC,
            message_id=str(besked_id),
            payload=idempotency.canonical_json(payload),
            now=now,
        )


def _is_transient(exc: DBAPIError) -> bool:
    """Deadlocks and serialization failures (PostgreSQL), a busy database (SQLite)."""
    code = getattr(exc.orig, "sqlstate", None)
    if code in {"40001", "40P01"}:
        return True
    return "database is locked" in str(exc.orig)

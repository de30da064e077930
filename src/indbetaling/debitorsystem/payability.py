"""Messages for claims whose payability changes with the date alone (CONTRACT §6).

A claim is payable only within its payment period (`ClaimLedger.is_payable`), so it becomes
payable the day the period opens and stops being payable the day after it ends, with no change
to the claim. Every message of a claim notes the payability it told of
(`store.announced_payability`); `announce_date_changes`, run by a background loop of the
debitorsystem (`app.build`), finds the claims whose payability today differs from the noted one
and writes their message once: `Aendret` for a claim that became payable, `Afsluttet` for one that
stopped being payable. A second run the same day writes nothing.

A claim of which nothing was noted (made before this was kept) is noted as it is, with no message:
its last message's payability is not known, and a message for every old claim at once would flood
the subscribers.
"""

from __future__ import annotations

import logging
import threading

from indbetaling import db
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.transactions import UseCases

log = logging.getLogger(__name__)

BATCH = 200
INTERVAL_SECONDS = 15 * 60.0
"""How often the loop looks; a period opens or ends at midnight (Copenhagen), so a claim's
message follows within this long."""


def announce_date_changes(uses: UseCases, *, batch: int = BATCH) -> int:
    """Write the message of every claim whose payability changed with the date since its last
    message; the number of messages written."""
    written = 0
    after = None
    while True:
        today = uses.today()
        now = uses.clock()
        with db.write(uses.engine) as conn:
            ids = store.claims_with_changed_payability(conn, today=today, after=after, limit=batch)
            store.lock_claims(conn, ids)
            ledgers = store.load_ledgers(conn, ids)
            noted = store.announced_payabilities(conn, ids)
            for claim_id in ids:
                ledger = ledgers[claim_id]
                payable = ledger.is_payable(today)
                told = noted.get(claim_id)
                if told is None:
                    store.note_announced_payability(conn, claim_id, payable=payable, now=now)
                elif told != payable:  # re-read under the claim's lock: still to be told
                    uses._send_message(conn, ledger, "Aendret" if payable else "Afsluttet", now)
                    written += 1
        if len(ids) < batch:
            return written
        after = ids[-1]


def run_payability_loop(
    stop: threading.Event, uses: UseCases, *, interval_seconds: float = INTERVAL_SECONDS
) -> None:
    """Run `announce_date_changes` at once and then every `interval_seconds` until `stop`."""
    while not stop.is_set():
        try:
            count = announce_date_changes(uses)
            if count:
                log.info(
                    "%d claims changed payability with the date; their messages are sent", count
                )
        except Exception:
            log.exception("announcing claims whose payability changed with the date failed")
        stop.wait(interval_seconds)

"""Several relay processes on one outbox: each leases what it sends, so a message is sent by one
of them at a time; a lease that ran out (its relay died) lets any relay send it again; a
published message is never taken again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from indbetaling import outbox
from indbetaling.db import write
from indbetaling.debitorsystem import store

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
LEASE = timedelta(seconds=15)
PartEngine = Callable[[str, str], Engine]


def test_relays_take_disjoint_batches_and_a_lapsed_lease_comes_back(
    part_engine: PartEngine, backend: str
) -> None:
    engine = part_engine("debitorsystem", backend)
    with write(engine) as conn:
        for n in range(5):
            outbox.enqueue(conn, store.outbox, topic="t", message_id=f"m{n}", payload=b"x", now=NOW)

    def lease(now: datetime, limit: int = 10) -> list[str]:
        with write(engine) as conn:
            taken = outbox.lease_pending(
                conn, store.outbox, now=now, lease_until=now + LEASE, limit=limit
            )
        return [m.message_id for m in taken]

    assert lease(NOW, limit=3) == ["m0", "m1", "m2"]
    assert lease(NOW) == ["m3", "m4"]
    assert lease(NOW + LEASE / 2) == []  # all held
    with write(engine) as conn:  # m0 was published, m1 failed and is let go at once
        seqs = {m.message_id: m.seq for m in outbox.pending(conn, store.outbox, limit=10)}
        outbox.mark_published(conn, store.outbox, [seqs["m0"]], NOW)
        outbox.hold_until(conn, store.outbox, [seqs["m1"]], None)
    assert lease(NOW + LEASE / 2) == ["m1"]
    assert lease(NOW + LEASE * 2) == ["m1", "m2", "m3", "m4"]  # their relays are gone


@pytest.mark.parametrize("backend", ["postgres"])
def test_on_postgresql_a_relay_passes_over_what_another_is_taking(
    part_engine: PartEngine, backend: str
) -> None:
    engine = part_engine("debitorsystem", backend)
    with write(engine) as conn:
        for n in range(4):
            outbox.enqueue(conn, store.outbox, topic="t", message_id=f"m{n}", payload=b"x", now=NOW)
    with engine.connect() as first, first.begin():
        taking = outbox.lease_pending(
            first, store.outbox, now=NOW, lease_until=NOW + LEASE, limit=2
        )
        assert [m.message_id for m in taking] == ["m0", "m1"]
        with engine.connect() as second, second.begin():  # does not wait for the first
            other = outbox.lease_pending(
                second, store.outbox, now=NOW, lease_until=NOW + LEASE, limit=10
            )
        assert [m.message_id for m in other] == ["m2", "m3"]

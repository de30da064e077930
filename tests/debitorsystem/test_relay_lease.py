"""A reversal order held by a relay that dies is sent again within one short lease; a relay that
is alive but waiting on a slow fagsystem keeps its order by renewing the lease (heartbeat)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from debitorsystem.test_relay import Env, env, relay_process, relay_settings
from fagsystem.harness import reversal_world
from indbetaling.db import make_engine, read
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.domain import OrderState
from indbetaling.debitorsystem.relay import (
    LeaseHeartbeat,
    RelaySettings,
    ReversalOrderClient,
    ReversalOrderRelay,
    run_relay,
)
from indbetaling.fagsystem.reversal_orders import pending_orders
from serviceplatform.harness import live_server

__all__ = ["env", "live_server", "reversal_world"]

LEASE, HEARTBEAT = 4.0, 1.0

CHILD = """
import sys
from datetime import UTC, datetime
from indbetaling.db import make_engine
from indbetaling.debitorsystem.relay import RelaySettings, ReversalOrderClient, ReversalOrderRelay
url, gateway, client_id, secret, lease, beat = sys.argv[1:]
settings = RelaySettings(
    gateway, client_id, secret, lease_seconds=float(lease), heartbeat_seconds=float(beat),
    http_timeout_seconds=120,
)
relay = ReversalOrderRelay(make_engine(url), ReversalOrderClient(settings))
relay.deliver_due(datetime.now(UTC))
sys.exit(3)
"""


def short_lease(env: Env) -> RelaySettings:
    base = relay_settings(env.wire)
    return RelaySettings(
        gateway_url=base.gateway_url,
        client_id=base.client_id,
        client_secret=base.client_secret,
        lease_seconds=LEASE,
        heartbeat_seconds=HEARTBEAT,
        http_timeout_seconds=30,
        poll_seconds=0.1,
    )


def test_a_killed_relay_is_replaced_within_one_short_lease_and_the_order_arrives_once(
    env: Env,
) -> None:
    ledger, wire = env.ledger, env.wire
    order = env.over_covered()
    url = env.hand_over_database()
    engine = make_engine(url)
    at_the_fagsystem, released = threading.Event(), threading.Event()

    def slow_fagsystem(_payment: uuid.UUID) -> bool:
        at_the_fagsystem.set()
        released.wait(timeout=120)
        return True

    wire.knows[ledger.fagsystem] = slow_fagsystem
    child = subprocess.Popen(relay_process(CHILD, url, wire, str(LEASE), str(HEARTBEAT)))
    client = ReversalOrderClient(short_lease(env))
    other = ReversalOrderRelay(engine, client, rng=random.Random(8))
    stop = threading.Event()
    thread = threading.Thread(
        target=run_relay, args=(stop, other), kwargs={"clock": lambda: datetime.now(UTC)}
    )
    try:
        assert at_the_fagsystem.wait(timeout=120), "the first relay never called the fagsystem"
        # alive but slow: well past its lease, its heartbeat keeps the order with it
        time.sleep(LEASE * 2)
        assert other.deliver_due(datetime.now(UTC)) == 0
        with read(engine) as conn:
            held = store.delivery_status(conn, order.id)
        assert held is not None
        assert (held.state, held.attempts) == (OrderState.AFSENDT, 1)
        assert held.next_attempt_at is not None
        assert held.next_attempt_at > datetime.now(UTC)
        # the relay dies while its call is at the fagsystem, which keeps the order
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
        wire.knows[ledger.fagsystem] = lambda _payment: True
        released.set()
        killed_at = time.monotonic()
        thread.start()  # a new relay
        while True:
            with read(engine) as conn:
                status = store.delivery_status(conn, order.id)
            assert status is not None
            if status.state is OrderState.MODTAGET:
                break
            assert time.monotonic() - killed_at < LEASE + 6, status
            time.sleep(0.05)
        assert status.attempts == 2
        assert [o.order_id for o in pending_orders(wire.fagsystem_engine)] == [order.id]
    finally:
        released.set()
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)
        stop.set()
        if thread.is_alive():
            thread.join(timeout=60)
        client.close()
        engine.dispose()


def test_the_heartbeat_renews_only_its_own_claim(env: Env) -> None:
    order = env.over_covered()
    engine = env.ledger.service.engine
    now = env.now
    settings = short_lease(env)
    with engine.begin() as conn:
        (stale,) = store.claim_due_orders(
            conn, now=now, lease_until=now + timedelta(seconds=LEASE), limit=5
        )
    later = now + timedelta(seconds=LEASE)
    with engine.begin() as conn:
        (fresh,) = store.claim_due_orders(
            conn, now=later, lease_until=later + timedelta(seconds=LEASE), limit=5
        )
    old = LeaseHeartbeat(engine, [stale], now, settings)
    assert old.renew() == 0  # the order was claimed again meanwhile: not the old relay's
    assert env.status(order).next_attempt_at == later + timedelta(seconds=LEASE)
    new = LeaseHeartbeat(engine, [fresh], later + timedelta(seconds=1), settings)
    assert new.renew() == 1
    renewed = env.status(order).next_attempt_at
    assert renewed is not None
    assert renewed >= later + timedelta(seconds=1 + LEASE)
    new.done(fresh)
    assert new.renew() == 0


def test_a_heartbeat_slower_than_a_third_of_the_lease_is_refused() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        RelaySettings("http://gateway", "id", "secret", lease_seconds=6, heartbeat_seconds=3)

"""Reversal orders from the ledger to the owning fagsystem (R6, R7), through the real gateway.

A write-down that over-covers a claim makes an order; the relay delivers it to the owner's
receiver; the owner reverses the payment with the order and the order is executed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from debitorsystem.conftest import CVR, World, WorldFactory
from fagsystem.harness import (
    DEBITOR_CLIENT_ID,
    DEBITOR_SECRET,
    ReversalWorld,
    closed_port_url,
    reversal_world,
)
from indbetaling.besked_afsend import Outgoing, PublishFailed
from indbetaling.db import make_engine, read
from indbetaling.debitorsystem import app as debitorsystem_app
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.api import staff_router
from indbetaling.debitorsystem.domain import OrderState, ReversalOrder, ReversalReason
from indbetaling.debitorsystem.relay import (
    NO_ENDPOINT_TEXT,
    RelaySettings,
    ReversalOrderClient,
    ReversalOrderRelay,
    backoff_seconds,
    run_relay,
    transaction_uuid,
)
from indbetaling.debitorsystem.service import DebitorService, ReversalRequest
from indbetaling.fagsystem.reversal_orders import pending_orders
from serviceplatform.harness import live_server

__all__ = ["live_server", "reversal_world"]

BASE, CAP = 5.0, 3600.0


def relay_settings(world: ReversalWorld) -> RelaySettings:
    return RelaySettings(
        gateway_url=world.base_url,
        client_id=DEBITOR_CLIENT_ID,
        client_secret=DEBITOR_SECRET,
        lease_seconds=300,
        http_timeout_seconds=30,
        backoff_base_seconds=BASE,
        backoff_cap_seconds=CAP,
    )


@dataclass
class Env:
    ledger: World
    wire: ReversalWorld
    relay: ReversalOrderRelay

    @property
    def now(self) -> datetime:
        return self.ledger.clock[0]

    def over_covered(
        self, fagsystem: uuid.UUID | None = None, org_unit: uuid.UUID | None = None
    ) -> ReversalOrder:
        """A claim of 1000.00 paid 600.00 by `fagsystem`, then written down by 500.00: 100.00
        over-covered, so the 600.00 payment is ordered back."""
        claim = self.ledger.claim(principal=100_000)
        answer = self.ledger.pay(claim, "600.00", fagsystem=fagsystem, org_unit=org_unit)
        assert answer["Forretningskvittering"]["ForretningsValideringsKode"] == "ACCEPTERET"
        change = self.ledger.service.write_down(CVR, claim, 50_000, "Takst nedsat")
        (order,) = change.orders
        return order

    def hand_over_database(self) -> str:
        """The ledger's database URL, its connections closed, for another process to use."""
        engine = self.ledger.service.engine
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        return url

    def status(self, order: ReversalOrder) -> store.DeliveryStatus:
        with read(self.ledger.service.engine) as conn:
            found = store.delivery_status(conn, order.id)
        assert found is not None
        return found


@pytest.fixture
def env(make_world: WorldFactory, reversal_world: ReversalWorld, backend: str) -> Iterator[Env]:
    ledger = make_world(backend)
    reversal_world.add_debitorsystem(CVR)
    reversal_world.add_fagsystem(ledger.fagsystem, CVR)
    # the other fagsystem has a receiver but registered no endpoint at the gateway
    reversal_world.add_fagsystem(ledger.other_fagsystem, CVR, endpoint=False)
    client = ReversalOrderClient(relay_settings(reversal_world))
    relay = ReversalOrderRelay(ledger.service.engine, client, rng=random.Random(1590))
    yield Env(ledger, reversal_world, relay)
    client.close()


def reverse_by_order(service: DebitorService, owner: uuid.UUID, order: Any) -> dict[str, Any]:
    """What the owning fagsystem does with a received order: reverse the payment with it."""
    raw = service.reverse(
        owner,
        order.authority_cvr,
        str(uuid.uuid4()),
        ReversalRequest(order.payment_id, ReversalReason.TILBAGEFOERSELSORDRE, order.order_id),
    )
    result: dict[str, Any] = json.loads(raw)
    return result


def test_an_over_covering_write_down_reaches_the_owner_and_ends_executed(env: Env) -> None:
    order = env.over_covered()
    assert env.status(order).state is OrderState.OPRETTET
    assert env.relay.deliver_due(env.now) == 1
    status = env.status(order)
    assert (status.state, status.attempts, status.last_error) == (OrderState.MODTAGET, 1, None)
    (received,) = pending_orders(env.wire.fagsystem_engine, env.ledger.fagsystem)
    assert received.order_id == order.id
    assert (received.payment_id, received.claim_id) == (order.payment_id, order.claim_id)
    assert (received.amount, received.overcoverage) == (60_000, 10_000)
    assert (received.reason, received.text) == ("NEDREGULERING", "Takst nedsat")
    assert received.transaction_uuid == transaction_uuid(order.id)
    assert received.sender_id == env.wire.debitorsystem_id
    assert env.relay.deliver_due(env.now + timedelta(days=1)) == 0  # delivered once
    answer = reverse_by_order(env.ledger.service, env.ledger.fagsystem, received)
    assert answer["Forretningskvittering"]["ForretningsValideringsKode"] == "ACCEPTERET"
    assert answer["Restance"] == "500.00"
    assert env.status(order).state is OrderState.UDFOERT


def test_a_fagsystem_that_is_down_is_retried_with_backoff_until_it_answers(env: Env) -> None:
    order = env.over_covered()
    fagsystem = env.ledger.fagsystem
    now = env.now
    for attempt, url in enumerate((closed_port_url(), env.wire.unavailable_url), start=1):
        env.wire.point_at(fagsystem, url)
        assert env.relay.deliver_due(now) == 1
        status = env.status(order)
        assert (status.state, status.attempts) == (OrderState.OPRETTET, attempt)
        ceiling = timedelta(seconds=BASE * 2 ** (attempt - 1))
        assert status.next_attempt_at is not None
        assert now + ceiling / 2 <= status.next_attempt_at <= now + ceiling
        assert status.last_error is not None
        assert ("502" if attempt == 1 else "503") in status.last_error
        assert env.relay.deliver_due(status.next_attempt_at - timedelta(seconds=1)) == 0
        now = status.next_attempt_at
    assert pending_orders(env.wire.fagsystem_engine) == []
    env.wire.point_at(fagsystem, env.wire.endpoint_url(fagsystem))
    assert env.relay.deliver_due(now) == 1
    status = env.status(order)
    assert (status.state, status.attempts, status.last_error) == (OrderState.MODTAGET, 3, None)
    assert [o.order_id for o in pending_orders(env.wire.fagsystem_engine)] == [order.id]
    outcomes = [e["outcome"] for e in env.wire.audited_calls()]
    assert outcomes == ["UNREACHABLE", "HTTP:503", "MODTAGET"]


def test_without_an_endpoint_on_record_the_order_is_left_for_manual_advice(env: Env) -> None:
    ledger = env.ledger
    # the owner has no endpoint at the gateway
    at_gateway = env.over_covered(ledger.other_fagsystem, ledger.other_org_unit)
    # the owner is registered in the debitorsystem as taking no reversal orders
    silent, unit = uuid.uuid4(), uuid.uuid4()
    ledger.service.register_fagsystem(
        silent, "Papirsystem", {CVR: [unit]}, accepts_reversal_orders=False
    )
    registered = env.over_covered(silent, unit)
    assert env.relay.deliver_due(env.now) == 2
    for order in (at_gateway, registered):
        status = env.status(order)
        assert status.state is OrderState.MANUEL
        assert status.last_error is not None
        assert status.last_error.startswith(NO_ENDPOINT_TEXT)
        assert status.next_attempt_at is None
    # only the first was tried at the gateway, which knew no endpoint
    assert [e["outcome"] for e in env.wire.audited_calls()] == ["NO_ENDPOINT"]
    assert pending_orders(env.wire.fagsystem_engine) == []
    assert env.relay.deliver_due(env.now + timedelta(days=30)) == 0
    app = FastAPI()
    app.include_router(staff_router(ledger.service), prefix="/debitorsystem")
    token = ledger.service.issue_staff_token(CVR, "Opkrævningen")
    with TestClient(app) as staff:
        listed = staff.get(
            f"/debitorsystem/api/v1/myndigheder/{CVR}/tilbagefoerselsordrer",
            params={"tilstand": "MANUEL"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert listed.status_code == 200, listed.text
    assert {o["TilbagefoerselsOrdreId"] for o in listed.json()} == {
        str(at_gateway.id),
        str(registered.id),
    }
    # staff see why each waits for manual advice
    assert all(o["Bemaerkning"].startswith(NO_ENDPOINT_TEXT) for o in listed.json())


def test_an_owner_that_does_not_know_the_payment_leaves_the_order_for_manual_advice(
    env: Env,
) -> None:
    env.wire.knows[env.ledger.fagsystem] = lambda _payment: False
    order = env.over_covered()
    assert env.relay.deliver_due(env.now) == 1
    status = env.status(order)
    assert status.state is OrderState.MANUEL
    assert status.last_error is not None
    assert "INDBETALING_UKENDT" in status.last_error
    assert pending_orders(env.wire.fagsystem_engine) == []


def test_an_order_reversed_while_in_flight_stays_executed(env: Env) -> None:
    """The owner reverses the payment (a case worker, say) while the relay is calling it."""
    order = env.over_covered()
    ledger = env.ledger

    def reverse_meanwhile(payment: uuid.UUID) -> bool:
        raw = ledger.service.reverse(
            ledger.fagsystem,
            CVR,
            str(uuid.uuid4()),
            ReversalRequest(payment, ReversalReason.FEJLREGISTRERING),
        )
        assert (
            json.loads(raw)["Forretningskvittering"]["ForretningsValideringsKode"] == "ACCEPTERET"
        )
        return True

    env.wire.knows[ledger.fagsystem] = reverse_meanwhile
    assert env.relay.deliver_due(env.now) == 1
    assert env.status(order).state is OrderState.UDFOERT
    assert env.relay.deliver_due(env.now + timedelta(days=1)) == 0


def test_relays_running_at_once_never_claim_the_same_order(env: Env, backend: str) -> None:
    orders = {env.over_covered().id for _ in range(4)}
    engine = env.ledger.service.engine
    now, lease = env.now, env.now + timedelta(minutes=5)
    with engine.begin() as first:
        one = store.claim_due_orders(first, now=now, lease_until=lease, limit=2)
        if backend == "postgres":  # a second relay while the first one's claim is open
            with engine.begin() as second:
                second.execute(text("SET LOCAL lock_timeout = '10s'"))  # fail, never hang
                two = store.claim_due_orders(second, now=now, lease_until=lease, limit=10)
    if backend == "sqlite":  # one writer at a time: the second relay comes after
        with engine.begin() as second:
            two = store.claim_due_orders(second, now=now, lease_until=lease, limit=10)
    assert len(one) == len(two) == 2
    assert {c.order.id for c in one} | {c.order.id for c in two} == orders


def test_only_the_newest_claim_of_an_order_records_its_outcome(env: Env) -> None:
    """A relay that outlived its lease (slow, paused) may not overwrite the next relay's work."""
    order = env.over_covered()
    engine = env.ledger.service.engine
    lease = timedelta(minutes=5)
    with engine.begin() as conn:
        (stale,) = store.claim_due_orders(conn, now=env.now, lease_until=env.now + lease, limit=9)
    later = env.now + lease
    with engine.begin() as conn:
        (fresh,) = store.claim_due_orders(conn, now=later, lease_until=later + lease, limit=9)
    assert (stale.attempt, fresh.attempt) == (1, 2)

    def record(attempt: int, state: OrderState) -> bool:
        with engine.begin() as conn:
            return store.record_delivery(
                conn, order.id, attempt, state=state, next_attempt_at=None, error=None, now=later
            )

    assert not record(stale.attempt, OrderState.MANUEL)
    assert env.status(order).state is OrderState.AFSENDT
    assert record(fresh.attempt, OrderState.MODTAGET)
    assert not record(stale.attempt, OrderState.MANUEL)
    assert env.status(order).state is OrderState.MODTAGET


def test_run_relay_delivers_in_its_thread_until_stopped(env: Env) -> None:
    order = env.over_covered()
    stop = threading.Event()
    thread = threading.Thread(
        target=run_relay, args=(stop, env.relay), kwargs={"clock": lambda: env.now}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while env.status(order).state is not OrderState.MODTAGET:
            assert time.monotonic() < deadline, env.status(order)
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert [o.order_id for o in pending_orders(env.wire.fagsystem_engine)] == [order.id]


class NoPublisher:
    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, message: Outgoing) -> None:
        raise PublishFailed("not in this test")


def test_the_relay_thread_of_the_debitorsystem_closes_its_http_client_when_it_stops(
    part_engine: Callable[[str, str], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread `indbetaling run` and `serve debitorsystem` start for reversal orders lets go
    of its connections to the gateway when the server stops (they were left to the garbage
    collector, a ResourceWarning for every kept-alive socket)."""
    made: list[ReversalOrderClient] = []

    class Recorded(ReversalOrderClient):
        def __init__(self, settings: RelaySettings) -> None:
            super().__init__(settings)
            made.append(self)

    monkeypatch.setattr(debitorsystem_app, "ReversalOrderClient", Recorded)
    part = debitorsystem_app.build(
        part_engine("debitorsystem", "sqlite"),
        system_id=uuid.uuid4(),
        platform_jwks={"keys": []},
        relay_settings=RelaySettings("http://gateway.test", DEBITOR_CLIENT_ID, DEBITOR_SECRET),
        publisher=NoPublisher(),
        retention=timedelta(days=30),
    )
    (deliver,) = [loop for name, loop in part.threads if name == "tilbageførselsordrer"]
    stop = threading.Event()
    stop.set()
    deliver(stop)
    (client,) = made
    assert client.http.is_closed


def relay_process(program: str, url: str, wire: ReversalWorld, *args: str) -> list[str]:
    """The command line of a relay process `program` on the database `url`."""
    return [
        sys.executable,
        "-c",
        program,
        url,
        wire.base_url,
        DEBITOR_CLIENT_ID,
        DEBITOR_SECRET,
        *args,
    ]


CHILD = """
import sys
from datetime import datetime
from indbetaling.db import make_engine
from indbetaling.debitorsystem.relay import RelaySettings, ReversalOrderClient, ReversalOrderRelay
url, gateway, client_id, secret, now = sys.argv[1:]
settings = RelaySettings(gateway, client_id, secret, lease_seconds=300, http_timeout_seconds=30)
relay = ReversalOrderRelay(make_engine(url), ReversalOrderClient(settings))
relay.deliver_due(datetime.fromisoformat(now))
sys.exit(3)
"""


def test_an_order_survives_a_restart_of_the_debitorsystem_and_is_received_once(
    env: Env,
) -> None:
    ledger, wire = env.ledger, env.wire
    order = env.over_covered()
    url = env.hand_over_database()
    # a relay process that is killed while its call is at the fagsystem: the fagsystem keeps
    # the order, the relay never learns the answer
    child: list[subprocess.Popen[bytes]] = []

    def kill_the_relay(_payment: uuid.UUID) -> bool:
        os.kill(child[0].pid, signal.SIGKILL)
        child[0].wait(timeout=60)
        return True

    wire.knows[ledger.fagsystem] = kill_the_relay
    child.append(
        subprocess.Popen(
            relay_process(CHILD, url, wire, env.now.isoformat()),
        )
    )
    assert child[0].wait(timeout=120) == -signal.SIGKILL
    deadline = time.monotonic() + 60
    while not pending_orders(wire.fagsystem_engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [o.order_id for o in pending_orders(wire.fagsystem_engine)] == [order.id]
    # a fresh debitorsystem on the same database
    engine = make_engine(url)
    service = DebitorService(engine, system_id=uuid.uuid4(), clock=lambda: ledger.clock[0])
    client = ReversalOrderClient(relay_settings(wire))
    relay = ReversalOrderRelay(engine, client)
    try:
        with read(engine) as conn:
            in_flight = store.delivery_status(conn, order.id)
        assert in_flight is not None
        assert (in_flight.state, in_flight.attempts) == (OrderState.AFSENDT, 1)
        assert relay.deliver_due(env.now + timedelta(seconds=299)) == 0  # still leased
        assert relay.deliver_due(env.now + timedelta(seconds=300)) == 1
        with read(engine) as conn:
            delivered = store.delivery_status(conn, order.id)
        assert delivered is not None
        assert (delivered.state, delivered.attempts) == (OrderState.MODTAGET, 2)
        (received,) = pending_orders(wire.fagsystem_engine)
        assert received.transaction_uuid == transaction_uuid(order.id)
        # the gateway saw the same transaction twice (its log masks digit runs, so compare)
        calls = wire.audited_calls()
        assert [c["outcome"] for c in calls] == ["MODTAGET", "MODTAGET"]
        assert calls[0]["transaction_uuid"] == calls[1]["transaction_uuid"]
        answer = reverse_by_order(service, ledger.fagsystem, received)
        assert answer["Forretningskvittering"]["ForretningsValideringsKode"] == "ACCEPTERET"
        with read(engine) as conn:
            done = store.delivery_status(conn, order.id)
        assert done is not None
        assert done.state is OrderState.UDFOERT
    finally:
        client.close()
        engine.dispose()


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.001, max_value=600),
    factor=st.floats(min_value=1, max_value=10_000),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half(
    attempt: int, base: float, factor: float, jitter: float
) -> None:
    cap = base * factor
    wait = backoff_seconds(attempt, base=base, cap=cap, jitter=jitter)
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 1000))
    assert ceiling / 2 <= wait <= ceiling
    assert base / 2 <= wait <= cap
    later = backoff_seconds(attempt + 1, base=base, cap=cap, jitter=jitter)
    assert later >= wait  # never sooner for a later attempt, at the same jitter
    if ceiling < cap / 2:
        assert later == pytest.approx(2 * wait)


def test_backoff_refuses_what_is_not_an_attempt_or_a_jitter() -> None:
    with pytest.raises(ValueError, match="counted from 1"):
        backoff_seconds(0, base=1, cap=2, jitter=0)
    with pytest.raises(ValueError, match="jitter"):
        backoff_seconds(1, base=1, cap=2, jitter=1.5)

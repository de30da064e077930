"""The relay of the fagsystem's outbox (R11): every accepted payment, reversal and pay-back
reaches finance, and every pay-back NemKonto, in the wire shape fixed between the parts, once,
however often a send is repeated. Finance and NemKonto are stood in for by a recording app that
checks that shape (`recording_ledger.py`); SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from fagsystem.payments_env import CVR, PaymentsEnv, env, run
from fagsystem.recording_ledger import RecordingLedger
from indbetaling.db import read
from indbetaling.fagsystem import payments_store
from indbetaling.fagsystem.domain import PostingKind, ReversalSource, Split, posting_id
from indbetaling.fagsystem.finance_client import BookingClient, BookingSettings
from indbetaling.fagsystem.sender import BookingRelay, RelayTiming
from indbetaling.fagsystem.service import ReversalRequest, Timing

__all__ = ["env"]

QUICK = RelayTiming(backoff=Timing(backoff_base_seconds=0.01, backoff_cap_seconds=0.05))


@pytest.fixture
def ledger() -> RecordingLedger:
    return RecordingLedger()


@pytest.fixture
def relay(env: PaymentsEnv, ledger: RecordingLedger) -> BookingRelay:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=ledger.app()))
    settings = BookingSettings(
        finance_url="http://finance.internal/",
        nemkonto_url="http://nemkonto.internal",
        token=ledger.token,
    )
    return BookingRelay(env.engine, BookingClient(settings, http), timing=QUICK)


def story(env: PaymentsEnv) -> tuple[uuid.UUID, uuid.UUID]:
    """600.00 paid, reversed by hand: 250.00 paid again, 350.00 paid back. The payment and the
    pay-again."""
    service = env.service()
    view = run(service.pay(CVR, str(uuid.uuid4()), env.request(env.fake.claim(100_000), 60_000)))
    reversal, _ = service.create_reversal(
        CVR, ReversalRequest(view.payment.id, ReversalSource.SAGSBEHANDLER)
    )
    done = run(service.execute(CVR, reversal.id, Split(25_000, 35_000)))
    assert done.execution is not None
    return view.payment.id, done.execution.repay_payment_id


def pending(env: PaymentsEnv) -> int:
    with read(env.engine) as conn:
        query = select(payments_store.outbox).where(payments_store.outbox.c.published_at.is_(None))
        return len(conn.execute(query).all())


def deliver_all(relay: BookingRelay, env: PaymentsEnv, timeout: float = 10) -> None:
    async def go() -> None:
        deadline = time.monotonic() + timeout
        while await asyncio.to_thread(pending, env):
            assert time.monotonic() < deadline, "the outbox was not delivered"
            await relay.deliver_due()
            await asyncio.sleep(0.02)

    run(go())


def test_every_booking_reaches_finance_and_nemkonto_once_in_their_shape(
    env: PaymentsEnv, ledger: RecordingLedger, relay: BookingRelay
) -> None:
    payment_id, repay_id = story(env)
    assert run(relay.deliver_due()) == 5
    assert set(ledger.postings) == {
        str(posting_id(PostingKind.INDBETALING, payment_id)),
        str(posting_id(PostingKind.TILBAGEFOERSEL, payment_id)),
        str(posting_id(PostingKind.TILBAGEBETALING, payment_id)),
        str(posting_id(PostingKind.INDBETALING, repay_id)),
    }
    references = sorted((p["Posteringstype"], p["Reference"]) for p in ledger.postings.values())
    assert references == sorted(
        [
            ("INDBETALING", str(payment_id)),
            ("TILBAGEFOERSEL", str(payment_id)),
            ("TILBAGEBETALING", str(payment_id)),
            ("INDBETALING", str(repay_id)),
        ]
    )
    assert (ledger.balance("6010"), ledger.balance("2901"), ledger.balance("2950")) == (
        25_000,
        -60_000,
        35_000,
    )
    (payout,) = ledger.payouts.values()
    assert (payout["Beloeb"], payout["Reference"], payout["MyndighedCVR"]) == (
        "350.00",
        str(payment_id),
        CVR,
    )
    assert run(relay.deliver_due()) == 0  # nothing is sent again once delivered
    assert len(ledger.received) == 5
    assert pending(env) == 0


def test_a_send_that_failed_or_lost_its_answer_is_repeated_and_booked_once(
    env: PaymentsEnv, ledger: RecordingLedger, relay: BookingRelay
) -> None:
    story(env)
    ledger.fail_before = 1  # the first never arrives
    ledger.fail_after = 2  # the next two arrive, their answers do not
    deliver_all(relay, env)
    assert len(ledger.postings) == 4
    assert len(ledger.payouts) == 1
    assert len(ledger.received) == 7  # two repeats, each the same body (else 409)
    assert ledger.balance("6010") + ledger.balance("2901") + ledger.balance("2950") == 0


def test_a_refused_booking_waits_for_a_person_and_the_rest_go_on(
    env: PaymentsEnv, ledger: RecordingLedger, relay: BookingRelay
) -> None:
    payment_id, _ = story(env)
    refused = str(posting_id(PostingKind.TILBAGEFOERSEL, payment_id))
    ledger.refuse = {refused}
    relay.timing = RelayTiming(backoff=Timing(backoff_base_seconds=0.01, backoff_cap_seconds=300))
    assert run(relay.deliver_due()) == 4
    assert run(relay.deliver_due()) == 0
    assert ledger.received.count(refused) == 1  # not sent again at once
    assert pending(env) == 1


def test_without_the_finance_token_nothing_is_lost(
    env: PaymentsEnv, ledger: RecordingLedger
) -> None:
    story(env)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=ledger.app()))
    settings = BookingSettings("http://finance", "http://nemkonto", token="wrong")
    relay = BookingRelay(env.engine, BookingClient(settings, http), timing=QUICK)
    assert run(relay.deliver_due()) == 0
    assert pending(env) == 5
    assert ledger.received == []


def test_refused_bookings_never_hold_up_the_others(
    env: PaymentsEnv, ledger: RecordingLedger, relay: BookingRelay
) -> None:
    payment_id, _ = story(env)
    first_two = {
        str(posting_id(PostingKind.INDBETALING, payment_id)),
        str(posting_id(PostingKind.TILBAGEFOERSEL, payment_id)),
    }
    ledger.refuse = first_two  # the two oldest messages of the outbox
    relay.timing = RelayTiming(
        batch_size=2, backoff=Timing(backoff_base_seconds=0.01, backoff_cap_seconds=300)
    )
    delivered = [run(relay.deliver_due()) for _ in range(3)]
    assert delivered == [0, 2, 1]
    assert pending(env) == 2
    assert {r for r in ledger.received if r in first_two} == first_two
    assert len(ledger.received) == 5  # each refused one was tried once

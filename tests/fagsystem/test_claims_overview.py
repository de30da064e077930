"""The overview of payable claims in the fagsystem's own database: newest word wins, repeats
change nothing, claims that stop being payable stay known but are not listed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from indbetaling.db import read, write
from indbetaling.fagsystem import claims, claims_store
from indbetaling.fagsystem.client import NoBusinessAnswer, SearchQuery
from indbetaling.fordring import ClaimStatus, ClaimView, LiableParty

CVR = "29189846"
OTHER_CVR = "55133018"
PART = "urn:oio:cpr-nr:0101801234"
CO_PART = "urn:oio:cpr-nr:0202802345"
FIRM = "urn:oio:cvr-nr:12345678"
PARTIES = (PART, CO_PART, FIRM)
T0 = datetime(2026, 11, 26, 10, tzinfo=UTC)

PartEngine = Callable[[str, str], Engine]


def view(
    claim_id: uuid.UUID | None = None,
    *,
    restance: int = 50_000,
    status: ClaimStatus = ClaimStatus.AKTIV,
    parties: tuple[str, ...] = (PART,),
    cvr: str = CVR,
    due: date = date(2026, 12, 1),
) -> ClaimView:
    return ClaimView(
        claim_id=claim_id or uuid.uuid4(),
        account_id=uuid.UUID("0d6c3a52-0000-4000-8000-000000000001"),
        authority_cvr=cvr,
        account_type_code="KONTO.BORGER",
        claim_type_code="KRAV.DAGTILBUD",
        principal=100_000,
        restance=restance,
        due_date=due,
        last_timely_payment_date=due + timedelta(days=9),
        payment_period_from=None,
        payment_period_to=None,
        liable_parties=tuple(LiableParty(p, "PRIMAER") for p in parties),
        status=status,
    )


def remember(
    engine: Engine,
    fagsystem_id: uuid.UUID,
    views: list[ClaimView],
    seen_at: datetime,
    *,
    closed: bool = False,
    now: datetime | None = None,
) -> int:
    with write(engine) as conn:
        return claims_store.remember_claims(
            conn, fagsystem_id, views, seen_at, now or datetime.now(UTC), closed=closed
        )


def stored(
    engine: Engine, fagsystem_id: uuid.UUID, claim_id: uuid.UUID
) -> claims_store.StoredClaim:
    with read(engine) as conn:
        found = claims_store.stored_claim(conn, fagsystem_id, claim_id)
    assert found is not None
    return found


def payable(
    engine: Engine, fagsystem_id: uuid.UUID, part: str = PART, cvr: str = CVR
) -> list[ClaimView]:
    return claims.payable_claims(engine, fagsystem_id, cvr, part)


# --- the property ----------------------------------------------------------------------------


Version = tuple[datetime, ClaimView, bool]


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Version], list[int]]:
    """Versions of one claim (each seen at its own moment) and an order of arrival of some of
    them, with repeats."""
    claim_id = draw(st.uuids())
    count = draw(st.integers(1, 5))
    moments = draw(st.lists(st.integers(0, 100_000), min_size=count, max_size=count, unique=True))
    versions: list[Version] = []
    for moment in moments:
        version = view(
            claim_id,
            restance=draw(st.integers(0, 100_000)),
            status=draw(st.sampled_from(ClaimStatus)),
            parties=tuple(sorted(draw(st.sets(st.sampled_from(PARTIES), min_size=1)))),
        )
        versions.append((T0 + timedelta(seconds=moment), version, draw(st.booleans())))
    order = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=12))
    return versions, order


@pytest.fixture
def sqlite_engine(part_engine: PartEngine) -> Engine:
    """One database for all examples of the property: each example has a fagsystem of its own."""
    return part_engine("fagsystem", "sqlite")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=arrivals())
def test_whatever_the_order_the_newest_word_is_kept_and_repeats_change_nothing(
    sqlite_engine: Engine, case: tuple[list[Version], list[int]]
) -> None:
    engine = sqlite_engine
    versions, order = case
    fagsystem_id = uuid.uuid4()  # each example on its own fagsystem in the one database
    newest_so_far: datetime | None = None
    for step, index in enumerate(order):
        seen_at, version, closed = versions[index]
        now = T0 + timedelta(days=1, seconds=step)
        changed = remember(engine, fagsystem_id, [version], seen_at, closed=closed, now=now)
        is_newer = newest_so_far is None or seen_at > newest_so_far
        assert changed == (1 if is_newer else 0)
        if is_newer:
            newest_so_far = seen_at

    seen_at, newest, closed = max((versions[i] for i in order), key=lambda v: v[0])
    kept = stored(engine, fagsystem_id, newest.claim_id)
    assert (kept.view, kept.seen_at) == (newest, seen_at)
    assert kept.payable == (
        newest.status is ClaimStatus.AKTIV and newest.restance > 0 and not closed
    )
    for part in PARTIES:
        listed = [v.claim_id for v in payable(engine, fagsystem_id, part)]
        liable = any(p.part_id == part for p in newest.liable_parties)
        assert listed == ([newest.claim_id] if kept.payable and liable else [])

    for index in set(order):  # every word again, later: nothing changes
        again_at, version, again_closed = versions[index]
        later = T0 + timedelta(days=2)
        assert (
            remember(engine, fagsystem_id, [version], again_at, closed=again_closed, now=later) == 0
        )
    assert stored(engine, fagsystem_id, newest.claim_id) == kept


# --- the same rules, on both databases -----------------------------------------------------


@pytest.fixture
def engine(part_engine: PartEngine, backend: str) -> Engine:
    return part_engine("fagsystem", backend)


def test_an_older_word_never_overwrites_a_newer_one(engine: Engine) -> None:
    fagsystem_id = uuid.uuid4()
    claim_id = uuid.uuid4()
    newer = view(claim_id, restance=20_000, parties=(PART, CO_PART))
    older = view(claim_id, restance=80_000, parties=(FIRM,))

    assert remember(engine, fagsystem_id, [newer], T0 + timedelta(minutes=5)) == 1
    assert remember(engine, fagsystem_id, [older], T0) == 0
    assert remember(engine, fagsystem_id, [newer], T0 + timedelta(minutes=5)) == 0

    assert stored(engine, fagsystem_id, claim_id).view == newer
    assert payable(engine, fagsystem_id, CO_PART) == [newer]
    assert payable(engine, fagsystem_id, FIRM) == []


def test_a_newer_word_replaces_the_claim_and_its_parties(engine: Engine) -> None:
    fagsystem_id = uuid.uuid4()
    claim_id = uuid.uuid4()
    remember(engine, fagsystem_id, [view(claim_id, parties=(PART, CO_PART))], T0)
    newer = view(claim_id, restance=1_000, parties=(CO_PART, FIRM))

    assert remember(engine, fagsystem_id, [newer], T0 + timedelta(seconds=1)) == 1

    assert payable(engine, fagsystem_id, PART) == []
    assert payable(engine, fagsystem_id, CO_PART) == [newer]
    assert payable(engine, fagsystem_id, FIRM) == [newer]


@pytest.mark.parametrize(
    ("restance", "status", "closed"),
    [
        (0, ClaimStatus.AFSLUTTET, False),
        (10_000, ClaimStatus.ANNULLERET, False),
        (0, ClaimStatus.AKTIV, False),
        (10_000, ClaimStatus.AKTIV, True),
    ],
    ids=["afsluttet", "annulleret", "restance-0", "told-afsluttet"],
)
def test_a_claim_no_longer_payable_is_kept_but_not_listed(
    engine: Engine, restance: int, status: ClaimStatus, closed: bool
) -> None:
    fagsystem_id = uuid.uuid4()
    claim_id = uuid.uuid4()
    remember(engine, fagsystem_id, [view(claim_id)], T0)
    ended = view(claim_id, restance=restance, status=status)

    remember(engine, fagsystem_id, [ended], T0 + timedelta(hours=1), closed=closed)

    kept = stored(engine, fagsystem_id, claim_id)
    assert (kept.view, kept.payable) == (ended, False)
    assert payable(engine, fagsystem_id) == []


def test_the_listing_is_the_partys_claims_in_that_authority_by_due_date(engine: Engine) -> None:
    fagsystem_id = uuid.uuid4()
    late = view(due=date(2027, 3, 1))
    early = view(due=date(2027, 1, 1), parties=(CO_PART, PART))
    elsewhere = view(cvr=OTHER_CVR)
    not_theirs = view(parties=(FIRM,))
    remember(engine, fagsystem_id, [late, early, elsewhere, not_theirs], T0)
    remember(engine, uuid.uuid4(), [view()], T0)  # another fagsystem's overview

    assert payable(engine, fagsystem_id) == [early, late]
    assert payable(engine, fagsystem_id, cvr=OTHER_CVR) == [elsewhere]


# --- refresh through the port ----------------------------------------------------------------


class FakeDebitor:
    """The port, answering a search with what the test sets (or no business answer)."""

    def __init__(self) -> None:
        self.claims: list[ClaimView] = []
        self.down = False
        self.queries: list[tuple[str, SearchQuery]] = []

    async def search(self, cvr: str, query: SearchQuery) -> list[ClaimView]:
        self.queries.append((cvr, query))
        if self.down:
            raise NoBusinessAnswer("no answer")
        return list(self.claims)

    async def pay(self, *_args: object) -> object:
        raise NotImplementedError

    async def reverse(self, *_args: object) -> object:
        raise NotImplementedError


def refresh(engine: Engine, debitor: FakeDebitor, fagsystem_id: uuid.UUID, at: datetime) -> None:
    asyncio.run(
        claims.refresh(engine, debitor, fagsystem_id, CVR, PART, clock=lambda: at)  # type: ignore[arg-type]
    )


def test_a_refresh_keeps_what_the_search_found_and_closes_what_it_no_longer_lists(
    engine: Engine,
) -> None:
    fagsystem_id = uuid.uuid4()
    debitor = FakeDebitor()
    gone, stays, other_party = view(), view(), view(parties=(FIRM,))
    remember(engine, fagsystem_id, [gone, stays, other_party], T0)
    changed = replace(stays, restance=1_234)
    debitor.claims = [changed, view(parties=(FIRM,))]  # the second is not this party's

    refresh(engine, debitor, fagsystem_id, T0 + timedelta(minutes=1))

    assert debitor.queries == [(CVR, SearchQuery(part_id=PART))]
    assert payable(engine, fagsystem_id) == [changed]
    assert not stored(engine, fagsystem_id, gone.claim_id).payable
    assert payable(engine, fagsystem_id, FIRM) == [other_party]  # only the party searched for


def test_a_word_newer_than_the_search_is_kept(engine: Engine) -> None:
    fagsystem_id = uuid.uuid4()
    debitor = FakeDebitor()
    newer = view()
    remember(engine, fagsystem_id, [newer], T0 + timedelta(minutes=5))
    debitor.claims = [replace(newer, restance=99)]

    refresh(engine, debitor, fagsystem_id, T0)

    assert payable(engine, fagsystem_id) == [newer]


def test_a_refresh_without_an_answer_changes_nothing(engine: Engine) -> None:
    fagsystem_id = uuid.uuid4()
    debitor = FakeDebitor()
    known = view()
    remember(engine, fagsystem_id, [known], T0)
    debitor.down = True

    with pytest.raises(NoBusinessAnswer):
        refresh(engine, debitor, fagsystem_id, T0 + timedelta(minutes=1))

    assert stored(engine, fagsystem_id, known.claim_id).seen_at == T0
    assert payable(engine, fagsystem_id) == [known]

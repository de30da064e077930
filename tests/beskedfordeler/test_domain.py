"""Filter evaluation and the push retry policy (pure rules)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from indbetaling.besked import FilterData, ObjectRegistration, RelatedObject
from indbetaling.beskedfordeler import domain
from indbetaling.beskedfordeler.domain import (
    Filter,
    RetryPolicy,
    Subscription,
    matches,
    matching_mailboxes,
)

TYPES = st.sampled_from(["t1", "t2"])
CVRS = st.sampled_from(["11111111", "22222222"])
ACTIONS = st.sampled_from(["Oprettet", "Aendret", "Afsluttet"])
LISTS = st.sampled_from(["L1", "L2", "L3"])
PARTIES = st.sampled_from(["urn:oio:cpr-nr:0101800001", "urn:oio:cpr-nr:0202800002"])


@st.composite
def filter_data(draw: st.DrawFn) -> FilterData:
    parties = draw(st.lists(PARTIES, max_size=2, unique=True))
    return FilterData(
        message_type=draw(TYPES),
        related_objects=tuple(RelatedObject(p, "Part", "Haefter") for p in parties),
        registrations=(
            ObjectRegistration("claim", "Fordring", draw(ACTIONS), f"urn:oio:cvr-nr:{draw(CVRS)}"),
        ),
    )


filters = st.builds(
    Filter,
    message_type=st.none() | TYPES,
    authority_cvr=st.none() | CVRS,
    object_action=st.none() | ACTIONS,
    value_list_id=st.none() | LISTS,
)


@given(f=filters, data=filter_data(), hits=st.sets(LISTS))
def test_a_filter_matches_exactly_when_every_given_condition_holds(
    f: Filter, data: FilterData, hits: set[str]
) -> None:
    expected = (
        (f.message_type in (None, data.message_type))
        and (
            f.authority_cvr is None
            or f"urn:oio:cvr-nr:{f.authority_cvr}" in {r.authority for r in data.registrations}
        )
        and (f.object_action is None or f.object_action == data.registrations[0].action)
        and (f.value_list_id is None or f.value_list_id in hits)
    )
    assert matches(f, data, hits) is expected


@given(f=filters, data=filter_data(), hits=st.sets(LISTS))
def test_an_empty_filter_matches_everything_and_conditions_only_narrow(
    f: Filter, data: FilterData, hits: set[str]
) -> None:
    assert matches(Filter(), data, hits)
    if matches(f, data, hits):
        assert matches(Filter(message_type=f.message_type), data, hits)


@given(
    subs=st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), filters), max_size=8),
    data=filter_data(),
    hits=st.sets(LISTS),
)
def test_each_matching_mailbox_gets_the_message_once(
    subs: list[tuple[str, Filter]], data: FilterData, hits: set[str]
) -> None:
    subscriptions = [Subscription(f"s{i}", m, f) for i, (m, f) in enumerate(subs)]
    result = matching_mailboxes(subscriptions, data, hits)
    assert result == sorted({m for m, f in subs if matches(f, data, hits)})
    assert len(result) == len(set(result))


def test_filter_on_a_value_list_needs_a_hit() -> None:
    data = FilterData("t1", (RelatedObject("urn:oio:cpr-nr:0101800001", "Part", None),), ())
    assert not matches(Filter(value_list_id="L1"), data, set())
    assert matches(Filter(value_list_id="L1"), data, {"L1"})


@given(attempts=st.integers(min_value=1, max_value=200))
def test_backoff_grows_and_is_capped(attempts: int) -> None:
    policy = RetryPolicy(
        max_attempts=5, first_delay=timedelta(seconds=1), max_delay=timedelta(minutes=10)
    )
    delay = policy.delay_after(attempts)
    assert timedelta(seconds=1) <= delay <= timedelta(minutes=10)
    assert policy.delay_after(attempts + 1) >= delay
    assert policy.exhausted(attempts) is (attempts >= 5)


def test_backoff_doubles() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=2))
    assert [policy.delay_after(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]


def test_the_domain_imports_nothing_of_ours_but_money_and_ids() -> None:
    """Pure rules: no lxml, no SOAP, no `besked`, no framework; of ours only money and ids."""
    tree = ast.parse(Path(domain.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    ours = {name for name in imported if name.startswith("indbetaling")}
    assert ours <= {"indbetaling.money", "indbetaling.ids"}, ours
    assert imported <= {"__future__", "collections.abc", "dataclasses", "datetime", "typing"} | ours

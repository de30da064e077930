"""The ledger's money rule as a property: lines of signed øre are taken exactly when they sum
to zero, whatever their number and signs; the amounts come back as they were sent."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from indbetaling.finance.domain import FejlKode, Posting, PostingType, check_same, new_posting
from indbetaling.money import format_ore
from indbetaling.refusal import Refused

ore = st.integers(min_value=-(10**12), max_value=10**12).filter(bool)
"""Non-zero line amounts; 30 of them still sum to what the wire carries (13 digits)."""


def make(amounts: list[int], kind: PostingType = PostingType.INDBETALING) -> Posting:
    return new_posting(
        posting_id=uuid.uuid4(),
        posting_date=date(2026, 11, 26),
        authority_cvr="29189846",
        reference=uuid.uuid4(),
        type=kind,
        lines=[(f"{6000 + n % 3}", format_ore(a), "") for n, a in enumerate(amounts)],
    )


@given(st.lists(ore, min_size=1, max_size=30))
def test_lines_that_sum_to_zero_are_taken_as_they_are(amounts: list[int]) -> None:
    lines = [*amounts, -sum(amounts)] if sum(amounts) else [*amounts, 1, -1]
    posting = make(lines)
    assert [line.amount for line in posting.lines] == lines
    assert sum(posting.amount_on(f"{6000 + n}") for n in range(3)) == 0


@given(st.lists(ore, min_size=2, max_size=30))
def test_lines_that_do_not_sum_to_zero_are_refused(lines: list[int]) -> None:
    assume(sum(lines) != 0)
    with pytest.raises(Refused) as refused:
        make(lines)
    assert refused.value.code is FejlKode.POSTERING_UBALANCE
    assert format_ore(sum(lines)) in refused.value.text


@pytest.mark.parametrize(
    "amount", ["abc", "1e3", "0.001", "", "NaN", "0", "-0.00", "1,00", "12345678901234"]
)
def test_an_amount_the_wire_does_not_carry_is_refused_by_its_line(amount: str) -> None:
    with pytest.raises(Refused) as refused:
        new_posting(
            posting_id=uuid.uuid4(),
            posting_date=date(2026, 11, 26),
            authority_cvr="29189846",
            reference=uuid.uuid4(),
            type=PostingType.INDBETALING,
            lines=[("6010", "1.00", ""), ("2901", amount, ""), ("2901", "-1.00", "")],
        )
    assert refused.value.code is FejlKode.BELOEB_UGYLDIGT
    assert refused.value.text.startswith("Posteringslinje 2:")


@given(st.lists(ore, min_size=1, max_size=5), st.sampled_from(list(PostingType)))
def test_the_same_posting_again_is_the_same_and_another_under_its_id_a_conflict(
    amounts: list[int], kind: PostingType
) -> None:
    first = make([*amounts, -sum(amounts)] if sum(amounts) else [*amounts, 1, -1], kind)
    check_same(first, first)
    other = Posting(first.id, first.posting_date, "55133018", first.reference, kind, first.lines)
    with pytest.raises(Refused) as refused:
        check_same(other, first)
    assert refused.value.code is FejlKode.POSTERINGID_KONFLIKT

"""Amounts on the pages: shown as `1.234,50 kr.`, typed in Danish or with a decimal point,
always read to integer øre."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indbetaling.money import MAX_ORE, InvalidAmount
from indbetaling.ui.kroner import (
    format_field,
    format_kroner,
    parse_kroner,
    parse_positive_kroner,
    parse_share,
)


@pytest.mark.parametrize(
    ("ore", "shown"),
    [
        (0, "0,00 kr."),
        (5, "0,05 kr."),
        (123450, "1.234,50 kr."),
        (100000000, "1.000.000,00 kr."),
        (-123450, "-1.234,50 kr."),
    ],
)
def test_amounts_are_shown_in_danish(ore: int, shown: str) -> None:
    assert format_kroner(ore) == shown


@pytest.mark.parametrize(
    ("typed", "ore"),
    [
        ("1234,50", 123450),
        ("1.234,50", 123450),
        ("1234.50", 123450),
        ("1 234,50 kr.", 123450),
        ("1.234", 123400),
        ("1.234.567", 123456700),
        ("12.5", 1250),
        ("0,5", 50),
        (",75", 75),
        ("25", 2500),
        ("25,", 2500),
        ("1.000,00 kr", 100000),
    ],
)
def test_typed_amounts_are_read_to_ore(typed: str, ore: int) -> None:
    assert parse_kroner(typed) == ore


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "abc", "1,2,3", "12,345", "1.23.45", "1e3", "NaN", "12,3a", "1..0", "-", ","],
)
def test_what_is_not_an_amount_is_refused_in_danish(typed: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_kroner(typed)
    assert "beløb" in str(refused.value).lower() or "decimal" in str(refused.value).lower()


def test_too_large_and_non_positive_amounts_are_refused() -> None:
    with pytest.raises(InvalidAmount, match="13 cifre"):
        parse_kroner("99999999999999,00")
    with pytest.raises(InvalidAmount, match="større end 0"):
        parse_positive_kroner("0,00")
    with pytest.raises(InvalidAmount, match="større end 0"):
        parse_positive_kroner("-5")
    with pytest.raises(InvalidAmount, match="negativt"):
        parse_share("-1,00", "Tilbagebetal")
    assert parse_share("", "Genindbetal") == 0


@given(st.integers(min_value=-MAX_ORE, max_value=MAX_ORE))
def test_a_shown_amount_reads_back_to_the_same_ore(ore: int) -> None:
    assert parse_kroner(format_field(ore)) == ore
    assert parse_kroner(format_kroner(ore)) == ore

"""Money (øre inside, two-place decimals at the edges) and identities (CPR masking)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indbetaling.ids import (
    InvalidId,
    mask_cpr_in_text,
    mask_part_id,
    parse_cvr,
    parse_part_id,
    parse_uuid,
)
from indbetaling.money import (
    MAX_ORE,
    InvalidAmount,
    amount_from_decimal,
    format_ore,
    parse_amount,
    parse_ore,
    to_decimal,
)

ore = st.integers(min_value=-MAX_ORE, max_value=MAX_ORE)


@given(ore)
def test_format_and_parse_are_inverse(value: int) -> None:
    text = format_ore(value)
    assert parse_ore(text) == value
    assert to_decimal(value) == Decimal(text)
    assert to_decimal(value).as_tuple().exponent == -2


@given(st.integers(min_value=1, max_value=MAX_ORE))
def test_positive_amounts_round_trip_through_decimal(value: int) -> None:
    assert amount_from_decimal(to_decimal(value)) == value
    assert parse_amount(format_ore(value)) == value


@given(st.decimals(min_value=-(10**13), max_value=10**13, places=3))
def test_three_significant_decimals_are_refused(value: Decimal) -> None:
    if value == value.quantize(Decimal("0.01")):
        return
    with pytest.raises(InvalidAmount, match="to decimaler"):
        parse_ore(format(value, "f"))


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "NaN",
        "Infinity",
        "-0.01",
        "0.001",
        "",
        " ",
        "0",
        "0.00",
        "1,50",
        "+-1",
        "10000000000000",
        "12345678901234.00",
        "١٢",
    ],
)
def test_wire_rules_refuse(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 100),
        ("1.5", 150),
        ("0.01", 1),
        ("1.000", 100),
        ("+2.50", 250),
        (".5", 50),
        ("9999999999999.99", MAX_ORE),
        ("007.10", 710),
    ],
)
def test_wire_rules_accept(text: str, expected: int) -> None:
    assert parse_amount(text) == expected


@given(st.uuids())
def test_uuids_are_never_masked_as_cpr(value: uuid.UUID) -> None:
    text = f"TransactionUUID {value} and {str(value).upper()}"
    assert mask_cpr_in_text(text) == text


@given(st.from_regex(r"\A[0-3][0-9][01][0-9][0-9]{2}[0-9]{4}\Z"))
def test_cpr_numbers_are_masked_wherever_they_stand(cpr: str) -> None:
    for text in (f"bruger {cpr}", f"urn:oio:cpr-nr:{cpr}", f"{cpr[:6]}-{cpr[6:]}."):
        masked = mask_cpr_in_text(text)
        assert cpr[6:] not in masked.replace(cpr[:6], "")
        assert f"{cpr[:6]}-XXXX" in masked


def test_party_ids() -> None:
    assert parse_part_id("urn:oio:cpr-nr:0101801234") == "urn:oio:cpr-nr:0101801234"
    assert parse_part_id("urn:oio:cvr-nr:12345678") == "urn:oio:cvr-nr:12345678"
    for bad in ("0101801234", "urn:oio:cpr-nr:01018012", "urn:oio:cvr-nr:1234567"):
        with pytest.raises(InvalidId):
            parse_part_id(bad)
    assert mask_part_id("urn:oio:cpr-nr:0101801234") == "urn:oio:cpr-nr:010180-XXXX"
    assert parse_cvr("12345678") == "12345678"
    with pytest.raises(InvalidId):
        parse_cvr("1234567x")


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_cvr, "1234567\uff18"),  # a fullwidth 8
        (parse_cvr, "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"),  # Arabic-Indic
        (parse_part_id, "urn:oio:cpr-nr:010180123\uff14"),
        (parse_part_id, "urn:oio:cvr-nr:1234567\u0668"),
    ],
)
def test_only_ascii_digits_make_an_id(parse: Callable[[str], str], text: str) -> None:
    """As the XSD's [0-9]: what passes here is what SOAP takes."""
    with pytest.raises(InvalidId):
        parse(text)


@given(st.uuids())
def test_uuids_are_taken_in_the_canonical_form_only(value: uuid.UUID) -> None:
    """As SOAP's schema has them (either case), so REST and SOAP take the same ids."""
    text = str(value)
    assert parse_uuid(text) == parse_uuid(text.upper()) == value
    for other in (f"{{{text}}}", f"urn:uuid:{text}", value.hex, f" {text}", f"{text}\n", ""):
        with pytest.raises(InvalidId):
            parse_uuid(other, "FordringId")

"""Money: integer øre inside, two-place `Decimal` strings at the edges; never float.

The wire type `Beloeb` is an `xs:decimal` in DKK that must be > 0, have at most two decimals and
at most 13 integer digits. `parse_amount` enforces exactly that and nothing looser.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_INTEGER_DIGITS = 13
MAX_ORE = 10**MAX_INTEGER_DIGITS * 100 - 1
"""The largest amount the wire can carry, in øre (9,999,999,999,999.99 DKK)."""

_DECIMAL = re.compile(r"^[+-]?(?:(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?|\.(?P<frac2>[0-9]+))$")


class InvalidAmount(ValueError):
    """An amount that breaks the wire rules; the message says which rule, in Danish."""


def parse_ore(text: str) -> int:
    """Read an `xs:decimal` DKK text as signed øre; at most two significant decimals.

    Trailing zeros beyond two decimals are allowed (``"1.000"`` is 1.00), as `xs:fractionDigits`
    allows them. Exponents, NaN, infinities and empty text are not decimals and are refused.
    """
    stripped = text.strip()
    match = _DECIMAL.match(stripped)
    if match is None:
        raise InvalidAmount(f"Beløbet '{text[:40]}' er ikke et decimaltal (fx 1234.50)")
    int_part = (match.group("int") or "0").lstrip("0") or "0"
    frac = (match.group("frac") or match.group("frac2") or "").rstrip("0")
    if len(frac) > 2:
        raise InvalidAmount(f"Beløbet '{text[:40]}' har mere end to decimaler")
    if len(int_part) > MAX_INTEGER_DIGITS:
        raise InvalidAmount(
            f"Beløbet '{text[:40]}' har mere end {MAX_INTEGER_DIGITS} cifre før kommaet"
        )
    ore = int(int_part) * 100 + int(frac.ljust(2, "0"))
    return -ore if stripped.startswith("-") else ore


def parse_amount(text: str) -> int:
    """Read a wire `Beloeb`: a positive amount with at most two decimals, returned in øre."""
    ore = parse_ore(text)
    if ore <= 0:
        raise InvalidAmount(f"Beløbet '{text[:40]}' skal være større end 0")
    return ore


def amount_from_decimal(value: Decimal) -> int:
    """Read a positive `Decimal` (as JSON or xmlschema deliver it) as øre under the wire rules."""
    if not value.is_finite():
        raise InvalidAmount("Beløbet skal være et endeligt decimaltal")
    return parse_amount(format(value, "f"))


def format_ore(ore: int) -> str:
    """Render øre as a two-place decimal text: 123450 → '1234.50', -5 → '-0.05'."""
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    return f"{sign}{whole}.{cents:02d}"


def to_decimal(ore: int) -> Decimal:
    """Øre as a two-place `Decimal`."""
    return Decimal(format_ore(ore))

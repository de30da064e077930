"""Amounts as people read and write them on the pages: Danish format, integer øre inside.

Shown: `format_kroner(123450)` is `1.234,50 kr.`. Typed: `parse_kroner` takes `1234,50`,
`1.234,50`, `1 234,50 kr.` and `1234.50`. A comma is always the decimal mark; without one, a
dot followed by groups of three digits (`1.234`) separates thousands, as Danish writes it,
and any other single dot (`1234.50`) is a decimal point. The result goes through
`money.parse_ore`, so the wire's rules (two decimals, 13 digits) hold; never a float.
"""

from __future__ import annotations

import re

from indbetaling.money import InvalidAmount, parse_ore

_GROUPED = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+$")
_PLAIN = re.compile(r"^[0-9]+$")
_FRACTION = re.compile(r"^[0-9]*$")
_DOT_DECIMAL = re.compile(r"^[0-9]*\.[0-9]+$")
_SUFFIX = re.compile(r"\s*(?:kr\.?|dkk)$", re.IGNORECASE)
EXAMPLE = "fx 1.234,50"


def format_kroner(ore: int) -> str:
    """`1.234,50 kr.`; a negative amount `-1.234,50 kr.`."""
    return f"{format_field(ore)} kr."


def format_field(ore: int) -> str:
    """The amount as a form field shows it: `1.234,50` (what `parse_kroner` reads back)."""
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{cents:02d}"


def _decimal_text(text: str) -> str | None:
    """The amount as a plain decimal (`1234.50`), or None when it is not an amount."""
    if "," in text:
        whole, _, fraction = text.partition(",")
        if "," in fraction or not _FRACTION.match(fraction):
            return None
        if whole and not (_PLAIN.match(whole) or _GROUPED.match(whole)):
            return None
        if not whole and not fraction:
            return None
        return f"{whole.replace('.', '') or '0'}.{fraction or '0'}"
    if _GROUPED.match(text):
        return text.replace(".", "")
    if _PLAIN.match(text) or _DOT_DECIMAL.match(text):
        return text
    return None


def parse_kroner(text: str) -> int:
    """Øre of a typed amount (may be 0 or negative: callers say what they allow); the message
    of `InvalidAmount` says, in Danish, what is wrong."""
    cleaned = _SUFFIX.sub("", text.strip()).replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        raise InvalidAmount("Skriv et beløb")
    negative = cleaned.startswith("-")
    decimal = _decimal_text(cleaned.removeprefix("-").removeprefix("+"))
    if decimal is None:
        raise InvalidAmount(f"'{text.strip()[:40]}' er ikke et beløb; skriv {EXAMPLE}")
    try:
        ore = parse_ore(decimal)
    except InvalidAmount as exc:
        raise InvalidAmount(str(exc).replace(f"'{decimal}'", f"'{text.strip()[:40]}'")) from None
    return -ore if negative else ore


def parse_positive_kroner(text: str) -> int:
    """A payment's amount: more than 0."""
    ore = parse_kroner(text)
    if ore <= 0:
        raise InvalidAmount("Beløbet skal være større end 0,00 kr.")
    return ore


def parse_share(text: str, name: str) -> int:
    """A part of a split: 0 or more; an empty field is 0."""
    if not text.strip():
        return 0
    try:
        ore = parse_kroner(text)
    except InvalidAmount as exc:
        raise InvalidAmount(f"{name}: {exc}") from None
    if ore < 0:
        raise InvalidAmount(f"{name} må ikke være negativt")
    return ore

"""CPR numbers as people type and read them: `010190-1234` or `0101901234` in, a party's URN
(`urn:oio:cpr-nr:0101901234`) inside; shown in full only on the citizen's own page and masked
(`010190-XXXX`) everywhere else."""

from __future__ import annotations

import re

from indbetaling.ids import CPR_PREFIX

_TYPED = re.compile(r"^([0-9]{6})[- ]?([0-9]{4})$")


class InvalidCpr(ValueError):
    """Typed text that is not a CPR number; the message says why, in Danish."""


def parse_cpr(text: str) -> str:
    """The party URN of a typed CPR number."""
    typed = text.strip()
    if not typed:
        raise InvalidCpr("Skriv et CPR-nummer")
    match = _TYPED.match(typed)
    if match is None:
        raise InvalidCpr("Et CPR-nummer er 10 cifre, fx 010190-1234")
    return f"{CPR_PREFIX}{match.group(1)}{match.group(2)}"


def cpr_digits(part_id: str) -> str | None:
    """The ten digits of a CPR URN; None for any other party id."""
    if part_id.startswith(CPR_PREFIX):
        digits = part_id.removeprefix(CPR_PREFIX)
        if len(digits) == 10 and digits.isdigit():
            return digits
    return None


def cpr_text(part_id: str) -> str:
    """`010190-1234`: a party in full (the citizen's own page only)."""
    digits = cpr_digits(part_id)
    return part_id if digits is None else f"{digits[:6]}-{digits[6:]}"


def masked_cpr(part_id: str) -> str:
    """`010190-XXXX`: a party as every other page shows it."""
    digits = cpr_digits(part_id)
    return part_id if digits is None else f"{digits[:6]}-XXXX"

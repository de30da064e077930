"""What text may hold on every wire: no control characters (CONTRACT §2, both wires alike).

A NUL reaches no database (PostgreSQL refuses it, SQLite would store it), and neither does any
other character XML 1.0 cannot carry or a reader cannot see: the C0 and C1 controls, DEL, lone
surrogates and U+FFFE/U+FFFF. Free texts (`Tekst`) may hold tab, line feed and carriage return;
codes and names may not. Refused at the edge, before any work, so nothing is stored.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
_IN_TEXT = re.compile(f"[{_NEVER}]")
_IN_CODE = re.compile(f"[{_NEVER}\t\n\r]")


class ControlCharacter(ValueError):
    """A text holds a character it may not hold; the message says which and where."""


def _check(value: str, pattern: re.Pattern[str], name: str) -> str:
    found = pattern.search(value)
    if found is not None:
        raise ControlCharacter(
            f"{name} indeholder et ulovligt tegn (U+{ord(found.group()):04X}) "
            f"på plads {found.start() + 1}"
        )
    return value


def free_text(value: str, name: str = "Teksten") -> str:
    """`value` if it holds no control character but tab, line feed and carriage return."""
    return _check(value, _IN_TEXT, name)


def code_text(value: str, name: str = "Koden") -> str:
    """`value` if it holds no control character at all (codes, names, roles)."""
    return _check(value, _IN_CODE, name)


FreeText = Annotated[str, AfterValidator(free_text)]
"""A pydantic field type for a free text (a `Tekst`)."""
CodeText = Annotated[str, AfterValidator(code_text)]
"""A pydantic field type for a code or a name."""

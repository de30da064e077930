"""A value list's CPR numbers from an uploaded CSV file, every line checked before any is used.

One CPR number per line (`0101901234` or `010190-1234`), optionally the first field of a CSV
line (`,`, `;` or tab), optionally in quotes; empty lines and a first line without digits (a
heading such as `CPR-nummer`) are skipped. A file with a bad line adds nothing: the page lists
the bad lines by number. The values kept are the parties' URNs (`urn:oio:cpr-nr:…`), which is
what a claim message's `RelateretObjekt/ObjektId` holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from indbetaling.ui.cpr import InvalidCpr, parse_cpr

MAX_FILE_BYTES = 10 * 1024 * 1024
"""About 800,000 CPR numbers; bigger lists go through the value-list API."""
MAX_REPORTED = 20
_SEPARATORS = re.compile(r"[,;\t]")
_AFTER_BIRTH_DATE = re.compile(r"([0-9]{6}-?)([0-9]+)")


def masked(typed: str) -> str:
    """A bad line as the page shows it: digits after a birth date (six digits) masked, so a
    CPR number typed slightly wrong is not shown in full either."""
    return _AFTER_BIRTH_DATE.sub(lambda m: m.group(1) + "X" * len(m.group(2)), typed)


class UnreadableFile(ValueError):
    """The file as a whole cannot be used; the message says why, in Danish."""


@dataclass
class CprFile:
    values: list[str] = field(default_factory=list)
    """The parties' URNs, each once, in the file's order."""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    """(line number, what is wrong) for every bad line."""
    lines: int = 0
    """Lines that held a value (good or bad)."""

    @property
    def problems(self) -> list[str]:
        """The bad lines as the page lists them, at most `MAX_REPORTED` and a count of the rest."""
        shown = [f"Linje {n}: {text}" for n, text in self.bad_lines[:MAX_REPORTED]]
        rest = len(self.bad_lines) - MAX_REPORTED
        if rest > 0:
            shown.append(f"… og {rest} linje(r) mere med fejl")
        return shown


def _first_field(line: str) -> str:
    return _SEPARATORS.split(line, maxsplit=1)[0].strip().strip('"').strip("'").strip()


def read_cpr_file(data: bytes) -> CprFile:
    """Every line of the file checked; raises `UnreadableFile` when it is not text or holds
    no CPR number at all."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(too_big_text(len(data)))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("Filen er ikke en tekstfil (CSV i UTF-8)") from None
    found = CprFile()
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        typed = _first_field(line)
        if not typed:
            continue
        if number == 1 and not any(c.isdigit() for c in typed):
            continue  # a heading
        found.lines += 1
        try:
            value = parse_cpr(typed)
        except InvalidCpr as exc:
            shown = masked(typed[:24])
            found.bad_lines.append((number, f"'{shown}' er ikke et CPR-nummer. {exc}"))
            continue
        if value not in seen:
            seen.add(value)
            found.values.append(value)
    if not found.lines:
        raise UnreadableFile("Filen har ingen CPR-numre; skriv ét CPR-nummer på hver linje")
    return found


def too_big_text(size: int | None) -> str:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    got = "" if size is None else f" ({size / (1024 * 1024):.1f} MB)"
    return (
        f"Filen er for stor{got}. Den må højst fylde {limit} MB; større lister sendes "
        "gennem værdiliste-API'et."
    )

"""A business refusal, as the parts' rules raise it: a code (`FejlKode`, one of the part's own)
and a Danish text for a person. Whatever was refused changed nothing."""

from __future__ import annotations

from enum import StrEnum


class Refused(Exception):
    def __init__(self, code: StrEnum, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text

"""Checks of typed text every part's forms make alike."""

from __future__ import annotations

from indbetaling.wire_text import ControlCharacter, free_text


def text_error(text: str, label: str, max_length: int) -> str | None:
    """What is wrong with a free text a form holds (`label`: `Teksten`, `Begrundelsen`): too
    long, or a character a message may not carry; None when nothing is."""
    if len(text) > max_length:
        return f"{label} må højst være {max_length} tegn"
    try:
        free_text(text, label)
    except ControlCharacter as exc:
        return str(exc)
    return None

"""Hardened XML parsing for everything that arrives from outside, outside a SOAP call.

There is one hardened parser in the project, `indbetaling.soap.parsing.parse_xml`: no DTDs, no
entities, no network, no huge trees, and a size limit checked before parsing, so XXE, entity
expansion bombs and oversized bodies are refused before any work. This module offers it to the
code that does not answer with SOAP faults (pushed and published messages, value lists): the
refusal becomes `UnsafeXml`, a `ValueError` whose text says why.
"""

from __future__ import annotations

from lxml import etree

from indbetaling.soap.faults import SoapFault
from indbetaling.soap.parsing import parse_xml as _parse_hardened

DEFAULT_MAX_BYTES = 1_000_000


class UnsafeXml(ValueError):
    """XML that is malformed, too large or uses DTD features; the message says which."""

    def __init__(self, text: str, *, too_large: bool = False) -> None:
        super().__init__(text)
        self.too_large = too_large


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted XML bytes into a root element, or raise `UnsafeXml`."""
    try:
        return _parse_hardened(data, max_bytes)
    except SoapFault as fault:
        raise UnsafeXml(
            f"XML-dokumentet afvises / XML refused: {fault.text}",
            too_large=fault.http_status == 413,
        ) from None

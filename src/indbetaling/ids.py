"""Identities on the wire: party URNs (CPR/CVR), authority CVR numbers, object UUIDs."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

CPR_PREFIX = "urn:oio:cpr-nr:"
CVR_PREFIX = "urn:oio:cvr-nr:"
# [0-9], not \d: \d also matches other scripts' digits ("１２…"), which the XSD refuses
_CPR_URN = re.compile(r"^urn:oio:cpr-nr:([0-9]{10})$")
_CVR_URN = re.compile(r"^urn:oio:cvr-nr:([0-9]{8})$")
_CVR = re.compile(r"^[0-9]{8}$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
UUID_PATTERN = f"^{_UUID.pattern}$"
"""A UUID as the contract's XSD writes it: 8-4-4-4-12 hex digits, nothing around them."""
_CPR_IN_TEXT = re.compile(r"(?<![0-9A-Za-z-])(\d{6})-?\d{4}(?![0-9A-Za-z-])")


class InvalidId(ValueError):
    """An identifier that is not of the form the contract gives; the message says which."""


def parse_cvr(text: str) -> str:
    """An authority's CVR number: exactly eight digits."""
    if not _CVR.match(text):
        raise InvalidId(f"CVR-nummeret '{text[:20]}' skal være otte cifre")
    return text


def parse_part_id(text: str) -> str:
    """A party id: `urn:oio:cpr-nr:DDMMYYXXXX` or `urn:oio:cvr-nr:NNNNNNNN`."""
    if _CPR_URN.match(text) or _CVR_URN.match(text):
        return text
    raise InvalidId(f"PartId '{mask_part_id(text[:40])}' skal være en CPR- eller CVR-URN")


def cvr_urn(cvr: str) -> str:
    return f"{CVR_PREFIX}{cvr}"


def mask_part_id(part_id: str) -> str:
    """Hide the personal part of a CPR URN for logs and lists: keep the birth date only."""
    match = re.search(r"cpr-nr:(\d{6})\d*", part_id)
    if match:
        return f"{CPR_PREFIX}{match.group(1)}-XXXX"
    if re.search(r"\d{10}", part_id):
        return re.sub(r"(\d{6})\d{4}", r"\1-XXXX", part_id)
    return part_id


def mask_cpr_in_text(text: str) -> str:
    """Mask every CPR number (ten digits, or six, a hyphen and four) standing on its own in free
    text, with or without URN; digits inside a longer word, such as a UUID, are left alone."""
    return _CPR_IN_TEXT.sub(r"\1-XXXX", text)


def parse_uuid(text: str, what: str = "Id") -> uuid.UUID:
    """A UUID in its canonical form only (`UUID_PATTERN`, either case), as SOAP's schema has it:
    no braces, no `urn:uuid:`, no missing hyphens, so both wires take the same ids."""
    if not isinstance(text, str) or not _UUID.fullmatch(text):
        raise InvalidId(f"{what} '{str(text)[:40]}' er ikke en gyldig UUID (8-4-4-4-12 hextegn)")
    return uuid.UUID(text)


def _canonical_uuid(value: object) -> object:
    """For pydantic: a UUID object as it is; text only in the canonical form."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError("skal være en UUID på formen 8-4-4-4-12 hextegn")
    return value


WireUuid = Annotated[
    uuid.UUID,
    BeforeValidator(_canonical_uuid),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": UUID_PATTERN}),
]
"""A pydantic field or parameter type for an id on a REST wire: canonical text only."""

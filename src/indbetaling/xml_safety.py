"""The one hardened XML parser for everything that arrives from outside.

No DTD is loaded, no entity is resolved, the network is never touched, huge trees are refused,
and a document with a DOCTYPE is refused outright (that closes XXE and entity bombs). The size
limit is checked before any parsing; the shape limits (`XmlLimits`: elements, attributes per
element and in all, depth, text) right after it, before any schema sees the tree, so the work a
request can cause stays proportional to a small document. A refusal is `UnsafeXml`, a
`ValueError` whose text says why; each wire turns it into its own answer
(`indbetaling.soap.parsing` into a SOAP fault).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from indbetaling.ids import mask_cpr_in_text

DEFAULT_MAX_BYTES = 1_000_000
MAX_REASON_TEXT = 1000
REFUSED_PREFIX = "XML-dokumentet afvises / XML refused: "

MAX_ELEMENTS = 20_000
MAX_ATTRIBUTES_PER_ELEMENT = 32
MAX_ATTRIBUTES = 20_000
MAX_DEPTH = 64
MAX_TEXT_CHARS = 65_536


@dataclass(frozen=True)
class XmlLimits:
    """The largest shape a document from outside may have; attributes include the namespace
    declarations an element adds."""

    elements: int = MAX_ELEMENTS
    attributes_per_element: int = MAX_ATTRIBUTES_PER_ELEMENT
    attributes: int = MAX_ATTRIBUTES
    depth: int = MAX_DEPTH
    text_chars: int = MAX_TEXT_CHARS


DEFAULT_LIMITS = XmlLimits()

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DOCTYPE_REFUSED = "DOCTYPE og entiteter er ikke tilladt / DOCTYPE and entities are refused"


class UnsafeXml(ValueError):
    """XML that is malformed, too large or uses DTD features.

    `reason` says which (Danish / English); the text of the exception is the reason after
    `REFUSED_PREFIX`. `too_large` tells a refusal by size from the others.
    """

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        self.reason = mask_cpr_in_text(reason)[:MAX_REASON_TEXT]
        self.too_large = too_large
        super().__init__(REFUSED_PREFIX + self.reason)


def too_large_text(limit: int) -> str:
    return f"Forespørgslen er større end {limit} bytes / request body exceeds {limit} bytes"


def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, limits: XmlLimits = DEFAULT_LIMITS
) -> etree._Element:
    """Parse untrusted XML bytes into a root element, or raise `UnsafeXml`."""
    if len(data) > max_bytes:
        raise UnsafeXml(too_large_text(max_bytes), too_large=True)
    if not data.strip():
        raise UnsafeXml("Forespørgslen er tom / the request body is empty")
    if _DOCTYPE.search(data):
        raise UnsafeXml(_DOCTYPE_REFUSED)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(
            f"Forespørgslen er ikke velformet XML / body is not well-formed XML: {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot use
        raise UnsafeXml(f"Forespørgslen kan ikke læses som XML / body is not XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXml(_DOCTYPE_REFUSED)
    check_shape(root, limits)
    return root


def check_shape(root: etree._Element, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """Raise `UnsafeXml` naming the first limit of `limits` the tree exceeds (one pass)."""
    elements = 0
    attributes = 0
    depth = 0
    parent_namespaces: list[int] = [0]
    for event, node in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            parent_namespaces.pop()
            _check_text(node.tail, limits)
            continue
        depth += 1
        elements += 1
        namespaces = len(node.nsmap)
        own = len(node.attrib) + max(0, namespaces - parent_namespaces[-1])
        parent_namespaces.append(namespaces)
        attributes += own
        _at_most(depth, limits.depth, "Dokumentet er dybere end {} niveauer", "levels deep")
        _at_most(elements, limits.elements, "Dokumentet har mere end {} elementer", "elements")
        _at_most(
            own,
            limits.attributes_per_element,
            "Et element har mere end {} attributter",
            "attributes on one element",
        )
        _at_most(
            attributes, limits.attributes, "Dokumentet har mere end {} attributter", "attributes"
        )
        _check_text(node.text, limits)
        for value in node.attrib.values():
            _check_text(value, limits)


def _at_most(count: int, limit: int, danish: str, english: str) -> None:
    if count > limit:
        raise UnsafeXml(f"{danish.format(limit)} / more than {limit} {english}")


def _check_text(text: str | None, limits: XmlLimits) -> None:
    if text is not None and len(text) > limits.text_chars:
        raise UnsafeXml(
            f"En tekst er længere end {limits.text_chars} tegn / "
            f"a text is longer than {limits.text_chars} characters"
        )

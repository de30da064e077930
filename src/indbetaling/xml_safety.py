"""The one hardened XML parser for everything that arrives from outside.

No DTD is loaded, no entity is resolved, the network is never touched, huge trees are refused,
and a document with a DOCTYPE is refused outright (that closes XXE and entity bombs). The size
limit is checked before any parsing. A refusal is `UnsafeXml`, a `ValueError` whose text says
why; each wire turns it into its own answer (`indbetaling.soap.parsing` into a SOAP fault).
"""

from __future__ import annotations

import re

from lxml import etree

from indbetaling.ids import mask_cpr_in_text

DEFAULT_MAX_BYTES = 1_000_000
MAX_REASON_TEXT = 1000
REFUSED_PREFIX = "XML-dokumentet afvises / XML refused: "

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


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
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
    return root

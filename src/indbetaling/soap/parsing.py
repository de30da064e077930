"""Hardened XML parsing and the SOAP 1.1 envelope.

Nothing from outside is parsed any other way: no entities are resolved, no DTD is loaded, the
network is never touched, huge trees are refused, and a document with a DOCTYPE is refused
outright (that closes XXE and entity bombs). The body size is limited before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from indbetaling.soap.faults import SOAP_ENV_NS, SoapFault, client_fault

MAX_BODY_BYTES = 1_000_000
"""The largest request body any SOAP endpoint reads (1 MB); larger bodies get a Client fault."""

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"


def too_large_fault(limit: int = MAX_BODY_BYTES) -> SoapFault:
    return client_fault(
        f"Forespørgslen er større end {limit} bytes / request body exceeds {limit} bytes", 413
    )


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


def parse_xml(data: bytes, limit: int = MAX_BODY_BYTES) -> etree._Element:
    """Parse untrusted XML, or raise a Client `SoapFault` saying why not."""
    if len(data) > limit:
        raise too_large_fault(limit)
    if not data.strip():
        raise client_fault("Forespørgslen er tom / the request body is empty")
    if _DOCTYPE.search(data):
        raise client_fault(
            "DOCTYPE og entiteter er ikke tilladt / DOCTYPE and entities are refused"
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise client_fault(
            f"Forespørgslen er ikke velformet XML / body is not well-formed XML: {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot use
        raise client_fault(
            f"Forespørgslen kan ikke læses som XML / body is not XML: {exc}"
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise client_fault(
            "DOCTYPE og entiteter er ikke tilladt / DOCTYPE and entities are refused"
        )
    return root


@dataclass(frozen=True)
class Envelope:
    """A parsed SOAP 1.1 envelope: its header blocks and its one body element."""

    headers: tuple[etree._Element, ...]
    body: etree._Element

    def header(self, namespace: str, local_name: str) -> etree._Element | None:
        tag = f"{{{namespace}}}{local_name}"
        for element in self.headers:
            if element.tag == tag:
                return element
        return None


def read_envelope(data: bytes, limit: int = MAX_BODY_BYTES) -> Envelope:
    """Parse a SOAP 1.1 request envelope, or raise a Client/VersionMismatch `SoapFault`."""
    root = parse_xml(data, limit)
    if root.tag == f"{{{SOAP12_ENV_NS}}}Envelope":
        raise SoapFault("VersionMismatch", "Kun SOAP 1.1 understøttes / only SOAP 1.1 is supported")
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise client_fault(
            f"Roden skal være soap:Envelope ({SOAP_ENV_NS}) / "
            "the root element must be a SOAP 1.1 Envelope"
        )
    header_el = root.find(f"{{{SOAP_ENV_NS}}}Header")
    body_el = root.find(f"{{{SOAP_ENV_NS}}}Body")
    if body_el is None:
        raise client_fault("soap:Body mangler / the SOAP Body is missing")
    children = [child for child in body_el if isinstance(child.tag, str)]
    if len(children) != 1:
        raise client_fault(
            "soap:Body skal indeholde netop ét element / "
            "the SOAP Body must hold exactly one element"
        )
    headers: tuple[etree._Element, ...] = ()
    if header_el is not None:
        headers = tuple(child for child in header_el if isinstance(child.tag, str))
    return Envelope(headers=headers, body=children[0])


def response_envelope(body: etree._Element) -> bytes:
    """A SOAP 1.1 envelope around one response element."""
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body").append(body)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

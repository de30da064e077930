"""The SOAP 1.1 envelope, read with the project's hardened parser (`indbetaling.xml_safety`).

Nothing from outside is parsed any other way; a refusal of the parser becomes a Client fault
(HTTP 413 for a body over the limit), so hostile input never shows up as a server error.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from indbetaling import xml_safety
from indbetaling.soap.faults import SOAP_ENV_NS, SoapFault, client_fault
from indbetaling.xml_safety import UnsafeXml, too_large_text

MAX_BODY_BYTES = xml_safety.DEFAULT_MAX_BYTES
"""The largest request body any SOAP endpoint reads (1 MB); larger bodies get a Client fault."""

SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"


def too_large_fault(limit: int = MAX_BODY_BYTES) -> SoapFault:
    return client_fault(too_large_text(limit), 413)


def parse_xml(data: bytes, limit: int = MAX_BODY_BYTES) -> etree._Element:
    """Parse untrusted XML with the hardened parser, or raise a Client `SoapFault` saying why
    not (HTTP 413 when it is too large)."""
    try:
        return xml_safety.parse_xml(data, max_bytes=limit)
    except UnsafeXml as exc:
        if exc.too_large:
            raise too_large_fault(limit) from None
        raise client_fault(exc.reason) from None


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

"""SOAP 1.1 faults: `Client` for what the caller sent wrong, `Server` for our own failures.

A fault text names what is wrong in Danish and English; it never carries a stack trace, and CPR
numbers in it are masked. Client faults travel with HTTP 400 (or the more specific 401/403/413),
so that hostile or malformed input never shows up as a server error; `Server` faults use 500.
"""

from __future__ import annotations

from typing import Literal

from lxml import etree

from indbetaling.ids import mask_cpr_in_text

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
FaultCode = Literal["Client", "Server", "VersionMismatch", "MustUnderstand"]
MAX_FAULT_TEXT = 1000


class SoapFault(Exception):
    """A SOAP fault to answer with; raise it anywhere below a `SoapService` handler."""

    def __init__(self, code: FaultCode, text: str, http_status: int | None = None) -> None:
        self.code: FaultCode = code
        self.text = mask_cpr_in_text(text)[:MAX_FAULT_TEXT]
        self.http_status = http_status or (500 if code == "Server" else 400)
        super().__init__(f"{code}: {self.text}")


def client_fault(text: str, http_status: int = 400) -> SoapFault:
    return SoapFault("Client", text, http_status)


def server_fault(text: str = "Intern fejl i tjenesten / internal service error") -> SoapFault:
    return SoapFault("Server", text, 500)


def fault_envelope(fault: SoapFault) -> bytes:
    """The SOAP 1.1 envelope carrying `fault`."""
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    element = etree.SubElement(body, f"{{{SOAP_ENV_NS}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(element, "faultstring").text = fault.text
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

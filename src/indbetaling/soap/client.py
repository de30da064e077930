"""The calling side of a contract-first SOAP service: the request envelope with the KOMBIT
headers, and the reading of the answer, both through the service's contract (our WSDL/XSD), so
what goes out and what is taken from an answer is valid against the schema.

The transport stays with the caller (httpx, sync or async, with its token):

    content = request_envelope(contract, operation, {"Indbetaling": {...}}, headers)
    answer = http.post(url, content=content, headers=http_headers(operation, token))
    data = read_answer(contract, operation, answer.status_code, answer.content)

`read_answer` returns the decoded response element (a dict with the wire's field names;
`xs:decimal` as `Decimal`, dates as ISO text), or raises `FaultAnswer` (the service answered a
SOAP fault) or `UnreadableAnswer` (anything else: a proxy's error page, a cut-off or
schema-invalid body). `request_envelope` raises `ValueError` when the request itself is not
valid against the schema: the caller's mistake, never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from indbetaling.ids import mask_cpr_in_text
from indbetaling.soap.contract import Operation, SoapContract
from indbetaling.soap.faults import MAX_FAULT_TEXT, SOAP_CONTENT_TYPE, SOAP_ENV_NS, SoapFault
from indbetaling.soap.headers import (
    AUTHORITY_CONTEXT_NS,
    CALL_CONTEXT_NS,
    REQUEST_HEADER_NS,
    KombitHeaders,
)
from indbetaling.soap.parsing import read_envelope

_FAULT = f"{{{SOAP_ENV_NS}}}Fault"


class FaultAnswer(Exception):
    """The service answered a SOAP fault: `code` is its local part (`Client`, `Server`, …)."""

    def __init__(self, code: str, text: str, http_status: int) -> None:
        self.code = code
        self.text = mask_cpr_in_text(text)[:MAX_FAULT_TEXT]
        self.http_status = http_status
        super().__init__(f"HTTP {http_status}, SOAP-fejl {code}: {self.text}")

    @property
    def is_client(self) -> bool:
        """A `Client` fault: the request (or its token) was refused as it is."""
        return self.code == "Client"


class UnreadableAnswer(Exception):
    """An answer that is neither the operation's response nor a SOAP fault."""


def request_envelope(
    contract: SoapContract,
    operation: Operation,
    body: Mapping[str, Any],
    headers: KombitHeaders,
) -> bytes:
    """The SOAP 1.1 request of `operation`: RequestHeader, AuthorityContext and (when given)
    CallContext as header blocks, `body` as the request element; all validated by the XSD."""
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    header = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Header")
    header.append(
        contract.encode(
            f"{{{REQUEST_HEADER_NS}}}RequestHeader",
            {"TransactionUUID": str(headers.transaction_uuid)},
        )
    )
    header.append(
        contract.encode(
            f"{{{AUTHORITY_CONTEXT_NS}}}AuthorityContext",
            {"MunicipalityCVR": headers.municipality_cvr},
        )
    )
    context = headers.call_context
    if context is not None:
        fields = {
            "OnBehalfOfUser": context.on_behalf_of_user,
            "CallersServiceCallIdentifier": context.callers_service_call_identifier,
            "AccountingInfo": context.accounting_info,
        }
        present = {name: value for name, value in fields.items() if value is not None}
        header.append(contract.encode(f"{{{CALL_CONTEXT_NS}}}CallContext", present))
    etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body").append(
        contract.encode(operation.request, dict(body))
    )
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def http_headers(operation: Operation, token: str) -> dict[str, str]:
    """The HTTP headers of a call of `operation` with a bearer `token`."""
    return {
        "Content-Type": SOAP_CONTENT_TYPE,
        "SOAPAction": f'"{operation.soap_action}"',
        "Authorization": f"Bearer {token}",
    }


def read_answer(
    contract: SoapContract, operation: Operation, http_status: int, content: bytes
) -> dict[str, Any]:
    """The decoded response element of `operation`, or `FaultAnswer` / `UnreadableAnswer`."""
    try:
        body = read_envelope(content).body
    except SoapFault as exc:
        raise UnreadableAnswer(f"HTTP {http_status}: {exc.text}") from None
    if body.tag == _FAULT:
        code = (body.findtext("faultcode") or "").strip().rpartition(":")[2]
        raise FaultAnswer(code or "?", (body.findtext("faultstring") or "").strip(), http_status)
    if http_status != 200:
        raise UnreadableAnswer(f"HTTP {http_status} uden SOAP-fejl")
    if body.tag != operation.response:
        raise UnreadableAnswer(
            f"Svaret er '{str(body.tag)[:200]}', ikke {operation.name}s svar / unexpected answer"
        )
    try:
        return contract.decode(body)
    except SoapFault as exc:
        raise UnreadableAnswer(f"Svaret overholder ikke skemaet: {exc.text}") from None

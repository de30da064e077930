"""Shared SOAP 1.1 machinery: hardened parsing, KOMBIT headers, contract codec, faults, services."""

from indbetaling.soap.body import read_limited_body
from indbetaling.soap.client import (
    FaultAnswer,
    UnreadableAnswer,
    http_headers,
    read_answer,
    request_envelope,
)
from indbetaling.soap.contract import Operation, SoapContract, load_contract
from indbetaling.soap.faults import (
    SOAP_CONTENT_TYPE,
    SOAP_ENV_NS,
    SoapFault,
    client_fault,
    server_fault,
)
from indbetaling.soap.headers import (
    CallContextHeader,
    KombitHeaders,
    check_must_understand,
    read_headers,
)
from indbetaling.soap.parsing import MAX_BODY_BYTES, Envelope, parse_xml, read_envelope
from indbetaling.soap.service import Handler, SoapCall, SoapService, fault_response, wsdl_response

__all__ = [
    "MAX_BODY_BYTES",
    "SOAP_CONTENT_TYPE",
    "SOAP_ENV_NS",
    "CallContextHeader",
    "Envelope",
    "FaultAnswer",
    "Handler",
    "KombitHeaders",
    "Operation",
    "SoapCall",
    "SoapContract",
    "SoapFault",
    "SoapService",
    "UnreadableAnswer",
    "check_must_understand",
    "client_fault",
    "fault_response",
    "http_headers",
    "load_contract",
    "parse_xml",
    "read_answer",
    "read_envelope",
    "read_headers",
    "read_limited_body",
    "request_envelope",
    "server_fault",
    "wsdl_response",
]

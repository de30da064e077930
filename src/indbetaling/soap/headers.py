"""The KOMBIT SOAP headers every call carries: RequestHeader, AuthorityContext, CallContext."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from uuid import UUID

from lxml import etree

from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.soap.contract import SoapContract
from indbetaling.soap.faults import SOAP_ENV_NS, SoapFault, client_fault
from indbetaling.soap.parsing import Envelope

REQUEST_HEADER_NS = "http://kombit.dk/xml/schemas/RequestHeader/1/"
AUTHORITY_CONTEXT_NS = "http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/"
CALL_CONTEXT_NS = "http://serviceplatformen.dk/xml/schemas/CallContext/1/"
UNDERSTOOD_HEADERS = frozenset(
    {
        f"{{{REQUEST_HEADER_NS}}}RequestHeader",
        f"{{{AUTHORITY_CONTEXT_NS}}}AuthorityContext",
        f"{{{CALL_CONTEXT_NS}}}CallContext",
    }
)
_MUST_UNDERSTAND = f"{{{SOAP_ENV_NS}}}mustUnderstand"
_ACTOR = f"{{{SOAP_ENV_NS}}}actor"
_ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"


@dataclass(frozen=True)
class CallContextHeader:
    on_behalf_of_user: str | None = None
    callers_service_call_identifier: str | None = None
    accounting_info: str | None = None


@dataclass(frozen=True)
class KombitHeaders:
    transaction_uuid: UUID
    """RequestHeader/TransactionUUID: the idempotency key of the call."""
    municipality_cvr: str
    """AuthorityContext/MunicipalityCVR: the authority the call is made for."""
    call_context: CallContextHeader | None


def check_must_understand(envelope: Envelope) -> None:
    """Refuse, with a SOAP 1.1 `MustUnderstand` fault, a header block meant for us (no actor,
    or the next one) that carries `soap:mustUnderstand="1"` and is none of our three."""
    for element in envelope.headers:
        if element.get(_MUST_UNDERSTAND, "0").strip() not in ("1", "true"):
            continue
        if element.get(_ACTOR, _ACTOR_NEXT).strip() != _ACTOR_NEXT:
            continue
        if element.tag not in UNDERSTOOD_HEADERS:
            raise SoapFault(
                "MustUnderstand",
                f"SOAP-headeren '{str(element.tag)[:200]}' er markeret mustUnderstand, men "
                "tjenesten kender den ikke / a mandatory header is not understood",
            )


def read_headers(envelope: Envelope, contract: SoapContract) -> KombitHeaders:
    """Validate and read the three headers, or raise a Client fault naming the one at fault."""
    request_header = envelope.header(REQUEST_HEADER_NS, "RequestHeader")
    if request_header is None:
        raise client_fault(
            "SOAP-headeren RequestHeader med TransactionUUID mangler / "
            f"header RequestHeader ({REQUEST_HEADER_NS}) is missing"
        )
    authority = envelope.header(AUTHORITY_CONTEXT_NS, "AuthorityContext")
    if authority is None:
        raise client_fault(
            "SOAP-headeren AuthorityContext med MunicipalityCVR mangler / "
            f"header AuthorityContext ({AUTHORITY_CONTEXT_NS}) is missing"
        )
    request_data = contract.decode(_block(request_header))
    authority_data = contract.decode(_block(authority))
    try:
        transaction_uuid = parse_uuid(
            str(request_data.get("TransactionUUID", "")), "TransactionUUID"
        )
    except InvalidId as exc:
        raise client_fault(str(exc)) from None
    call_context = None
    call_context_el = envelope.header(CALL_CONTEXT_NS, "CallContext")
    if call_context_el is not None:
        data = contract.decode(_block(call_context_el))
        call_context = CallContextHeader(
            on_behalf_of_user=data.get("OnBehalfOfUser"),
            callers_service_call_identifier=data.get("CallersServiceCallIdentifier"),
            accounting_info=data.get("AccountingInfo"),
        )
    return KombitHeaders(
        transaction_uuid=transaction_uuid,
        municipality_cvr=str(authority_data["MunicipalityCVR"]),
        call_context=call_context,
    )


def _block(header: etree._Element) -> etree._Element:
    """A header block without the SOAP envelope's own attributes (mustUnderstand, actor,
    encodingStyle), which belong to SOAP and not to the block's schema."""
    own = [name for name in header.attrib if str(name).startswith(f"{{{SOAP_ENV_NS}}}")]
    if not own:
        return header
    block = copy.deepcopy(header)
    for name in own:
        del block.attrib[name]
    return block

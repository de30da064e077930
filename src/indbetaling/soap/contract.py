"""A service contract loaded from its WSDL: operations, schemas, decode/encode, serving.

`SoapContract` reads a WSDL in `indbetaling/contracts/` and the XSDs it imports, knows every
operation's request and response element, decodes a request element to a dict (xmlschema's
default converter, namespaces stripped; `xs:decimal` as `Decimal`, dates as ISO text) and
encodes a response dict back, both validated against the XSD. It also renders the WSDL and XSDs
for `GET <endpoint>?wsdl` / `?xsd=<name>` with every location pointing at the URL the client used.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree

from indbetaling.contracts import CONTRACTS_DIR
from indbetaling.soap.faults import client_fault

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"


@dataclass(frozen=True)
class Operation:
    name: str
    request: str
    """Clark name `{ns}local` of the request element."""
    response: str
    """Clark name of the response element."""
    soap_action: str


def _local(clark: str) -> str:
    return clark.rsplit("}", 1)[-1]


def _qname(element: etree._Element, prefixed: str) -> str:
    prefix, _, local = prefixed.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else local


class SoapContract:
    """One service's WSDL with its schemas; immutable and safe to share between threads."""

    def __init__(self, wsdl_name: str, directory: Path = CONTRACTS_DIR) -> None:
        self.wsdl_name = wsdl_name
        self.directory = directory
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        self._wsdl = etree.parse(str(directory / wsdl_name), parser).getroot()
        self.target_namespace = str(self._wsdl.get("targetNamespace"))
        self.schema_files: dict[str, str] = {}
        """namespace → XSD file name, as imported by the WSDL."""
        for imp in self._wsdl.iter(f"{{{XSD_NS}}}import"):
            location = imp.get("schemaLocation")
            if location:
                self.schema_files[str(imp.get("namespace"))] = location
        self.schemas: dict[str, xmlschema.XMLSchema] = {
            namespace: xmlschema.XMLSchema(str(directory / name), allow="sandbox", defuse="always")
            for namespace, name in self.schema_files.items()
        }
        self.operations: dict[str, Operation] = self._read_operations()
        self.by_request: dict[str, Operation] = {op.request: op for op in self.operations.values()}

    def _read_operations(self) -> dict[str, Operation]:
        w = self._wsdl
        messages: dict[str, str] = {}
        for message in w.iterfind(f"{{{WSDL_NS}}}message"):
            part = message.find(f"{{{WSDL_NS}}}part")
            if part is not None and part.get("element"):
                messages[str(message.get("name"))] = _qname(part, str(part.get("element")))
        actions: dict[str, str] = {}
        for op in w.iterfind(f"{{{WSDL_NS}}}binding/{{{WSDL_NS}}}operation"):
            soap_op = op.find(f"{{{WSDL_SOAP_NS}}}operation")
            actions[str(op.get("name"))] = (
                "" if soap_op is None else str(soap_op.get("soapAction", ""))
            )
        operations: dict[str, Operation] = {}
        for op in w.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"):
            name = str(op.get("name"))
            input_el = op.find(f"{{{WSDL_NS}}}input")
            output_el = op.find(f"{{{WSDL_NS}}}output")
            if input_el is None or output_el is None:
                continue
            operations[name] = Operation(
                name=name,
                request=messages[_local(_qname(input_el, str(input_el.get("message"))))],
                response=messages[_local(_qname(output_el, str(output_el.get("message"))))],
                soap_action=actions.get(name, ""),
            )
        return operations

    # -- decoding and encoding -------------------------------------------------------------

    def schema_for(self, clark: str) -> xmlschema.XMLSchema | None:
        namespace = clark[1:].split("}", 1)[0] if clark.startswith("{") else ""
        return self.schemas.get(namespace)

    def operation_for(self, body: etree._Element) -> Operation:
        """The operation a request body element asks for, or a Client fault naming it."""
        tag = str(body.tag)
        operation = self.by_request.get(tag)
        if operation is None:
            known = ", ".join(sorted(_local(op.request) for op in self.operations.values()))
            raise client_fault(
                f"Ukendt operation/element '{tag}'; tjenesten kender {known} i "
                f"navnerummet {self._body_namespace} / unknown request element"
            )
        return operation

    @staticmethod
    def check_soap_action(operation: Operation, soap_action: str | None) -> None:
        """Refuse a `SOAPAction` HTTP header that names another operation than the body.

        The value may be quoted (SOAP 1.1, WS-I BP R1109); an absent or empty one leaves the
        body element to say which operation is meant."""
        given = (soap_action or "").strip()
        if len(given) >= 2 and given[0] == given[-1] == '"':
            given = given[1:-1].strip()
        if given and given != operation.soap_action:
            raise client_fault(
                f"SOAPAction '{given[:200]}' svarer ikke til operationen {operation.name} "
                f"('{operation.soap_action}') / the SOAPAction does not match the body's operation"
            )

    @cached_property
    def _body_namespace(self) -> str:
        first = next(iter(self.operations.values()))
        return first.request[1:].split("}", 1)[0]

    def decode(self, element: etree._Element) -> dict[str, Any]:
        """Validate and decode an element of one of our schemas, or raise a Client fault."""
        tag = str(element.tag)
        schema = self.schema_for(tag)
        if schema is None:
            raise client_fault(f"Elementet '{tag}' er ukendt / unknown element")
        # The instance may reach no resource at all (no xsi:schemaLocation hints, no files).
        raw: Any = element
        source = xmlschema.XMLResource(raw, allow="none")
        # The first error is enough to refuse, and collecting them all costs far more than
        # the document is large.
        error = next(iter(schema.iter_errors(source)), None)
        if error is not None:
            raise client_fault(
                "Forespørgslen overholder ikke skemaet / request is schema-invalid: "
                f"{error.path}: {error.reason}"
            )
        data = schema.decode(source, strip_namespaces=True, validation="skip")
        return data if isinstance(data, dict) else {}

    def encode(self, clark: str, data: dict[str, Any]) -> etree._Element:
        """Encode and validate a response dict as element `clark`; raises on invalid data.

        The dict's keys may come in any order (stored answers have sorted keys) and empty
        lists stand for absent repeated elements."""
        schema = self.schema_for(clark)
        if schema is None:
            raise ValueError(f"no schema for {clark}")
        namespace = clark[1:].split("}", 1)[0]
        element_decl = schema.elements[clark.rsplit("}", 1)[-1]]
        encoded: Any = schema.encode(
            in_schema_order(element_decl, data),
            path=clark,
            namespaces={"": namespace},
            etree_element_class=etree.Element,
            indent=0,
            validation="strict",
        )
        element: etree._Element = encoded
        for node in element.iter():
            if len(node):
                node.text = None
            node.tail = None
        return element

    # -- serving -------------------------------------------------------------------------

    def wsdl_document(self, address: str) -> bytes:
        """The WSDL with `soap:address` = `address` and its schemas inlined.

        A client that refuses external references (zeep's `forbid_external` also refuses
        imports over HTTP) can use it as it is; the XSDs stay available at `?xsd=<name>`.
        """
        wsdl = copy.deepcopy(self._wsdl)
        for soap_address in wsdl.iter(f"{{{WSDL_SOAP_NS}}}address"):
            soap_address.set("location", address)
        types = wsdl.find(f"{{{WSDL_NS}}}types")
        if types is not None:
            for child in list(types):
                types.remove(child)
            for name in self.schema_files.values():
                schema = self._schema_root(name)
                # A new element that declares every prefix of the schema: the prefixes used
                # only inside attribute values (type="tns:...") must survive the move.
                inlined = etree.SubElement(types, schema.tag, dict(schema.attrib), schema.nsmap)
                inlined.extend(list(schema))
        return etree.tostring(wsdl, xml_declaration=True, encoding="utf-8")

    def _schema_root(self, name: str) -> etree._Element:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
        )
        return etree.parse(str(self.directory / name), parser).getroot()

    def xsd_document(self, name: str, address: str) -> bytes | None:
        """One of the XSDs this WSDL imports, or None for any other name."""
        if name not in self.schema_files.values():
            return None
        root = self._schema_root(name)
        self._point_imports(root, address)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")

    def _point_imports(self, root: etree._Element, address: str) -> None:
        for tag in ("import", "include"):
            for element in root.iter(f"{{{XSD_NS}}}{tag}"):
                location = element.get("schemaLocation")
                if location and "/" not in location:
                    element.set("schemaLocation", f"{address}?xsd={location}")


@cache
def load_contract(wsdl_name: str) -> SoapContract:
    """The contract of a WSDL shipped in `indbetaling/contracts/`, loaded once per process."""
    return SoapContract(wsdl_name)


def in_schema_order(xsd_element: Any, value: Any) -> Any:
    """`value` with every mapping's keys in the order of the element's sequence and without
    empty lists: xmlschema writes children in the order it gets them, and an empty element for
    an empty list. Unknown keys stay at the end, so that encoding refuses them."""
    if isinstance(value, list):
        return [in_schema_order(xsd_element, item) for item in value]
    if not isinstance(value, dict) or not xsd_element.type.has_complex_content():
        return value
    children = {child.local_name: child for child in xsd_element.type.content.iter_elements()}
    present = {k: v for k, v in value.items() if v != []}
    ordered = {
        name: in_schema_order(child, present[name])
        for name, child in children.items()
        if name in present
    }
    return ordered | {k: v for k, v in present.items() if k not in children}

"""Value-list operations in KOMBIT's `VaerdilisteOperationer.xsd`: read requests, write answers.

Requests (`OpretInput`, `TilfoejVaerdierInput`, `FjernVaerdierInput`, `LaesInput`, `ListInput`,
`SoegInput`, `SletInput`) come bare or in a SOAP 1.1 Body; they are parsed with hardened lxml
and validated against the XSD before anything is read. Answers are the matching `…Output`
elements with `StandardRetur`, in a SOAP envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from indbetaling.besked import SD_NS, InvalidMessage, vaerdiliste_schema, validate
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.service import Beskedfordeler, BeskedfordelerError
from indbetaling.xml_safety import parse_xml

VL_NS = "urn:oio:sts:beskedfordeler:vaerdiliste:1.0.0"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_REQUEST_BYTES = 16_000_000
_V = f"{{{VL_NS}}}"
_S = f"{{{SD_NS}}}"


@dataclass(frozen=True)
class SoapAnswer:
    body: bytes
    status: int


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _envelope(output: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soapenv": SOAP_ENV_NS})
    _sub(env, f"{{{SOAP_ENV_NS}}}Body").append(output)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def _output(name: str, status: int, text: str | None = None) -> etree._Element:
    root = etree.Element(f"{_V}{name}", nsmap={"vl": VL_NS, "sd": SD_NS})
    retur = _sub(root, f"{_S}StandardRetur")
    _sub(retur, f"{_S}StatusKode", str(status))
    if text:
        _sub(retur, f"{_S}FejlbeskedTekst", text)
    return root


def _registrering(parent: etree._Element, tag: str, info: Any, values: list[str]) -> None:
    reg = _sub(parent, tag)
    fra = _sub(reg, f"{_S}FraTidspunkt")
    _sub(fra, f"{_S}TidsstempelDatoTid", datetime.now(UTC).isoformat())
    _sub(reg, f"{_S}LivscyklusKode", "Opstaaet")
    attributter = _sub(reg, f"{_V}AttributListe")
    egenskab = _sub(attributter, f"{_V}Egenskab")
    liste = _sub(egenskab, f"{_V}Vaerdiliste")
    _sub(liste, f"{_V}Navn", info.name)
    for value in values:
        _sub(liste, f"{_V}Vaerdi", value)
    virkning = _sub(egenskab, f"{_S}Virkning")
    aktoer = _sub(virkning, f"{_S}AktoerRef")
    _sub(aktoer, f"{_S}UUIDIdentifikator", info.owner_id or "00000000-0000-0000-0000-000000000000")
    _sub(virkning, f"{_S}AktoerTypeKode", "ItSystem")
    _sub(reg, f"{_V}TilstandListe")
    _sub(reg, f"{_V}RelationListe")


def _operation(root: etree._Element) -> etree._Element:
    if root.tag == f"{{{SOAP_ENV_NS}}}Envelope":
        body = root.find(f"{{{SOAP_ENV_NS}}}Body")
        children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
        if len(children) != 1:
            raise InvalidMessage("SOAP Body skal indeholde netop én operation")
        return children[0]
    return root


def _uuid(op: etree._Element) -> str:
    return (op.findtext(f"{_S}UUIDIdentifikator") or "").strip()


def _values(op: etree._Element, tag: str) -> list[str]:
    return [(v.text or "").strip() for v in op.iter(tag)]


def handle(bf: Beskedfordeler, caller: str, data: bytes) -> SoapAnswer:
    """Answer one value-list request; every refusal is an answer with StatusKode ≠ 20."""
    try:
        op = _operation(parse_xml(data, max_bytes=MAX_REQUEST_BYTES))
    except ValueError as exc:
        return SoapAnswer(_envelope(_output("OpretOutput", 40, str(exc)[:500])), 40)
    name = etree.QName(op).localname
    handler = _HANDLERS.get(name) if etree.QName(op).namespace == VL_NS else None
    output_name = name.replace("Input", "Output")
    if handler is None:
        text = f"Ukendt værdiliste-operation {name[:60]}"
        return SoapAnswer(_envelope(_output("OpretOutput", 40, text)), 40)
    try:
        validate(vaerdiliste_schema(), op)
        output = handler(bf, caller, op)
    except InvalidMessage as exc:
        return SoapAnswer(_envelope(_output(output_name, 40, str(exc)[:500])), 40)
    except BeskedfordelerError as exc:
        return SoapAnswer(_envelope(_output(output_name, exc.status, str(exc)[:500])), exc.status)
    return SoapAnswer(_envelope(output), 20)


def _opret(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    names = [(n.text or "").strip() for n in op.iter(f"{_V}Navn")]
    if len(names) != 1:
        raise InvalidMessage("OpretInput skal have netop én Egenskab med Vaerdiliste/Navn")
    note = op.findtext(f"{_S}NoteTekst")
    list_id = service.create_value_list(bf, caller, names[0], _values(op, f"{_V}Vaerdi"), note=note)
    info, values = service.read_value_list(bf, list_id, limit=1000, caller=caller)
    output = _output("OpretOutput", 20)
    liste = _sub(output, f"{_V}Vaerdiliste")
    _sub(liste, f"{_S}UUIDIdentifikator", list_id)
    _registrering(liste, f"{_V}Registrering", info, values)
    return output


def _tilfoej(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    service.add_values(bf, _uuid(op), _values(op, f"{_V}Vaerdier"), caller)
    return _output("TilfoejVaerdierOutput", 20)


def _fjern(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    service.remove_values(bf, _uuid(op), _values(op, f"{_V}Vaerdier"), caller)
    return _output("FjernVaerdierOutput", 20)


def _laes(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    info, values = service.read_value_list(bf, _uuid(op), caller=caller)
    output = _output("LaesOutput", 20)
    _registrering(_sub(output, f"{_V}LaesResultat"), f"{_V}Registrering", info, values)
    return output


def _list(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    wanted = [(u.text or "").strip() for u in op.iterfind(f"{_S}UUIDIdentifikator")]
    output = _output("ListOutput", 20)
    for info in service.list_value_lists(bf, wanted, caller):
        _, values = service.read_value_list(bf, info.list_id, caller=caller)
        _registrering(_sub(output, f"{_V}LaesResultat"), f"{_V}Registrering", info, values)
    return output


def _soeg(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    first = int(op.findtext(f"{_S}FoersteResultatReference") or 0)
    limit = int(op.findtext(f"{_S}MaksimalAntalKvantitet") or 100)
    name = op.findtext(
        f"{_V}SoegObjekt/{_V}SoegAttributListe/{_V}SoegEgenskab/{_V}Vaerdiliste/{_V}Navn"
    )
    found = service.search_value_lists(bf, name, first, limit, caller)
    output = _output("SoegOutput", 20)
    if found:
        id_liste = _sub(output, f"{_S}IdListe")
        for list_id in found:
            _sub(id_liste, f"{_S}UUIDIdentifikator", list_id)
    return output


def _slet(bf: Beskedfordeler, caller: str, op: etree._Element) -> etree._Element:
    service.delete_value_list(bf, _uuid(op), caller)
    return _output("SletOutput", 20)


_HANDLERS: dict[str, Callable[[Beskedfordeler, str, etree._Element], etree._Element]] = {
    "OpretInput": _opret,
    "TilfoejVaerdierInput": _tilfoej,
    "FjernVaerdierInput": _fjern,
    "LaesInput": _laes,
    "ListInput": _list,
    "SoegInput": _soeg,
    "SletInput": _slet,
}

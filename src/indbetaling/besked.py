"""The `Haendelsesbesked` of KOMBIT's Beskedfordeler, carrying a `FordringTilIndbetaling`.

CONTRACT §6: the envelope (`urn:oio:besked:kuvert:1.0`, KOMBIT's `Beskedkuvert.xsd`) holds
`Filtreringsdata` (message type, one `RelateretObjekt` per liable party, one `ObjektRegistrering`
for the claim), `Leveranceinformation` and, as `Beskeddata`, the claim in our namespace.
Envelopes we build always validate against the KOMBIT schema; envelopes we read are parsed with
hardened lxml and validated before anything is taken from them.

Identifiers that are words rather than UUIDs (`ObjektHandling` `Oprettet`, `ObjektType` `Part`,
`ObjektRolle` `Haefter`, an authority's `urn:oio:cvr-nr:…`) are carried as `URNIdentifikator`;
UUIDs as `UUIDIdentifikator`, the two choices of KOMBIT's `UnikIdType`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from uuid import UUID

from lxml import etree

from indbetaling import ids, money
from indbetaling.fordring import DEBITOR_NS, ClaimStatus, ClaimView, LiableParty
from indbetaling.xml_safety import DEFAULT_MAX_BYTES, UnsafeXml, parse_xml

KUVERT_NS = "urn:oio:besked:kuvert:1.0"
SD_NS = "urn:oio:sagdok:3.0.0"
STS_NS = "urn:oio:sts:1.0.0"
BESKEDFORDELER_NS = "urn:oio:sts:beskedfordeler:1.0.0"

BESKEDTYPE_FORDRING_TIL_INDBETALING = "35b47ed8-f499-4fcd-b6c4-2b7df83b7291"
BESKED_VERSION = "1.0"
OBJEKTTYPE_PART = "Part"
OBJEKTROLLE_HAEFTER = "Haefter"
OBJEKTTYPE_FORDRING = "Fordring"

SCHEMA_DIR = Path(__file__).parent / "contracts" / "beskedfordeler"

_K = f"{{{KUVERT_NS}}}"
_S = f"{{{SD_NS}}}"
_D = f"{{{DEBITOR_NS}}}"


class ObjectAction(StrEnum):
    """`ObjektHandling`: what happened to the claim."""

    OPRETTET = "Oprettet"
    AENDRET = "Aendret"
    AFSLUTTET = "Afsluttet"


class InvalidMessage(ValueError):
    """A message that is not a valid envelope (or body); the text says what is wrong."""


@dataclass(frozen=True)
class RelatedObject:
    object_id: str
    object_type: str
    role: str | None


@dataclass(frozen=True)
class ObjectRegistration:
    object_id: str | None
    object_type: str | None
    action: str | None
    authority: str | None


@dataclass(frozen=True)
class FilterData:
    """`Filtreringsdata`: what subscriptions filter on."""

    message_type: str
    related_objects: tuple[RelatedObject, ...]
    registrations: tuple[ObjectRegistration, ...]

    @property
    def authority_cvrs(self) -> frozenset[str]:
        """The CVR numbers of the authorities responsible for the registered objects."""
        return frozenset(
            r.authority.removeprefix(ids.CVR_PREFIX)
            for r in self.registrations
            if r.authority is not None
        )

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(r.action for r in self.registrations if r.action is not None)


@dataclass(frozen=True)
class Envelope:
    """A parsed `Haendelsesbesked`: its ids, filtering data, delivery data and raw XML."""

    besked_id: str
    version: str
    filter_data: FilterData
    transaction_id: str | None
    created_at: datetime | None
    source_system: str | None
    body: tuple[etree._Element, ...]
    xml: bytes
    """The `Haendelsesbesked` element serialised on its own (what mailboxes carry)."""
    claim: ClaimView | None
    """The `FordringTilIndbetaling` in Beskeddata; None for other message types."""


# ---------------------------------------------------------------------------------------------
# Schemas


class Schema:
    """One of KOMBIT's XSDs, compiled by libxml2 (fast enough to check every message).

    `validate` raises `InvalidMessage` with the first error. A lock guards the compiled schema,
    which keeps an error log of its own and so must not validate in two threads at once.
    """

    def __init__(self, path: Path) -> None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        self._schema = etree.XMLSchema(etree.parse(str(path), parser))
        self._lock = threading.Lock()

    def validate(self, element: etree._Element) -> None:
        with self._lock:
            if self._schema.validate(element):
                return
            error = self._schema.error_log.last_error
        if error is None:
            raise InvalidMessage("Beskeden overholder ikke skemaet")
        where = error.path or f"linje {error.line}"
        reason = error.message or "ugyldig"
        raise InvalidMessage(f"Beskeden overholder ikke skemaet ved {where}: {reason}"[:500])


@cache
def _schema(name: str) -> Schema:
    return Schema(SCHEMA_DIR / name)


def kuvert_schema() -> Schema:
    """KOMBIT's `Beskedkuvert.xsd` (element `Haendelsesbesked`)."""
    return _schema("Beskedkuvert.xsd")


def anvendersystem_schema() -> Schema:
    """KOMBIT's `AnvendersystemOperationer.xsd` (ModtagBeskedInput/Output)."""
    return _schema("AnvendersystemOperationer.xsd")


def beskedfordeler_schema() -> Schema:
    """KOMBIT's `BeskedfordelerOperationer.xsd` (AfsendBeskedInput/Output)."""
    return _schema("BeskedfordelerOperationer.xsd")


def vaerdiliste_schema() -> Schema:
    """KOMBIT's `VaerdilisteOperationer.xsd` (the value-list operations)."""
    return _schema("VaerdilisteOperationer.xsd")


def validate(schema: Schema, element: etree._Element) -> None:
    """Raise `InvalidMessage` with the first schema error, in terms a client can act on."""
    schema.validate(element)


# ---------------------------------------------------------------------------------------------
# Building


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _unik_id(parent: etree._Element, tag: str, value: str) -> etree._Element:
    element = _sub(parent, tag)
    try:
        UUID(value)
    except ValueError:
        _sub(element, f"{_S}URNIdentifikator", value)
    else:
        _sub(element, f"{_S}UUIDIdentifikator", value)
    return element


def _timestamp(parent: etree._Element, tag: str, when: datetime) -> None:
    element = _sub(parent, tag)
    _sub(element, f"{_S}TidsstempelDatoTid", when.astimezone(UTC).isoformat())


def claim_element(claim: ClaimView) -> etree._Element:
    """`FordringTilIndbetaling` in our namespace, fields in CONTRACT §3's order."""
    root = etree.Element(f"{_D}FordringTilIndbetaling", nsmap={None: DEBITOR_NS})
    _sub(root, f"{_D}FordringId", str(claim.claim_id))
    _sub(root, f"{_D}DebitorkontoId", str(claim.account_id))
    _sub(root, f"{_D}MyndighedCVR", claim.authority_cvr)
    _sub(root, f"{_D}DebitorkontoTypeKode", claim.account_type_code)
    _sub(root, f"{_D}KravtypeKode", claim.claim_type_code)
    _sub(root, f"{_D}Hovedstol", money.format_ore(claim.principal))
    _sub(root, f"{_D}Restance", money.format_ore(claim.restance))
    _sub(root, f"{_D}Forfaldsdato", claim.due_date.isoformat())
    _sub(root, f"{_D}SidsteRettidigeBetalingsdato", claim.last_timely_payment_date.isoformat())
    if claim.payment_period_from is not None:
        _sub(root, f"{_D}BetalingsperiodeFra", claim.payment_period_from.isoformat())
    if claim.payment_period_to is not None:
        _sub(root, f"{_D}BetalingsperiodeTil", claim.payment_period_to.isoformat())
    kreds = _sub(root, f"{_D}Haefterkreds")
    for party in claim.liable_parties:
        haefter = _sub(kreds, f"{_D}Haefter")
        _sub(haefter, f"{_D}PartId", party.part_id)
        _sub(haefter, f"{_D}HaefterRolle", party.role)
    _sub(root, f"{_D}Status", claim.status.value)
    return root


def build_envelope_element(
    claim: ClaimView,
    *,
    action: ObjectAction,
    transaction_id: UUID,
    source_system: UUID,
    besked_id: UUID,
    created_at: datetime,
) -> etree._Element:
    nsmap = {"kuvert": KUVERT_NS, "sd": SD_NS}
    root = etree.Element(f"{_K}Haendelsesbesked", nsmap=nsmap)
    _unik_id(root, f"{_K}BeskedId", str(besked_id))
    _sub(root, f"{_K}BeskedVersion", BESKED_VERSION)
    kuvert = _sub(root, f"{_K}Beskedkuvert")
    filtrering = _sub(kuvert, f"{_K}Filtreringsdata")
    _unik_id(filtrering, f"{_K}Beskedtype", BESKEDTYPE_FORDRING_TIL_INDBETALING)
    for party in claim.liable_parties:
        related = _sub(filtrering, f"{_K}RelateretObjekt")
        _unik_id(related, f"{_K}ObjektId", party.part_id)
        _unik_id(related, f"{_K}ObjektType", OBJEKTTYPE_PART)
        _unik_id(related, f"{_K}ObjektRolle", OBJEKTROLLE_HAEFTER)
    registrering = _sub(filtrering, f"{_K}ObjektRegistrering")
    _unik_id(registrering, f"{_K}ObjektAnsvarligMyndighed", ids.cvr_urn(claim.authority_cvr))
    _unik_id(registrering, f"{_K}ObjektId", str(claim.claim_id))
    _unik_id(registrering, f"{_K}ObjektType", OBJEKTTYPE_FORDRING)
    _unik_id(registrering, f"{_K}ObjektHandling", action.value)
    levering = _sub(kuvert, f"{_K}Leveranceinformation")
    _timestamp(levering, f"{_K}Dannelsestidspunkt", created_at)
    _unik_id(levering, f"{_K}TransaktionsId", str(transaction_id))
    kilde = _sub(levering, f"{_K}Kildesystem")
    _sub(kilde, f"{_S}UUIDIdentifikator", str(source_system))
    data = _sub(root, f"{_K}Beskeddata")
    data.append(claim_element(claim))
    return root


def build_envelope(
    claim: ClaimView,
    *,
    action: ObjectAction,
    transaction_id: UUID,
    source_system: UUID,
    besked_id: UUID | None = None,
    created_at: datetime | None = None,
) -> bytes:
    """A FordringTilIndbetaling `Haendelsesbesked` as UTF-8 XML bytes.

    `besked_id` defaults to `transaction_id`: one message per change, so a re-sent change keeps
    its BeskedId and receivers can deduplicate it.
    """
    root = build_envelope_element(
        claim,
        action=action,
        transaction_id=transaction_id,
        source_system=source_system,
        besked_id=besked_id or transaction_id,
        created_at=created_at or datetime.now(UTC),
    )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def wrap(operation_ns: str, operation: str, envelope_xml: bytes) -> bytes:
    """Wrap a `Haendelsesbesked` in `<operation>` (e.g. ModtagBeskedInput, AfsendBeskedInput)."""
    inner = parse_xml(envelope_xml, max_bytes=DEFAULT_MAX_BYTES)
    root = etree.Element(f"{{{operation_ns}}}{operation}", nsmap={"op": operation_ns})
    root.append(inner)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def modtag_besked_input(envelope_xml: bytes) -> bytes:
    """The body of a push (`BeskedFaaTilsendt`): `ModtagBeskedInput` around the envelope."""
    return wrap(STS_NS, "ModtagBeskedInput", envelope_xml)


def afsend_besked_input(envelope_xml: bytes) -> bytes:
    """The body of a publish (`BeskedAfsend`): `AfsendBeskedInput` around the envelope."""
    return wrap(BESKEDFORDELER_NS, "AfsendBeskedInput", envelope_xml)


def standard_retur(
    operation_ns: str, operation: str, status: int, error_text: str | None = None
) -> bytes:
    """`<operation><sd:StandardRetur><sd:StatusKode>…` (KOMBIT's `BasicOutputType`)."""
    root = etree.Element(f"{{{operation_ns}}}{operation}", nsmap={"op": operation_ns, "sd": SD_NS})
    retur = _sub(root, f"{_S}StandardRetur")
    _sub(retur, f"{_S}StatusKode", str(status))
    if error_text:
        _sub(retur, f"{_S}FejlbeskedTekst", error_text)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def modtag_besked_output(status: int, error_text: str | None = None) -> bytes:
    return standard_retur(STS_NS, "ModtagBeskedOutput", status, error_text)


def afsend_besked_output(status: int, error_text: str | None = None) -> bytes:
    return standard_retur(BESKEDFORDELER_NS, "AfsendBeskedOutput", status, error_text)


def read_status_code(xml: bytes) -> int | None:
    """The `StandardRetur/StatusKode` of an answer, or None when it has none."""
    return read_standard_retur(xml)[0]


def read_standard_retur(xml: bytes) -> tuple[int | None, str | None]:
    """An answer's `StandardRetur`: its StatusKode (None when it has none) and its
    FejlbeskedTekst (None when it has none)."""
    try:
        root = parse_xml(xml)
    except UnsafeXml:
        return None, None
    retur = root.find(f"{_S}StandardRetur")
    if retur is None:
        return None, None
    code = retur.findtext(f"{_S}StatusKode")
    text = (retur.findtext(f"{_S}FejlbeskedTekst") or "").strip() or None
    if code is None or not code.strip().isdigit():
        return None, text
    return int(code), text


# ---------------------------------------------------------------------------------------------
# Parsing


def _unik_text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    for child in element:
        if child.tag in (f"{_S}UUIDIdentifikator", f"{_S}URNIdentifikator"):
            return (child.text or "").strip()
    return None


def _require_unik(parent: etree._Element, tag: str, what: str) -> str:
    value = _unik_text(parent.find(tag))
    if not value:
        raise InvalidMessage(f"{what} mangler")
    return value


def _find_envelope(root: etree._Element) -> etree._Element:
    if root.tag == f"{_K}Haendelsesbesked":
        return root
    if root.tag in (f"{{{STS_NS}}}ModtagBeskedInput", f"{{{BESKEDFORDELER_NS}}}AfsendBeskedInput"):
        inner = root.find(f"{_K}Haendelsesbesked")
        if inner is not None and len(root) == 1:
            return inner
    raise InvalidMessage(
        "Forventede Haendelsesbesked, ModtagBeskedInput eller AfsendBeskedInput, "
        f"fik {etree.QName(root).localname}"
    )


def parse_envelope(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Envelope:
    """Read a `Haendelsesbesked` (bare, or inside ModtagBeskedInput/AfsendBeskedInput).

    Hostile or malformed XML, and anything not valid against KOMBIT's schemas, raises
    `InvalidMessage` (or `UnsafeXml`, a subclass of ValueError).
    """
    root = parse_xml(data, max_bytes=max_bytes)
    envelope = _find_envelope(root)
    if envelope is root:
        validate(kuvert_schema(), envelope)
    elif root.tag == f"{{{STS_NS}}}ModtagBeskedInput":
        validate(anvendersystem_schema(), root)
    else:
        validate(beskedfordeler_schema(), root)
    return _read_envelope(envelope)


def _read_envelope(envelope: etree._Element) -> Envelope:
    besked_id = _require_unik(envelope, f"{_K}BeskedId", "BeskedId")
    version = (envelope.findtext(f"{_K}BeskedVersion") or "").strip()
    filtrering = envelope.find(f"{_K}Beskedkuvert/{_K}Filtreringsdata")
    levering = envelope.find(f"{_K}Beskedkuvert/{_K}Leveranceinformation")
    if filtrering is None or levering is None:  # the schema requires both
        raise InvalidMessage("Beskedkuvert mangler Filtreringsdata eller Leveranceinformation")
    related = tuple(
        RelatedObject(
            object_id=_require_unik(r, f"{_K}ObjektId", "RelateretObjekt/ObjektId"),
            object_type=_require_unik(r, f"{_K}ObjektType", "RelateretObjekt/ObjektType"),
            role=_unik_text(r.find(f"{_K}ObjektRolle")),
        )
        for r in filtrering.iterfind(f"{_K}RelateretObjekt")
    )
    registrations = tuple(
        ObjectRegistration(
            object_id=_unik_text(r.find(f"{_K}ObjektId")),
            object_type=_unik_text(r.find(f"{_K}ObjektType")),
            action=_unik_text(r.find(f"{_K}ObjektHandling")),
            authority=_unik_text(r.find(f"{_K}ObjektAnsvarligMyndighed")),
        )
        for r in filtrering.iterfind(f"{_K}ObjektRegistrering")
    )
    filter_data = FilterData(
        message_type=_require_unik(filtrering, f"{_K}Beskedtype", "Beskedtype").lower(),
        related_objects=related,
        registrations=registrations,
    )
    created_text = levering.findtext(f"{_K}Dannelsestidspunkt/{_S}TidsstempelDatoTid")
    created_at = _parse_datetime(created_text) if created_text else None
    source = levering.find(f"{_K}Kildesystem")
    source_system = (
        (source.findtext(f"{_S}UUIDIdentifikator") or "").strip() or None
        if source is not None
        else None
    )
    body = tuple(
        child
        for data in envelope.iterfind(f"{_K}Beskeddata")
        for child in data
        if isinstance(child.tag, str)
    )
    claim = None
    if filter_data.message_type == BESKEDTYPE_FORDRING_TIL_INDBETALING:
        claims = [b for b in body if b.tag == f"{_D}FordringTilIndbetaling"]
        if len(claims) != 1:
            raise InvalidMessage("Beskeddata skal indeholde netop én FordringTilIndbetaling")
        claim = claim_from_element(claims[0])
    return Envelope(
        besked_id=besked_id,
        version=version,
        filter_data=filter_data,
        transaction_id=_unik_text(levering.find(f"{_K}TransaktionsId")),
        created_at=created_at,
        source_system=source_system,
        body=body,
        xml=bytes(etree.tostring(envelope, encoding="UTF-8")),
        claim=claim,
    )


def _parse_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidMessage(f"Tidspunktet '{text[:40]}' er ikke et gyldigt tidspunkt") from None


def _text(parent: etree._Element, name: str, *, required: bool = True) -> str | None:
    value = parent.findtext(f"{_D}{name}")
    if value is None or not value.strip():
        if required:
            raise InvalidMessage(f"FordringTilIndbetaling/{name} mangler")
        return None
    return value.strip()


def _required(parent: etree._Element, name: str) -> str:
    value = _text(parent, name)
    if value is None:  # pragma: no cover - _text raises when a required field is missing
        raise InvalidMessage(f"FordringTilIndbetaling/{name} mangler")
    return value


def _date(parent: etree._Element, name: str, *, required: bool = True) -> date | None:
    value = _text(parent, name, required=required)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(
            f"FordringTilIndbetaling/{name} '{value[:20]}' er ikke en dato"
        ) from None


def _required_date(parent: etree._Element, name: str) -> date:
    value = _date(parent, name)
    if value is None:  # pragma: no cover - _date raises when a required field is missing
        raise InvalidMessage(f"FordringTilIndbetaling/{name} mangler")
    return value


def _amount(parent: etree._Element, name: str) -> int:
    try:
        ore = money.parse_ore(_required(parent, name))
    except money.InvalidAmount as exc:
        raise InvalidMessage(f"FordringTilIndbetaling/{name}: {exc}") from None
    if ore < 0:
        raise InvalidMessage(f"FordringTilIndbetaling/{name} må ikke være negativ")
    return ore


def claim_from_element(element: etree._Element) -> ClaimView:
    """Read a `FordringTilIndbetaling` element; raises `InvalidMessage` on bad content."""
    try:
        parties = tuple(
            LiableParty(
                part_id=ids.parse_part_id(_required(h, "PartId")),
                role=_required(h, "HaefterRolle"),
            )
            for h in element.iterfind(f"{_D}Haefterkreds/{_D}Haefter")
        )
        if not parties:
            raise InvalidMessage("FordringTilIndbetaling/Haefterkreds skal have mindst én Haefter")
        status_text = _required(element, "Status")
        if status_text not in ClaimStatus.__members__:
            raise InvalidMessage(f"FordringTilIndbetaling/Status '{status_text[:20]}' er ukendt")
        return ClaimView(
            claim_id=ids.parse_uuid(_required(element, "FordringId"), "FordringId"),
            account_id=ids.parse_uuid(_required(element, "DebitorkontoId"), "DebitorkontoId"),
            authority_cvr=ids.parse_cvr(_required(element, "MyndighedCVR")),
            account_type_code=_required(element, "DebitorkontoTypeKode"),
            claim_type_code=_required(element, "KravtypeKode"),
            principal=_amount(element, "Hovedstol"),
            restance=_amount(element, "Restance"),
            due_date=_required_date(element, "Forfaldsdato"),
            last_timely_payment_date=_required_date(element, "SidsteRettidigeBetalingsdato"),
            payment_period_from=_date(element, "BetalingsperiodeFra", required=False),
            payment_period_to=_date(element, "BetalingsperiodeTil", required=False),
            liable_parties=parties,
            status=ClaimStatus(status_text),
        )
    except ids.InvalidId as exc:
        raise InvalidMessage(f"FordringTilIndbetaling: {exc}") from None

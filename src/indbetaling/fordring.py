"""`FordringTilIndbetaling`: the wire view of a payable claim (CONTRACT §3).

The same structure answers SoegFordringTilIndbetaling and is the body (Beskeddata) of the
OekonomiFordringTilIndbetaling message (§6), so it is shared by the debitorsystem that makes it,
the Beskedfordeler that carries it and the fagsystem that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from indbetaling.money import format_ore, parse_ore

DEBITOR_NS = "http://oir.serviceplatformen.dk/xml/schemas/DebitorIndbetaling/1/"


class ClaimStatus(StrEnum):
    AKTIV = "AKTIV"
    AFSLUTTET = "AFSLUTTET"
    ANNULLERET = "ANNULLERET"


@dataclass(frozen=True)
class LiableParty:
    """`Haefter`: a party liable for the claim and its role (e.g. `PRIMAER`, `SOLIDARISK`)."""

    part_id: str
    role: str


@dataclass(frozen=True)
class ClaimView:
    """One `FordringTilIndbetaling`; amounts in øre (render with `money.format_ore`)."""

    claim_id: UUID
    account_id: UUID
    authority_cvr: str
    account_type_code: str
    claim_type_code: str
    principal: int
    restance: int
    due_date: date
    last_timely_payment_date: date
    payment_period_from: date | None
    payment_period_to: date | None
    liable_parties: tuple[LiableParty, ...]
    status: ClaimStatus


def view_to_json(view: ClaimView) -> dict[str, object]:
    """The view as JSON-ready data with the wire's field names; amounts as two-place text."""
    data: dict[str, object] = {
        "FordringId": str(view.claim_id),
        "DebitorkontoId": str(view.account_id),
        "MyndighedCVR": view.authority_cvr,
        "DebitorkontoTypeKode": view.account_type_code,
        "KravtypeKode": view.claim_type_code,
        "Hovedstol": format_ore(view.principal),
        "Restance": format_ore(view.restance),
        "Forfaldsdato": view.due_date.isoformat(),
        "SidsteRettidigeBetalingsdato": view.last_timely_payment_date.isoformat(),
    }
    if view.payment_period_from is not None:
        data["BetalingsperiodeFra"] = view.payment_period_from.isoformat()
    if view.payment_period_to is not None:
        data["BetalingsperiodeTil"] = view.payment_period_to.isoformat()
    data["Haefterkreds"] = {
        "Haefter": [{"PartId": p.part_id, "HaefterRolle": p.role} for p in view.liable_parties]
    }
    data["Status"] = view.status.value
    return data


def view_from_json(data: dict[str, object]) -> ClaimView:
    """The inverse of `view_to_json`."""

    def day(name: str) -> date | None:
        value = data.get(name)
        return date.fromisoformat(str(value)) if value else None

    parties = data["Haefterkreds"]
    assert isinstance(parties, dict)  # noqa: S101 - shape written by view_to_json
    return ClaimView(
        claim_id=UUID(str(data["FordringId"])),
        account_id=UUID(str(data["DebitorkontoId"])),
        authority_cvr=str(data["MyndighedCVR"]),
        account_type_code=str(data["DebitorkontoTypeKode"]),
        claim_type_code=str(data["KravtypeKode"]),
        principal=parse_ore(str(data["Hovedstol"])),
        restance=parse_ore(str(data["Restance"])),
        due_date=date.fromisoformat(str(data["Forfaldsdato"])),
        last_timely_payment_date=date.fromisoformat(str(data["SidsteRettidigeBetalingsdato"])),
        payment_period_from=day("BetalingsperiodeFra"),
        payment_period_to=day("BetalingsperiodeTil"),
        liable_parties=tuple(
            LiableParty(str(p["PartId"]), str(p["HaefterRolle"])) for p in parties["Haefter"]
        ),
        status=ClaimStatus(str(data["Status"])),
    )

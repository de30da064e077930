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

"""NemKonto's rules (ØiR SF1590_E "Betalingsanmodning til NemKonto", CONTRACT §7): a payment
request pays a positive amount to one party, for one authority, about one payment; a
`BetalingsanmodningId` names one request forever, so the same request again is the same
request and another one under its id is a conflict. Pure: no I/O, no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from indbetaling.ids import InvalidId, parse_cvr, parse_part_id
from indbetaling.money import InvalidAmount, parse_amount
from indbetaling.refusal import Refused


class FejlKode(StrEnum):
    BETALINGSANMODNINGID_KONFLIKT = "BETALINGSANMODNINGID_KONFLIKT"
    BELOEB_UGYLDIGT = "BELOEB_UGYLDIGT"
    UGYLDIG_FORESPOERGSEL = "UGYLDIG_FORESPOERGSEL"


@dataclass(frozen=True)
class PaymentRequest:
    id: UUID
    authority_cvr: str
    part_id: str
    """The party paid: `urn:oio:cpr-nr:…` or `urn:oio:cvr-nr:…`."""
    amount: int
    """Øre, > 0."""
    reference: UUID
    """The IndbetalingId the pay-back is about."""
    text: str


def new_request(
    *,
    request_id: UUID,
    authority_cvr: str,
    part_id: str,
    amount: str,
    reference: UUID,
    text: str,
) -> PaymentRequest:
    """A payment request from the wire; `Refused` for an amount that is not a decimal > 0 with
    at most two places, a party that is no CPR/CVR URN, or a CVR that is not eight digits."""
    try:
        ore = parse_amount(amount)
    except InvalidAmount as exc:
        raise Refused(FejlKode.BELOEB_UGYLDIGT, str(exc)) from None
    try:
        parse_cvr(authority_cvr)
        parse_part_id(part_id)
    except InvalidId as exc:
        raise Refused(FejlKode.UGYLDIG_FORESPOERGSEL, str(exc)) from None
    return PaymentRequest(request_id, authority_cvr, part_id, ore, reference, text)


def check_same(new: PaymentRequest, stored: PaymentRequest) -> None:
    """`new` came under the id of `stored`: it is the same request again, or `Refused`
    BETALINGSANMODNINGID_KONFLIKT."""
    if stored != new:
        raise Refused(
            FejlKode.BETALINGSANMODNINGID_KONFLIKT,
            f"BetalingsanmodningId {new.id} er allerede brugt til en anden betalingsanmodning",
        )

"""The debitorsystem's registrations (section `debitorsystem` of the registrations file): the
authorities whose ledgers it keeps, and the fagsystems that pay into them with their sortiment
per authority (R10: the ORG units they pay from, the KLA types they use) and whether they
receive reversal orders (R7; without, orders wait for manual handling).

```json
{"debitorsystem": {
  "authorities": [{"cvr": "29189846", "name": "Andeby Kommune"}],
  "fagsystems": [{"id": "<UUID>", "name": "Økonomisystemet",
                  "accepts_reversal_orders": true,
                  "sortiment": {"29189846": {"org_units": ["<UUID>"],
                                             "types": ["KONTO.BORGER", "KRAV.DAGTILBUD"]}}}]}}
```

Collections staff get their tokens with `indbetaling debitorsystem staff-token CVR NAME`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from indbetaling.debitorsystem.service import DebitorService
from indbetaling.ids import InvalidId, parse_cvr

SECTION = "debitorsystem"


def _cvr(value: str) -> str:
    try:
        return parse_cvr(value)
    except InvalidId as exc:
        raise ValueError(str(exc)) from None


Cvr = Annotated[str, AfterValidator(_cvr)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthorityIn(_Model):
    cvr: Cvr
    name: str = Field(min_length=1, max_length=200)


class SortimentIn(_Model):
    org_units: list[uuid.UUID] = []
    types: list[str] = []


class FagsystemIn(_Model):
    id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    accepts_reversal_orders: bool = True
    sortiment: dict[Cvr, SortimentIn] = {}


class DebitorsystemRegistrations(_Model):
    authorities: list[AuthorityIn] = []
    fagsystems: list[FagsystemIn] = []


def apply(service: DebitorService, registrations: DebitorsystemRegistrations) -> str:
    """Register what `registrations` says (idempotent); what was done, in words."""
    for authority in registrations.authorities:
        service.ensure_authority(authority.cvr, authority.name)
    for fagsystem in registrations.fagsystems:
        service.ensure_fagsystem(
            fagsystem.id,
            fagsystem.name,
            {cvr: (s.org_units, s.types) for cvr, s in fagsystem.sortiment.items()},
            accepts_reversal_orders=fagsystem.accepts_reversal_orders,
        )
    return (
        f"{len(registrations.authorities)} authorities, {len(registrations.fagsystems)} fagsystems"
    )

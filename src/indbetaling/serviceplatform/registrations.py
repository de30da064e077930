"""The gateway's registrations (section `gateway` of the registrations file): it-systems with
their client credentials, the endpoints where they provide services, their service agreements
with authorities, and which provider the gateway routes each authority's calls of a service to.

```json
{"gateway": {
  "it_systems": [
    {"id": "<UUID>", "name": "Debitorsystem", "client_id": "debitorsystem",
     "client_secret_file": "secrets/debitorsystem",
     "endpoints": [{"service": "DebitorIndbetalingAfsend",
                    "soap_url": "http://debitor:8002/debitorsystem/service/OIR/DebitorIndbetalingAfsend/1",
                    "rest_url": "http://debitor:8002/debitorsystem/api/v1/debitorindbetaling"}],
     "agreements": [{"cvr": "29189846", "service": "DebitorIndbetalingAfsend",
                     "role": "provider"}]}],
  "routes": [{"cvr": "29189846", "service": "DebitorIndbetalingAfsend",
              "provider": "<UUID>"}]}}
```

A service is named by its entity id or its short name (`DebitorIndbetalingAfsend`,
`IndbetalingTilbagefoerOrdreAfsend`, `Beskedfordeler`). Credentials: `client_secret` or
`client_secret_file`, and/or `public_key_pem` or `public_key_file` (private_key_jwt); an
it-system with neither only provides services and cannot get tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from indbetaling.contracts import (
    BESKEDFORDELER_ENTITY_ID,
    DEBITOR_INDBETALING_ENTITY_ID,
    TILBAGEFOER_ORDRE_ENTITY_ID,
)
from indbetaling.ids import InvalidId, parse_cvr
from indbetaling.registration_file import secret_value
from indbetaling.serviceplatform.domain import Role
from indbetaling.serviceplatform.service import Serviceplatform

SECTION = "gateway"
SERVICES = {
    "DebitorIndbetalingAfsend": DEBITOR_INDBETALING_ENTITY_ID,
    "IndbetalingTilbagefoerOrdreAfsend": TILBAGEFOER_ORDRE_ENTITY_ID,
    "Beskedfordeler": BESKEDFORDELER_ENTITY_ID,
}


def _service(value: str) -> str:
    entity_id = SERVICES.get(value, value)
    if entity_id not in SERVICES.values():
        known = ", ".join(SERVICES)
        raise ValueError(f"unknown service {value!r} (known: {known}, or their entity ids)")
    return entity_id


def _cvr(value: str) -> str:
    try:
        return parse_cvr(value)
    except InvalidId as exc:
        raise ValueError(str(exc)) from None


Service = Annotated[str, AfterValidator(_service)]
Cvr = Annotated[str, AfterValidator(_cvr)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointIn(_Model):
    service: Service
    soap_url: str | None = None
    rest_url: str | None = None


class AgreementIn(_Model):
    cvr: Cvr
    service: Service
    role: Literal["consumer", "provider"]


class ItSystemIn(_Model):
    id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str | None = None
    client_secret_file: Path | None = None
    public_key_pem: str | None = None
    public_key_file: Path | None = None
    endpoints: list[EndpointIn] = []
    agreements: list[AgreementIn] = []


class RouteIn(_Model):
    cvr: Cvr
    service: Service
    provider: uuid.UUID


class GatewayRegistrations(_Model):
    it_systems: list[ItSystemIn] = []
    routes: list[RouteIn] = []


@dataclass(frozen=True)
class Applied:
    it_systems: int
    endpoints: int
    agreements: int
    routes: int

    def __str__(self) -> str:
        return (
            f"{self.it_systems} it-systems, {self.endpoints} endpoints, "
            f"{self.agreements} agreements, {self.routes} routes"
        )


def apply(platform: Serviceplatform, registrations: GatewayRegistrations, folder: Path) -> Applied:
    """Register what `registrations` says (idempotent); secrets in files relative to `folder`.
    Every secret is read before anything is written, so a bad file changes nothing."""
    credentials = {}
    for system in registrations.it_systems:
        what = f"it-system {system.id}"
        secret = secret_value(
            system.client_secret,
            system.client_secret_file,
            folder,
            f"{what}: client_secret",
            required=False,
        )
        key = secret_value(
            system.public_key_pem,
            system.public_key_file,
            folder,
            f"{what}: public_key",
            required=False,
        )
        credentials[system.id] = (secret, key)
    endpoints = agreements = 0
    for system in registrations.it_systems:
        secret, key = credentials[system.id]
        platform.register_it_system(
            system.id, system.name, system.client_id, client_secret=secret, public_key_pem=key
        )
        for endpoint in system.endpoints:
            platform.set_endpoint(system.id, endpoint.service, endpoint.soap_url, endpoint.rest_url)
            endpoints += 1
        for agreement in system.agreements:
            platform.add_agreement(
                system.id, agreement.cvr, agreement.service, Role(agreement.role)
            )
            agreements += 1
    for route in registrations.routes:
        platform.route_authority(route.cvr, route.service, route.provider)
    return Applied(len(registrations.it_systems), endpoints, agreements, len(registrations.routes))

"""The real debitorsystem behind the real gateway, and the two wires a fagsystem calls it over.

One FastAPI app holds the Serviceplatform gateway and the debitorsystem's provider routers
(`indbetaling.debitorsystem.wire`); the gateway reaches the provider in-process at URLs as if it
ran elsewhere, and the clients (zeep for SOAP, httpx for REST) talk real HTTP to the session's
uvicorn server (`serviceplatform.harness.live_server`). Both authorities of the debitorsystem
`World` are routed to it; both fagsystems have agreements with both authorities; `stranger`
has none.

`SoapWire` and `RestWire` offer the same three calls and hand back the answer as plain data
(amounts as two-place text, absent fields left out), so one scenario can be run over either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Protocol
from uuid import UUID

import httpx
import pytest
import requests
import zeep
import zeep.helpers
from fastapi import FastAPI

from debitorsystem.conftest import CVR, OTHER_CVR, PART, World, WorldFactory
from indbetaling import http_errors
from indbetaling.caller import CALLER_HEADER, Caller, CallerVerifier, sign_caller
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.debitorsystem.wire import provider_routers
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS
from indbetaling.serviceplatform.api import Gateway
from indbetaling.serviceplatform.domain import Role
from indbetaling.serviceplatform.service import Serviceplatform
from serviceplatform.harness import FakeClock, ItSystem, LiveServer, live_server
from serviceplatform.soap_client import fetch_token, kombit_headers, zeep_client

GATEWAY_SOAP = "/service/OIR/DebitorIndbetalingAfsend/1"
GATEWAY_REST = "/api/v1/debitorindbetaling"
PROVIDER_BASE = "http://debitorsystem.internal"
PROVIDER_SOAP = "/debitorsystem/service/OIR/DebitorIndbetalingAfsend/1"
PROVIDER_REST = "/debitorsystem/api/v1/debitorindbetaling"

Answer = dict[str, Any]


@dataclass
class WireEnv:
    world: World
    platform: Serviceplatform
    clock: FakeClock
    app: FastAPI
    base_url: str
    systems: dict[str, ItSystem] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, system: str, cvr: str = CVR) -> str:
        if (system, cvr) not in self._tokens:
            s = self.systems[system]
            self._tokens[(system, cvr)] = fetch_token(
                self.base_url, s.client_id, s.client_secret, DEBITOR_INDBETALING_ENTITY_ID, cvr
            )
        return self._tokens[(system, cvr)]

    def token_without_agreement(self, system: str, cvr: str = CVR) -> str:
        """A valid token of `system` whose service agreement has ended since it was issued (the
        token service issues none without an agreement)."""
        entity = DEBITOR_INDBETALING_ENTITY_ID
        self.platform.add_agreement(self.systems[system].id, cvr, entity, Role.CONSUMER)
        s = self.systems[system]
        token = fetch_token(self.base_url, s.client_id, s.client_secret, entity, cvr)
        self.platform.end_agreement(self.systems[system].id, cvr, entity, Role.CONSUMER)
        return token

    def caller_assertion(self, system: str, cvr: str = CVR) -> str:
        """What the gateway would send the provider for `system`: for calls that bypass it."""
        key = self.platform.signing_key()
        caller = Caller(it_system_id=self.systems[system].id, authority_cvr=cvr)
        return sign_caller(caller, DEBITOR_INDBETALING_ENTITY_ID, key.private_key, key.kid)

    @property
    def soap(self) -> SoapWire:
        return SoapWire(self)

    @property
    def rest(self) -> RestWire:
        return RestWire(self)

    def restance(self, claim_id: UUID, cvr: str = CVR) -> int:
        return self.world.service.claim(cvr, claim_id).restance

    def coverages(self, claim_id: UUID, cvr: str = CVR) -> int:
        return len(self.world.service.claim(cvr, claim_id).coverages)

    def payment(self, claim_id: UUID, amount: str = "100.00", **fields: Any) -> Answer:
        """An Indbetaling (wire field names) by the first demo party from the fagsystem's unit."""
        return {
            "IndbetalingId": str(uuid.uuid4()),
            "FordringId": str(claim_id),
            "Beloeb": amount,
            "Betalingsdato": "2026-11-26",
            "IndbetalerPartId": PART,
            "IndbetalendeOrganisationsenhedId": str(self.world.org_unit),
            "Tekst": "Betaling af daginstitution",
            **fields,
        }


class Wire(Protocol):
    name: str

    def search(self, system: str = ..., cvr: str = ..., **fields: Any) -> Answer: ...

    def pay(
        self, indbetaling: Answer, key: str | None = ..., system: str = ..., cvr: str = ...
    ) -> Answer: ...

    def reverse(
        self, key: str | None = ..., system: str = ..., cvr: str = ..., **fields: Any
    ) -> Answer: ...


def plain(value: Any) -> Any:
    """A zeep answer as JSON-like data: absent fields dropped, amounts as two-place text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


@cache
def _zeep(base_url: str) -> zeep.Client:
    """One zeep client of the gateway's WSDL per server; the token is set per call."""
    return zeep_client(f"{base_url}{GATEWAY_SOAP}?wsdl")


class SoapWire:
    name = "soap"

    def __init__(self, env: WireEnv) -> None:
        self.env = env

    def client(self, system: str = "fagsystem", cvr: str = CVR) -> zeep.Client:
        client = _zeep(self.env.base_url)
        session: requests.Session = client.transport.session
        session.headers["Authorization"] = f"Bearer {self.env.token(system, cvr)}"
        return client

    def _call(self, operation: str, system: str, cvr: str, key: str | None, **body: Any) -> Answer:
        client = self.client(system, cvr)
        transaction = uuid.UUID(key) if key else None
        answer = getattr(client.service, operation)(
            **body, _soapheaders=kombit_headers(cvr, transaction)
        )
        data = plain(zeep.helpers.serialize_object(answer, dict))
        if "ForretningsValideringsKode" in data:  # a one-child response comes back unwrapped
            data = {"Forretningskvittering": data}
        return dict(data)

    def raw(self, operation: str, key: str, system: str = "fagsystem", **body: Any) -> bytes:
        client = self.client(system)
        with client.settings(raw_response=True):
            response = getattr(client.service, operation)(
                **body, _soapheaders=kombit_headers(CVR, uuid.UUID(key))
            )
        assert response.status_code == 200, response.content
        return bytes(response.content)

    def search(self, system: str = "fagsystem", cvr: str = CVR, **fields: Any) -> Answer:
        return self._call("SoegFordringTilIndbetaling", system, cvr, None, **fields)

    def pay(
        self,
        indbetaling: Answer,
        key: str | None = None,
        system: str = "fagsystem",
        cvr: str = CVR,
    ) -> Answer:
        return self._call("ForetagIndbetaling", system, cvr, key, Indbetaling=indbetaling)

    def reverse(
        self, key: str | None = None, system: str = "fagsystem", cvr: str = CVR, **fields: Any
    ) -> Answer:
        return self._call("ForetagIndbetalingNedregulering", system, cvr, key, **fields)


class RestWire:
    name = "rest"

    def __init__(self, env: WireEnv) -> None:
        self.env = env

    def post(
        self,
        path: str,
        body: Any,
        key: str | None = None,
        system: str = "fagsystem",
        cvr: str = CVR,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.env.token(system, cvr)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return httpx.post(
            f"{self.env.base_url}{GATEWAY_REST}/{path}", json=body, headers=headers, timeout=60
        )

    def _ok(self, response: httpx.Response) -> Answer:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        data: Answer = response.json()
        return data

    def search(self, system: str = "fagsystem", cvr: str = CVR, **fields: Any) -> Answer:
        return self._ok(self.post("soeg-fordring-til-indbetaling", fields, None, system, cvr))

    def pay(
        self,
        indbetaling: Answer,
        key: str | None = None,
        system: str = "fagsystem",
        cvr: str = CVR,
    ) -> Answer:
        response = self.post(
            "foretag-indbetaling",
            {"Indbetaling": indbetaling},
            key or str(uuid.uuid4()),
            system,
            cvr,
        )
        return self._ok(response)

    def reverse(
        self, key: str | None = None, system: str = "fagsystem", cvr: str = CVR, **fields: Any
    ) -> Answer:
        response = self.post(
            "foretag-indbetaling-nedregulering", fields, key or str(uuid.uuid4()), system, cvr
        )
        return self._ok(response)


def code(answer: Answer) -> str:
    receipt = answer["Forretningskvittering"]
    if receipt["ForretningsValideringsKode"] != "AFVIST":
        return str(receipt["ForretningsValideringsKode"])
    (fejl,) = receipt["FejlListe"]["Fejl"]
    assert fejl["FejlTekst"]
    return str(fejl["FejlKode"])


def build_env(server: LiveServer, world: World, engine: Any) -> WireEnv:
    clock = FakeClock()
    # a cheap secret hash keeps the suite fast; production uses the default cost
    platform = Serviceplatform(engine, KNOWN_ENTITY_IDS, clock=clock, secret_cost=2**8)
    app = FastAPI()
    http_errors.install(app)
    providers = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PROVIDER_BASE)
    app.include_router(Gateway(platform, providers).router())
    verifier = CallerVerifier(platform.jwks(), DEBITOR_INDBETALING_ENTITY_ID)
    for router in provider_routers(world.service, verifier):
        app.include_router(router)
    env = WireEnv(world, platform, clock, app, server.base_url)
    ids = {
        "fagsystem": world.fagsystem,
        "other_fagsystem": world.other_fagsystem,
        "debitorsystem": world.service.system_id,
        "stranger": uuid.uuid4(),
    }
    for name, system_id in ids.items():
        system = ItSystem(system_id, f"client-{name}", f"s3cret-{name}")
        platform.register_it_system(
            system.id, name, system.client_id, client_secret=system.client_secret
        )
        env.systems[name] = system
    entity = DEBITOR_INDBETALING_ENTITY_ID
    platform.set_endpoint(
        world.service.system_id,
        entity,
        f"{PROVIDER_BASE}{PROVIDER_SOAP}",
        f"{PROVIDER_BASE}{PROVIDER_REST}",
    )
    for cvr in (CVR, OTHER_CVR):
        platform.add_agreement(world.service.system_id, cvr, entity, Role.PROVIDER)
        platform.route_authority(cvr, entity, world.service.system_id)
        for name in ("fagsystem", "other_fagsystem"):
            platform.add_agreement(ids[name], cvr, entity, Role.CONSUMER)
    return env


@pytest.fixture
def wire_env(
    request: pytest.FixtureRequest, make_world: WorldFactory, part_engine: Any, backend: str
) -> Iterator[WireEnv]:
    server: LiveServer = request.getfixturevalue("live_server")
    env = build_env(server, make_world(backend), part_engine("serviceplatform", backend))
    server.current.app = env.app
    yield env
    server.current.app = None


@pytest.fixture(params=["soap", "rest"])
def wire(request: pytest.FixtureRequest, wire_env: WireEnv) -> Wire:
    return SoapWire(wire_env) if request.param == "soap" else RestWire(wire_env)


def provider_headers(env: WireEnv, system: str = "fagsystem") -> dict[str, str]:
    return {CALLER_HEADER: env.caller_assertion(system)}


__all__ = ["live_server", "wire_env"]  # fixtures for the test modules to import

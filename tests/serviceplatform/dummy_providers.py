"""Small stand-in providers behind the gateway: an echo debitorsystem and an echo fagsystem.

They answer from what they were sent and who the gateway says is calling, and count their
calls, so tests can see where a call was routed and that refused calls never arrived.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.requests import Request

from indbetaling.caller import CallerRejected, CallerVerifier
from indbetaling.contracts import (
    DEBITOR_INDBETALING_ENTITY_ID,
    DEBITOR_INDBETALING_WSDL,
    TILBAGEFOER_ORDRE_ENTITY_ID,
    TILBAGEFOER_ORDRE_WSDL,
)
from indbetaling.soap import SoapCall, SoapService, load_contract

ACCEPTED = {"ForretningsValideringsKode": "ACCEPTERET"}


@dataclass
class EchoDebitorsystem:
    """Answers every search with one claim naming this instance and the caller."""

    name: str
    calls: list[tuple[str, dict[str, Any], SoapCall]] = field(default_factory=list)
    rest_calls: list[str] = field(default_factory=list)

    def search(self, request: dict[str, Any], call: SoapCall) -> dict[str, Any]:
        self.calls.append(("SoegFordringTilIndbetaling", request, call))
        claim_id = request.get("FordringId", str(uuid.uuid4()))
        return {
            "Forretningskvittering": ACCEPTED,
            "FordringTilIndbetaling": [
                {
                    "FordringId": claim_id,
                    "DebitorkontoId": str(call.caller.it_system_id),
                    "MyndighedCVR": call.authority_cvr,
                    "DebitorkontoTypeKode": self.name,
                    "KravtypeKode": call.transaction_uuid,
                    "Hovedstol": "100.00",
                    "Restance": "100.00",
                    "Forfaldsdato": "2024-01-01",
                    "SidsteRettidigeBetalingsdato": "2024-01-15",
                    "Haefterkreds": {
                        "Haefter": [{"PartId": "urn:oio:cvr-nr:12345678", "HaefterRolle": "P"}]
                    },
                    "Status": "AKTIV",
                }
            ],
        }

    async def pay(self, request: dict[str, Any], call: SoapCall) -> dict[str, Any]:
        self.calls.append(("ForetagIndbetaling", request, call))
        return {
            "Forretningskvittering": {
                "ForretningsValideringsKode": "AFVIST",
                "FejlListe": {
                    "Fejl": [
                        {"FejlKode": "BELOEB_OVERSTIGER_RESTANCE", "FejlTekst": "For stort beløb"}
                    ]
                },
            },
            "Restance": str(request["Indbetaling"]["Beloeb"] - 1),
        }

    def mount(self, app: FastAPI, verifier_jwks: dict[str, Any]) -> None:
        contract = load_contract(DEBITOR_INDBETALING_WSDL)
        verifier = CallerVerifier(verifier_jwks, DEBITOR_INDBETALING_ENTITY_ID)
        service = SoapService(
            contract,
            {"SoegFordringTilIndbetaling": self.search, "ForetagIndbetaling": self.pay},
            verifier,
        )
        app.include_router(service.router(f"/dummy/{self.name}/soap"))
        rest = APIRouter()

        @rest.api_route(f"/dummy/{self.name}/rest/{{path:path}}", methods=["GET", "POST"])
        async def echo(path: str, request: Request) -> dict[str, Any]:
            try:
                caller = verifier.verify(request.headers)
            except CallerRejected as exc:
                return {"rejected": str(exc)}
            self.rest_calls.append(path)
            return {
                "instance": self.name,
                "path": path,
                "query": str(request.url.query),
                "it_system": str(caller.it_system_id),
                "cvr": caller.authority_cvr,
                "idempotency_key": request.headers.get("idempotency-key"),
                "authorization": request.headers.get("authorization"),
                "body": (await request.body()).decode(),
            }

        app.include_router(rest)


@dataclass
class EchoFagsystem:
    name: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    def receive(self, request: dict[str, Any], call: SoapCall) -> dict[str, Any]:
        self.calls.append({"request": request, "caller": call.caller})
        return {"Forretningskvittering": {"ForretningsValideringsKode": "MODTAGET"}}

    def mount(self, app: FastAPI, verifier_jwks: dict[str, Any]) -> None:
        service = SoapService(
            load_contract(TILBAGEFOER_ORDRE_WSDL),
            {"AfsendTilbagefoerOrdre": self.receive},
            CallerVerifier(verifier_jwks, TILBAGEFOER_ORDRE_ENTITY_ID),
        )
        app.include_router(service.router(f"/dummy/{self.name}/tilbagefoer"))

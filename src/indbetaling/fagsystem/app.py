"""The fagsystem's entry point: the hosted fagsystems' receivers of reversal orders (through
the gateway, IndbetalingTilbagefoerOrdreAfsend) and of pushed claim messages (BeskedFaaTilsendt),
which keep the overview of payable claims current, and the case workers' API over it.

One database serves every fagsystem this process hosts; each is reached under
`/fagsystem/<its UUID>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine

from indbetaling.caller import CallerVerifier
from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.fagsystem import claims
from indbetaling.fagsystem.caseworker_auth import caseworker_guard
from indbetaling.fagsystem.claims_api import claims_router
from indbetaling.fagsystem.client import DebitorIndbetaling
from indbetaling.fagsystem.push_receiver import push_receiver_router
from indbetaling.fagsystem.reversal_orders import reversal_order_router
from indbetaling.parts import PartApp


@dataclass(frozen=True)
class HostedFagsystem:
    id: uuid.UUID
    push_secret: str
    """The `whsec_…` secret its pushed messages are signed with."""


def prefix(fagsystem_id: uuid.UUID) -> str:
    return f"/fagsystem/{fagsystem_id}"


def build(
    engine: Engine,
    fagsystems: Iterable[HostedFagsystem],
    *,
    platform_jwks: Mapping[str, Any],
    caseworker_tokens: Mapping[uuid.UUID, str] | None = None,
    authorities: Mapping[uuid.UUID, Collection[str]] | None = None,
    debitors: Mapping[uuid.UUID, DebitorIndbetaling] | None = None,
) -> PartApp:
    """`caseworker_tokens` (one per hosted fagsystem) opens the case workers' API, for the
    authorities each has agreements with, searching through its client in `debitors`."""
    authorities = authorities or {}
    debitors = debitors or {}
    orders_verifier = CallerVerifier(platform_jwks, TILBAGEFOER_ORDRE_ENTITY_ID)
    routers = []
    for fagsystem in fagsystems:
        router = APIRouter(prefix=prefix(fagsystem.id))
        router.include_router(reversal_order_router(engine, fagsystem.id, orders_verifier))
        router.include_router(
            push_receiver_router(
                engine,
                fagsystem.push_secret,
                path="/beskeder",
                fagsystem_id=str(fagsystem.id),
                on_stored=claims.message_handler(fagsystem.id),
            )
        )
        if caseworker_tokens is not None:
            router.include_router(
                claims_router(
                    engine,
                    fagsystem.id,
                    guard=caseworker_guard(caseworker_tokens, fagsystem.id),
                    authorities=authorities.get(fagsystem.id, ()),
                    debitor=debitors.get(fagsystem.id),
                )
            )
        routers.append(router)
    return PartApp(name="fagsystem", engine=engine, routers=routers)

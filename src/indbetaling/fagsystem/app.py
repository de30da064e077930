"""The fagsystem's entry point: the hosted fagsystems' receivers of reversal orders (through
the gateway, IndbetalingTilbagefoerOrdreAfsend) and of pushed claim messages (BeskedFaaTilsendt).

One database serves every fagsystem this process hosts; each is reached under
`/fagsystem/<its UUID>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine

from indbetaling.caller import CallerVerifier
from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID
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
    engine: Engine, fagsystems: Iterable[HostedFagsystem], *, platform_jwks: Mapping[str, Any]
) -> PartApp:
    orders_verifier = CallerVerifier(platform_jwks, TILBAGEFOER_ORDRE_ENTITY_ID)
    routers = []
    for fagsystem in fagsystems:
        router = APIRouter(prefix=prefix(fagsystem.id))
        router.include_router(reversal_order_router(engine, fagsystem.id, orders_verifier))
        router.include_router(
            push_receiver_router(
                engine, fagsystem.push_secret, path="/beskeder", fagsystem_id=str(fagsystem.id)
            )
        )
        routers.append(router)
    return PartApp(name="fagsystem", engine=engine, routers=routers)

"""The Serviceplatform's entry point: the token service, agreements, routing and audit log.

`build` makes the platform on its database and the gateway that forwards calls with `http`
(in one process an in-process ASGI client, in production a plain HTTP client).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from indbetaling.parts import PartApp
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS
from indbetaling.serviceplatform.api import BESKEDFORDELER_PREFIX, REST_PREFIX, Gateway
from indbetaling.serviceplatform.service import Serviceplatform

__all__ = ["BESKEDFORDELER_PREFIX", "REST_PREFIX", "ServiceplatformApp", "build"]


@dataclass(kw_only=True)
class ServiceplatformApp(PartApp):
    platform: Serviceplatform


def build(
    engine: Engine, http: httpx.AsyncClient, *, operator_token: str | None
) -> ServiceplatformApp:
    platform = Serviceplatform(engine, KNOWN_ENTITY_IDS)
    gateway = Gateway(platform, http, operator_token=operator_token)
    return ServiceplatformApp(
        name="serviceplatform", engine=engine, routers=[gateway.router()], platform=platform
    )

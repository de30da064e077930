"""The OpenAPI description a client reads: the paths it calls, which are the gateway's.

Clients never call a provider directly: they call the gateway (`/api/v1/debitorindbetaling/...`,
CONTRACT §2) with a Bearer token, and the gateway forwards the raw body to the provider's REST
mirror. The gateway routes every such path through one catch-all that knows no models; the
provider's routes carry them. So the public description takes the provider's operations and
publishes them at the gateway's paths, with what the gateway adds (the Bearer token, its 401,
403, 404 and 502 answers), and leaves out the provider's own addresses, which only the gateway
calls. Every error stays one `Problem` shape (`http_errors.with_problems`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from indbetaling.http_errors import document_problems

BEARER_SCHEME = "bearer"
SECURITY_SCHEMES: Mapping[str, Any] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /sts/token` (OAuth 2 client credentials, "
        "scope `entityid:<service>,anvenderkontekst:<CVR>`)",
    }
}
GATEWAY_ERRORS: Mapping[str, str] = {
    "401": "No valid Bearer token (WWW-Authenticate names the reason)",
    "403": "The token's authority has no agreement for the service, or X-Myndighed-CVR names "
    "another authority",
    "404": "No provider is registered for the token's authority",
    "502": "The provider did not answer",
}


@dataclass(frozen=True)
class Forwarded:
    """A provider's paths under `provider_base`, called by clients at `gateway_base`."""

    provider_base: str
    gateway_base: str


def publish(
    app: FastAPI,
    *,
    base_url: str,
    forwarded: Iterable[Forwarded],
    internal: Iterable[str],
) -> None:
    """Make `app`'s OpenAPI the public description: `forwarded` operations at the gateway's
    paths, paths under any `internal` prefix left out, `servers` = `base_url`."""
    forwarded = tuple(forwarded)
    internal = tuple(internal)
    app.servers = [{"url": base_url}]
    app.openapi_schema = None
    document_problems(app, lambda schema: through_gateway(schema, forwarded, internal))


def through_gateway(
    schema: dict[str, Any], forwarded: Iterable[Forwarded], internal: Iterable[str]
) -> dict[str, Any]:
    """`schema` with each forwarded provider operation also at its gateway path (Bearer
    secured, with the gateway's errors), and every path under an `internal` prefix removed."""
    paths: dict[str, Any] = schema.setdefault("paths", {})
    published: dict[str, Any] = {}
    for route in forwarded:
        for path, item in paths.items():
            if path.startswith(route.provider_base + "/"):
                public = route.gateway_base + path[len(route.provider_base) :]
                published[public] = {
                    method: _secured(operation) for method, operation in item.items()
                }
    hidden = tuple(internal)
    schema["paths"] = {
        path: item
        for path, item in paths.items()
        if not any(path == prefix or path.startswith(prefix + "/") for prefix in hidden)
    } | published
    if published:
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(copy.deepcopy(SECURITY_SCHEMES))
    return schema


def _secured(operation: dict[str, Any]) -> dict[str, Any]:
    operation = copy.deepcopy(operation)
    operation["security"] = [{BEARER_SCHEME: []}]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in GATEWAY_ERRORS.items():
        responses[status] = {"description": description}
    return operation

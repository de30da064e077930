"""A recording stand-in for the fagsystems' case-worker API (CONTRACT §9 and its extension): it
serves `GET …/myndigheder/{cvr}/indbetalinger` and `…/tilbagefoersler?Tilstand=` from lists the
test keeps, newest first, a few a page with `FortsaettelsesNoegle`, to the bearer of its own
case-worker token, and records every request it gets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

PAGE = 2


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    authorization: str | None


@dataclass
class FakeFagsystem:
    id: uuid.UUID
    token: str
    payments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per authority, its `Indbetaling`s in order of creation."""
    reversals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    broken: dict[str, Any] | None = None
    """When set, served as the next listing's body as it is."""

    def router(self) -> APIRouter:
        router = APIRouter(prefix=f"/fagsystem/{self.id}/api/v1")

        @router.get("/myndigheder/{cvr}/indbetalinger")
        async def payments(cvr: str, request: Request) -> JSONResponse:
            return self._listing(request, "Indbetalinger", self.payments.get(cvr, []))

        @router.get("/myndigheder/{cvr}/tilbagefoersler")
        async def reversals(cvr: str, request: Request) -> JSONResponse:
            state = request.query_params.get("Tilstand")
            items = [r for r in self.reversals.get(cvr, []) if state in (None, r["Tilstand"])]
            return self._listing(request, "Tilbagefoersler", items)

        return router

    def _listing(self, request: Request, plural: str, items: list[dict[str, Any]]) -> JSONResponse:
        authorization = request.headers.get("authorization")
        self.seen.append(Seen(request.url.path, dict(request.query_params), authorization))
        if authorization != f"Bearer {self.token}":
            return JSONResponse({"FejlKode": "IKKE_AUTENTIFICERET"}, status_code=401)
        if self.broken is not None:
            return JSONResponse(self.broken)
        newest_first = list(reversed(items))
        start = int(request.query_params.get("FortsaettelsesNoegle", "0"))
        body: dict[str, Any] = {plural: newest_first[start : start + PAGE]}
        if start + PAGE < len(newest_first):
            body["FortsaettelsesNoegle"] = str(start + PAGE)
        return JSONResponse(body)

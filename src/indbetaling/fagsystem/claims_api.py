"""The case worker's view of a party's payable claims (CONTRACT §9), under the fagsystem's
`/api/v1`:

    GET /myndigheder/{cvr}/parter/{PartId}/fordringer[?opdater=true]
    → 200 {"Fordringer": [<FordringTilIndbetaling>, ...]}

The claims are those of the overview (`claims`), kept current by the messages the fagsystem
receives; `opdater=true` searches the debitorsystem first. Refusals are problem documents: no
or an unknown token 401, another fagsystem's token 403 `IKKE_ADGANG` (`caseworker_guard`), a
malformed CVR 422 `MYNDIGHEDCVR_UGYLDIG`, an authority the fagsystem has no agreement with 403
`IKKE_ADGANG`, a malformed PartId 422 `PARTID_UGYLDIG`, no answer from the debitorsystem on
`opdater=true` 503 `IKKE_TILGAENGELIG` (the overview then stays as it was).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from indbetaling.fagsystem import claims
from indbetaling.fagsystem.client import DebitorIndbetaling, NoBusinessAnswer
from indbetaling.fordring import view_to_json
from indbetaling.http_errors import Problem, ProblemError
from indbetaling.ids import InvalidId, parse_cvr, parse_part_id

UNAVAILABLE_TEXT = "Debitorsystemet svarede ikke; oversigten over fordringer er ikke opdateret"


def authority_check(authorities: Collection[str]) -> Callable[[str], str]:
    """The authority of a `{cvr}` path: one the fagsystem has an agreement with, or a problem."""
    allowed = frozenset(authorities)

    def check(cvr: str) -> str:
        try:
            parse_cvr(cvr)
        except InvalidId as exc:
            raise ProblemError(422, "MYNDIGHEDCVR_UGYLDIG", str(exc)) from None
        if cvr not in allowed:
            raise ProblemError(
                403, "IKKE_ADGANG", f"Fagsystemet har ingen aftale med myndigheden {cvr}"
            )
        return cvr

    return check


def claims_router(
    engine: Engine,
    fagsystem_id: UUID,
    *,
    authorities: Collection[str],
    debitor: DebitorIndbetaling | None,
) -> APIRouter:
    """The route above for one fagsystem; mount it under the fagsystem's prefix. `debitor` is
    its client of DebitorIndbetalingAfsend (None: `opdater=true` answers 503)."""
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": Problem} for status in (401, 403, 422, 503)
    }
    router = APIRouter(tags=["fordringer"], responses=errors)
    check_authority = authority_check(authorities)

    @router.get(
        "/myndigheder/{cvr}/parter/{PartId}/fordringer",
        summary="En parts betalbare fordringer hos myndigheden",
    )
    async def party_claims(
        cvr: str,
        part_id: Annotated[str, Path(alias="PartId", examples=["urn:oio:cpr-nr:0101801234"])],
        opdater: Annotated[
            bool, Query(description="Søg i debitorsystemet først (SoegFordringTilIndbetaling)")
        ] = False,
    ) -> dict[str, list[dict[str, object]]]:
        check_authority(cvr)
        try:
            parse_part_id(part_id)
        except InvalidId as exc:
            raise ProblemError(422, "PARTID_UGYLDIG", str(exc)) from None
        if opdater:
            if debitor is None:
                raise ProblemError(503, "IKKE_TILGAENGELIG", UNAVAILABLE_TEXT)
            try:
                await claims.refresh(engine, debitor, fagsystem_id, cvr, part_id)
            except NoBusinessAnswer:
                raise ProblemError(503, "IKKE_TILGAENGELIG", UNAVAILABLE_TEXT) from None
        views = await run_in_threadpool(claims.payable_claims, engine, fagsystem_id, cvr, part_id)
        return {"Fordringer": [view_to_json(v) for v in views]}

    return router

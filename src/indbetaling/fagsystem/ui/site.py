"""What every page of one fagsystem shares: who may see it (that fagsystem's case workers),
the authority in the address (one the fagsystem has an agreement with), the menu, the
addresses of its pages, and the party's claims as the fagsystem knows them.

The pages use the fagsystem's own `PaymentService` and claims overview in-process; they read
no other part's tables and call the debitorsystem only through the fagsystem's port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from starlette.requests import Request

from indbetaling.fagsystem import claims
from indbetaling.fagsystem.api import STATUS_OF_CODE
from indbetaling.fagsystem.client import InvalidCall, NoBusinessAnswer
from indbetaling.fagsystem.domain import Refused
from indbetaling.fagsystem.service import PaymentService
from indbetaling.fordring import ClaimView
from indbetaling.ui.access import PageError
from indbetaling.ui.cpr import cpr_digits
from indbetaling.ui.pages import NavItem, Pages
from indbetaling.ui.site import AuthorityPages, call_refusing, refused
from indbetaling.ui.users import Role, WebUser

T = TypeVar("T")
DEBITOR_SILENT = (
    "Debitorsystemet svarede ikke, så oversigten over fordringer er måske ikke den nyeste"
)


def refusal(refusal: Refused) -> PageError:
    """A refusal of the fagsystem as a page: its FejlTekst, and its FejlKode."""
    return refused(STATUS_OF_CODE.get(refusal.code, 422), refusal.text, refusal.code.value)


@dataclass(frozen=True)
class ClaimsNow:
    """A party's payable claims; `stale` when the debitorsystem could not be asked."""

    claims: list[ClaimView]
    stale: bool = False

    def find(self, claim_id: UUID) -> ClaimView | None:
        return next((c for c in self.claims if c.claim_id == claim_id), None)


@dataclass(frozen=True)
class FagsystemSite(AuthorityPages):
    service: PaymentService
    pages: Pages
    name: str
    authority_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> UUID:
        return self.service.fagsystem_id

    @property
    def root(self) -> str:
        return f"/fagsystem/{self.id}"

    def citizen_url(self, cvr: str, part_id: str) -> str:
        return f"{self.base(cvr)}/borgere/{cpr_digits(part_id) or part_id}"

    @property
    def authorities(self) -> list[str]:
        return list(self.service.config.org_units)

    def org_units(self, cvr: str) -> list[UUID]:
        return sorted(self.service.config.org_units.get(cvr, ()), key=str)

    # --- guards ------------------------------------------------------------------------------

    def case_worker(self, request: Request) -> WebUser:
        """The signed-in case worker of this fagsystem (or the sign-in page, or 403)."""
        return self.pages.access.require(request, Role.SAGSBEHANDLER, str(self.id))

    def authority(self, cvr: str) -> str:
        """`cvr`, an authority this fagsystem has an agreement with."""
        try:
            self.service.check_authority(cvr)
        except Refused as refused:
            raise refusal(refused) from None
        return cvr

    async def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """A service call in a thread; its refusal is a page with its FejlTekst."""
        return await call_refusing((Refused,), refusal, fn, *args, **kwargs)

    def nav(self, cvr: str | None, current: str = "") -> list[NavItem]:
        items = [NavItem("Myndigheder", f"{self.root}/", current == "home")]
        if cvr is not None:
            base = self.base(cvr)
            items += [
                NavItem("Søg borger", f"{base}/", current == "search"),
                NavItem("Indbetalinger", f"{base}/indbetalinger", current == "payments"),
                NavItem("Tilbageførsler", f"{base}/tilbagefoersler", current == "reversals"),
            ]
        return items

    # --- the party's claims ------------------------------------------------------------------

    async def claims_now(self, cvr: str, part_id: str) -> ClaimsNow:
        """The party's payable claims in the authority: asked of the debitorsystem first, else
        as the overview holds them (then `stale`)."""
        stale = False
        try:
            await claims.refresh(self.service.engine, self.service.port, self.id, cvr, part_id)
        except (NoBusinessAnswer, InvalidCall):
            stale = True
        found = await asyncio.to_thread(
            claims.payable_claims, self.service.engine, self.id, cvr, part_id
        )
        return ClaimsNow(found, stale)

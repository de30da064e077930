"""What every page of collections staff shares: who may see it (the staff of the authority in
the address), the menu, the addresses, and the debitorsystem's refusals as pages.

The pages use the debitorsystem's own `DebitorService` in-process (the same part); its calls
block on the database, so the pages run them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from starlette.requests import Request

from indbetaling.debitorsystem.api import STATUS_OF_CODE
from indbetaling.debitorsystem.domain import Rejected
from indbetaling.debitorsystem.service import DebitorService, InvalidRequest
from indbetaling.ui.access import PageError
from indbetaling.ui.pages import NavItem, Pages
from indbetaling.ui.site import AuthorityPages, call_refusing, refused
from indbetaling.ui.users import Role, WebUser

T = TypeVar("T")
PREFIX = "/debitorsystem"


def refusal(refusal: Rejected | InvalidRequest) -> PageError:
    """A refusal of the debitorsystem as a page: its FejlTekst, and its FejlKode."""
    if isinstance(refusal, InvalidRequest):
        return refused(422, str(refusal), "UGYLDIG_FORESPOERGSEL")
    return refused(STATUS_OF_CODE.get(refusal.code, 409), refusal.text, refusal.code.value)


@dataclass(frozen=True)
class StaffSite(AuthorityPages):
    service: DebitorService
    pages: Pages
    authority_names: Mapping[str, str] = field(default_factory=dict)

    root = PREFIX

    def claim_url(self, cvr: str, claim_id: UUID) -> str:
        return f"{self.base(cvr)}/fordringer/{claim_id}"

    def staff(self, request: Request, cvr: str) -> WebUser:
        """The signed-in staff of authority `cvr` (or the sign-in page, or 403)."""
        return self.pages.access.require(request, Role.OPKRAEVNING, cvr)

    def nav(self, cvr: str, current: str = "") -> list[NavItem]:
        base = self.base(cvr)
        return [
            NavItem("Søg fordring", f"{base}/", current == "search"),
            NavItem("Tilbageførselsordrer", f"{base}/tilbagefoerselsordrer", current == "orders"),
            NavItem(
                "Manuel behandling",
                f"{base}/tilbagefoerselsordrer?tilstand=MANUEL",
                current == "manual",
            ),
        ]

    async def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """A service call in a thread; its refusal is a page with its FejlTekst."""
        return await call_refusing((Rejected, InvalidRequest), refusal, fn, *args, **kwargs)

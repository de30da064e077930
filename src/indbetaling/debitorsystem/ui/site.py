"""What every page of collections staff shares: who may see it (the staff of the authority in
the address), the menu, the addresses, and the debitorsystem's refusals as pages.

The pages use the debitorsystem's own `DebitorService` in-process (the same part); its calls
block on the database, so the pages run them in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Query
from starlette.requests import Request

from indbetaling.debitorsystem.api import STATUS_OF_CODE
from indbetaling.debitorsystem.domain import Rejected
from indbetaling.debitorsystem.service import DebitorService, InvalidRequest
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.ui.access import PageError
from indbetaling.ui.pages import NavItem, Pages
from indbetaling.ui.users import Role, WebUser

T = TypeVar("T")
PREFIX = "/debitorsystem"
QueryText = Annotated[str | None, Query(max_length=400)]
"""An optional query parameter of a page (a filter, a page key, a message)."""


def refusal(refused: Rejected | InvalidRequest) -> PageError:
    """A refusal of the debitorsystem as a page: its FejlTekst, and its FejlKode."""
    if isinstance(refused, InvalidRequest):
        return PageError(422, "Det kunne ikke lade sig gøre", str(refused), "UGYLDIG_FORESPOERGSEL")
    return PageError(
        STATUS_OF_CODE.get(refused.code, 409),
        "Det kunne ikke lade sig gøre",
        refused.text,
        refused.code.value,
    )


@dataclass(frozen=True)
class StaffSite:
    service: DebitorService
    pages: Pages
    authority_names: Mapping[str, str] = field(default_factory=dict)

    root = PREFIX

    def base(self, cvr: str) -> str:
        return f"{self.root}/myndigheder/{cvr}"

    def claim_url(self, cvr: str, claim_id: UUID) -> str:
        return f"{self.base(cvr)}/fordringer/{claim_id}"

    def authority_text(self, cvr: str) -> str:
        name = self.authority_names.get(cvr)
        return f"{name} ({cvr})" if name else cvr

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
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (Rejected, InvalidRequest) as refused:
            raise refusal(refused) from None


def uuid_in_path(text: str, what: str) -> UUID:
    """An id from the address; a 404 page when it is none."""
    try:
        return parse_uuid(text, what)
    except InvalidId:
        raise PageError(
            404, f"{what} findes ikke", f"Adressen har ikke et gyldigt {what}."
        ) from None

"""What every part's site (`<part>/ui/site.py`) shares: the address's parameters read as pages
answer them (an id or a CPR number that is none is a 404 page, a query text has a length
limit), a refusal of a part's service as a page, and a name shown with its id.

Each part's site keeps what is its own: who may open its pages, its menu and its addresses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Query
from starlette.requests import Request
from starlette.responses import HTMLResponse

from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.ui.access import PageError
from indbetaling.ui.cpr import InvalidCpr, parse_cpr
from indbetaling.ui.pages import NavItem, Pages

T = TypeVar("T")
QueryText = Annotated[str | None, Query(max_length=400)]
"""An optional query parameter of a page (a filter, a page key, a message)."""
REFUSED_TITLE = "Det kunne ikke lade sig gøre"


def refused(status: int, text: str, code: str) -> PageError:
    """A part's service said no: the page shows its Danish text and its code."""
    return PageError(status, REFUSED_TITLE, text, code)


async def call_refusing(
    refusals: tuple[type[Exception], ...],
    as_page: Callable[[Any], PageError],
    fn: Callable[..., T],
    *args: object,
    **kwargs: object,
) -> T:
    """A blocking service call in a thread; a refusal of the service (one of `refusals`) is
    the page `as_page` makes of it."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except refusals as refused:
        raise as_page(refused) from None


class SitePages:
    """A part's site: each of its pages gets the site and a menu."""

    pages: Pages

    def page(
        self, request: Request, template: str, nav: list[NavItem], **context: Any
    ) -> HTMLResponse:
        """Page `template` with the menu `nav` (`status` and the rest as `Pages.render`)."""
        return self.pages.render(request, template, nav=nav, site=self, **context)


class AuthorityPages(SitePages):
    """A part's site whose pages each are about one authority (its CVR in the address, under
    `<root>/myndigheder/<cvr>`): every page shows the part's menu for that authority and gets
    the site and the CVR."""

    authority_names: Mapping[str, str]

    @property
    def root(self) -> str:
        raise NotImplementedError

    def base(self, cvr: str) -> str:
        return f"{self.root}/myndigheder/{cvr}"

    def authority_text(self, cvr: str) -> str:
        return named(self.authority_names, cvr)

    def nav(self, cvr: str, current: str = "") -> list[NavItem]:
        raise NotImplementedError

    def render(
        self, request: Request, template: str, cvr: str, menu: str, **context: Any
    ) -> HTMLResponse:
        """Authority `cvr`'s page `template`, `menu` the menu's current item."""
        return self.page(request, template, self.nav(cvr, menu), cvr=cvr, **context)


def uuid_in_path(text: str, what: str) -> UUID:
    """An id from the address; a 404 page when it is none."""
    try:
        return parse_uuid(text, what)
    except InvalidId:
        raise PageError(
            404, f"{what} findes ikke", f"Adressen har ikke et gyldigt {what}."
        ) from None


def party_in_path(cpr: str) -> str:
    """The party of a CPR number in the address; a 404 page when it is none."""
    try:
        return parse_cpr(cpr)
    except InvalidCpr:
        raise PageError(
            404, "Borgeren findes ikke", "Adressen har ikke et gyldigt CPR-nummer."
        ) from None


def named(names: Mapping[str, str], key: str) -> str:
    """`Navn (key)` when the key has a name, else the key alone."""
    name = names.get(key)
    return f"{name} ({key})" if name else key

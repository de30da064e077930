"""What every Beskedfordeler page shares: where the pages live, who may open them, the menu,
and refusals of the service shown as pages.

The pages live under `/beskedfordeler/sider/`, beside the Beskedfordeler's HTTP interface
(`/beskedfordeler/BeskedAfsend`, `/dueslag`, `/vaerdilister`, `/fejlkoe`, `/afviste`), which
only answers calls the gateway forwarded. The pages answer people signed in with the session
cookie, so neither kind of caller reaches the other's routes by accident, and the interface's
addresses stay as CONTRACT gives them.

A subscriber's administrator (`BESKEDFORDELER_ADMIN`, scope: the subscriber it-system's id) sees
its own mailboxes, subscriptions, value lists and error queue only: another subscriber's id in
the address answers exactly like an unknown one. The operator (`BESKEDFORDELER_DRIFT`) sees
every mailbox's depth, the whole error queue and the refused publications. The pages use the
Beskedfordeler's own service in-process; they read no other part's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import HTMLResponse

from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter, Mailbox
from indbetaling.beskedfordeler.service import Beskedfordeler, BeskedfordelerError
from indbetaling.beskedfordeler.transport import AmqpTransport
from indbetaling.ui.access import PageError
from indbetaling.ui.pages import NavItem, Pages
from indbetaling.ui.site import SitePages, call_refusing, named, refused
from indbetaling.ui.users import Role, WebUser

T = TypeVar("T")
MAX_NAME = 200
PAGES_ROOT = "/beskedfordeler/sider"
MESSAGE_TYPE_NAMES = {BESKEDTYPE_FORDRING_TIL_INDBETALING: "FordringTilIndbetaling"}


def refusal(exc: BeskedfordelerError) -> PageError:
    """A refusal of the Beskedfordeler as a page, with its Danish text."""
    if exc.status == 44:
        return PageError(404, "Findes ikke", str(exc), "IKKE_FUNDET")
    return refused(422, str(exc), "UGYLDIG")


def name_error(name: str, whose: str) -> str:
    """What is wrong with a new mailbox's or value list's name (`whose`: `dueslagets`,
    `værdilistens`); empty when nothing is."""
    if not name:
        return f"Skriv {whose} navn"
    if len(name) > MAX_NAME:
        return f"{whose.capitalize()} navn må højst have {MAX_NAME} tegn"
    return ""


def message_type_text(message_type: str | None) -> str:
    if message_type is None:
        return "alle beskedtyper"
    name = MESSAGE_TYPE_NAMES.get(message_type.lower())
    return f"{name} ({message_type})" if name else message_type


@dataclass(frozen=True)
class BeskedfordelerSite(SitePages):
    bf: Beskedfordeler
    pages: Pages
    subscriber_names: Mapping[str, str] = field(default_factory=dict)
    """What the pages call each subscriber it-system (the demo's fagsystems by name)."""
    amqp: AmqpTransport | None = None
    """Where pull mailboxes live when they are RabbitMQ queues."""

    # --- addresses ---------------------------------------------------------------------------

    def subscriber_root(self, subscriber_id: str) -> str:
        return f"{PAGES_ROOT}/abonnenter/{subscriber_id}"

    def mailbox_url(self, mailbox: Mailbox) -> str:
        return f"{self.subscriber_root(mailbox.subscriber_id)}/dueslag/{mailbox.mailbox_id}"

    def subscriber_text(self, subscriber_id: str) -> str:
        return named(self.subscriber_names, subscriber_id)

    # --- guards ------------------------------------------------------------------------------

    def administrator(self, request: Request, subscriber_id: str) -> WebUser:
        """The signed-in administrator of `subscriber_id` (or the sign-in page, or 403)."""
        return self.pages.access.require(request, Role.BESKEDFORDELER_ADMIN, subscriber_id)

    def operator(self, request: Request) -> WebUser:
        return self.pages.access.require(request, Role.BESKEDFORDELER_DRIFT)

    # --- the subscriber's own things (blocking: call them in a thread) -----------------------

    async def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """A service call in a thread; its refusal is a page with its Danish text."""
        return await call_refusing((BeskedfordelerError,), refusal, fn, *args, **kwargs)

    def own_mailbox(self, subscriber_id: str, mailbox_id: str) -> Mailbox:
        """The subscriber's mailbox; another's is a 404 page as an unknown one is."""
        try:
            return service.check_own_mailbox(self.bf, subscriber_id, mailbox_id)
        except BeskedfordelerError as exc:
            raise refusal(exc) from None

    def list_names(self, subscriber_id: str) -> dict[str, str]:
        """The subscriber's value lists' names, by id."""
        ids = service.search_value_lists(self.bf, first=0, limit=1000, caller=subscriber_id)
        found = service.list_value_lists(self.bf, ids, subscriber_id)
        return {i.list_id: i.name for i in found}

    # --- menus -------------------------------------------------------------------------------

    def subscriber_nav(self, subscriber_id: str, current: str = "") -> list[NavItem]:
        root = self.subscriber_root(subscriber_id)
        return [
            NavItem("Dueslag", f"{root}/", current == "mailboxes"),
            NavItem("Værdilister", f"{root}/vaerdilister/", current == "lists"),
            NavItem("Fejlkø", f"{root}/fejlkoe", current == "errors"),
        ]

    def subscriber_page(
        self, request: Request, template: str, subscriber_id: str, menu: str, **context: Any
    ) -> HTMLResponse:
        """Page `template` of a subscriber's administrator, `menu` the menu's current item."""
        nav = self.subscriber_nav(subscriber_id, menu)
        return self.page(request, template, nav, subscriber_id=subscriber_id, **context)

    def operator_nav(self, current: str = "") -> list[NavItem]:
        return [
            NavItem("Dueslag", f"{PAGES_ROOT}/drift/", current == "mailboxes"),
            NavItem("Fejlkø", f"{PAGES_ROOT}/drift/fejlkoe", current == "errors"),
            NavItem("Afviste beskeder", f"{PAGES_ROOT}/drift/afviste", current == "refused"),
        ]

    # --- depths ------------------------------------------------------------------------------

    async def depths(
        self, mailboxes: list[Mailbox], stored: Mapping[str, int]
    ) -> dict[str, int | None]:
        """How many messages wait in each mailbox: the database's count, or for a pull mailbox
        on RabbitMQ its queue's (None when the broker cannot be asked)."""
        found: dict[str, int | None] = {}
        for mailbox in mailboxes:
            if self.amqp is not None and not mailbox.is_push:
                found[mailbox.mailbox_id] = await self._queue_depth(mailbox.mailbox_id)
            else:
                found[mailbox.mailbox_id] = stored.get(mailbox.mailbox_id, 0)
        return found

    async def _queue_depth(self, mailbox_id: str) -> int | None:
        if self.amqp is None:
            return None
        try:
            queue = await self.amqp.declare_mailbox(mailbox_id)
        except Exception:  # a broker away or not yet connected: the page says "ukendt"
            return None
        result = queue.declaration_result
        return int(result.message_count or 0) if result is not None else None


def filter_text(f: Filter, list_names: Mapping[str, str]) -> list[str]:
    """A subscription's filter as the conditions a person reads."""
    parts = [f"Beskedtype: {message_type_text(f.message_type)}"]
    parts.append(f"Myndighed: {f.authority_cvr}" if f.authority_cvr else "Myndighed: alle")
    if f.object_action:
        parts.append(f"Objekthandling: {f.object_action}")
    if f.value_list_id:
        name = list_names.get(f.value_list_id, f.value_list_id)
        parts.append(f"Værdiliste: {name}")
    return parts

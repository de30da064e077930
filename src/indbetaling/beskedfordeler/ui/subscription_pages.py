"""A mailbox's subscriptions, for the subscriber's administrator (`Opret abonnement`):

    GET  …/dueslag/<dueslag>/abonnementer/ny                 a new subscription's filter
    POST …/dueslag/<dueslag>/abonnementer                    → the mailbox's page
    GET  …/dueslag/<dueslag>/abonnementer/<abonnement>       change a subscription's filter
    POST …/dueslag/<dueslag>/abonnementer/<abonnement>       → the mailbox's page
    GET  …/dueslag/<dueslag>/abonnementer/<abonnement>/slet  confirm the deletion first
    POST …/dueslag/<dueslag>/abonnementer/<abonnement>/slet  → the mailbox's page

(`…` is `/beskedfordeler/sider/abonnenter/<id>`.) A filter is a message type (one some
publisher may publish), optionally an authority's CVR number and optionally one of the
subscriber's own value lists. Bad input shows the form again with the reasons and stores
nothing; another subscriber's mailbox, subscription or value list answers as an unknown one.
"""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter, Mailbox, Subscription
from indbetaling.beskedfordeler.service import NotFound
from indbetaling.beskedfordeler.ui.site import (
    BeskedfordelerSite,
    filter_text,
    message_type_text,
    refusal,
)
from indbetaling.ui.access import field
from indbetaling.ui.confirm import FormRefused

_CVR = re.compile(r"^[0-9]{8}$")


def _typed_filter(
    site: BeskedfordelerSite, form: FormData, subscriber_id: str, keep: Filter | None
) -> tuple[Filter | None, dict[str, str], dict[str, str]]:
    """The filter the form asks for, or the errors; and the typed values to show again."""
    typed = {
        "beskedtype": field(form, "beskedtype", 100).strip(),
        "myndighed": field(form, "myndighed", 40).strip(),
        "vaerdiliste": field(form, "vaerdiliste", 100).strip(),
    }
    errors: dict[str, str] = {}
    if not typed["beskedtype"]:
        errors["beskedtype"] = "Vælg en beskedtype"
    elif typed["beskedtype"].lower() not in service.message_types(site.bf):
        errors["beskedtype"] = "Beskedtypen kendes ikke; vælg en af listens"
    if typed["myndighed"] and not _CVR.match(typed["myndighed"]):
        errors["myndighed"] = "Et CVR-nummer er 8 cifre, fx 29189846"
    if typed["vaerdiliste"] and typed["vaerdiliste"] not in site.list_names(subscriber_id):
        errors["vaerdiliste"] = "Værdilisten findes ikke blandt dine værdilister"
    if errors:
        return None, typed, errors
    chosen = Filter(
        message_type=typed["beskedtype"].lower(),
        authority_cvr=typed["myndighed"] or None,
        object_action=keep.object_action if keep else None,
        value_list_id=typed["vaerdiliste"] or None,
    )
    return chosen, typed, {}


def _values_of(f: Filter) -> dict[str, str]:
    return {
        "beskedtype": f.message_type or "",
        "myndighed": f.authority_cvr or "",
        "vaerdiliste": f.value_list_id or "",
    }


def _find_subscription(
    site: BeskedfordelerSite, subscriber_id: str, mailbox_id: str, subscription_id: str
) -> Subscription:
    subscriptions = service.subscriptions_of(site.bf, subscriber_id, mailbox_id)
    found = next((s for s in subscriptions if s.subscription_id == subscription_id), None)
    if found is None:
        raise refusal(NotFound(f"Abonnementet {subscription_id[:40]} findes ikke"))
    return found


def _own_subscription(
    site: BeskedfordelerSite, subscriber_id: str, mailbox_id: str, subscription_id: str
) -> tuple[Mailbox, Subscription]:
    """The subscriber's mailbox and one of its subscriptions; another's answers as unknown."""
    mailbox = site.own_mailbox(subscriber_id, mailbox_id)
    return mailbox, _find_subscription(site, subscriber_id, mailbox_id, subscription_id)


async def _form_page(
    site: BeskedfordelerSite,
    request: Request,
    subscriber_id: str,
    mailbox: Mailbox,
    *,
    subscription: Subscription | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> Response:
    types = await asyncio.to_thread(service.message_types, site.bf)
    names = await asyncio.to_thread(site.list_names, subscriber_id)
    return site.subscriber_page(
        request,
        "beskedfordeler/subscription.html",
        subscriber_id,
        "mailboxes",
        status=422 if errors else 200,
        mailbox=mailbox,
        subscription=subscription,
        message_types=[(t, message_type_text(t)) for t in types],
        value_lists=sorted(names.items(), key=lambda item: item[1].lower()),
        values=values,
        errors=errors or {},
    )


async def _checked_filter(
    site: BeskedfordelerSite,
    request: Request,
    form: FormData,
    subscriber_id: str,
    mailbox: Mailbox,
    *,
    subscription: Subscription | None,
) -> Filter:
    """The filter a POSTed form asks for (a new one, or `subscription`'s changed); else the
    form again with what is wrong."""
    keep = subscription.filter if subscription else None
    chosen, typed, errors = await asyncio.to_thread(_typed_filter, site, form, subscriber_id, keep)
    if chosen is None:
        raise FormRefused(
            await _form_page(
                site,
                request,
                subscriber_id,
                mailbox,
                subscription=subscription,
                values=typed,
                errors=errors,
            )
        )
    return chosen


def subscription_router(site: BeskedfordelerSite) -> APIRouter:
    pages = site.pages
    bf = site.bf
    router = pages.router(site.subscriber_root("{subscriber_id}") + "/dueslag/{mailbox_id}")

    @router.get("/abonnementer/ny")
    async def new_subscription(request: Request, subscriber_id: str, mailbox_id: str) -> Response:
        site.administrator(request, subscriber_id)
        mailbox = await asyncio.to_thread(site.own_mailbox, subscriber_id, mailbox_id)
        return await _form_page(site, request, subscriber_id, mailbox, subscription=None, values={})

    @router.post("/abonnementer")
    async def create_subscription(
        request: Request, subscriber_id: str, mailbox_id: str
    ) -> Response:
        site.administrator(request, subscriber_id)
        form = await pages.access.form(request)
        mailbox = await asyncio.to_thread(site.own_mailbox, subscriber_id, mailbox_id)
        chosen = await _checked_filter(
            site, request, form, subscriber_id, mailbox, subscription=None
        )
        await site.call(service.subscribe_own, bf, subscriber_id, mailbox_id, chosen)
        return pages.redirect(request, site.mailbox_url(mailbox) + "?besked=oprettet")

    @router.get("/abonnementer/{subscription_id}")
    async def edit_subscription(
        request: Request, subscriber_id: str, mailbox_id: str, subscription_id: str
    ) -> Response:
        site.administrator(request, subscriber_id)
        mailbox, found = await asyncio.to_thread(
            _own_subscription, site, subscriber_id, mailbox_id, subscription_id
        )
        return await _form_page(
            site,
            request,
            subscriber_id,
            mailbox,
            subscription=found,
            values=_values_of(found.filter),
        )

    @router.post("/abonnementer/{subscription_id}")
    async def save_subscription(
        request: Request, subscriber_id: str, mailbox_id: str, subscription_id: str
    ) -> Response:
        site.administrator(request, subscriber_id)
        form = await pages.access.form(request)
        mailbox, found = await asyncio.to_thread(
            _own_subscription, site, subscriber_id, mailbox_id, subscription_id
        )
        chosen = await _checked_filter(
            site, request, form, subscriber_id, mailbox, subscription=found
        )
        await site.call(
            service.change_subscription, bf, subscriber_id, mailbox_id, subscription_id, chosen
        )
        return pages.redirect(request, site.mailbox_url(mailbox) + "?besked=gemt")

    @router.get("/abonnementer/{subscription_id}/slet")
    async def confirm_delete(
        request: Request, subscriber_id: str, mailbox_id: str, subscription_id: str
    ) -> Response:
        site.administrator(request, subscriber_id)
        mailbox, found = await asyncio.to_thread(
            _own_subscription, site, subscriber_id, mailbox_id, subscription_id
        )
        names = await asyncio.to_thread(site.list_names, subscriber_id)
        return pages.render(
            request,
            "beskedfordeler/subscription_delete.html",
            nav=site.subscriber_nav(subscriber_id, "mailboxes"),
            site=site,
            mailbox=mailbox,
            subscription=found,
            conditions=filter_text(found.filter, names),
        )

    @router.post("/abonnementer/{subscription_id}/slet")
    async def delete_subscription(
        request: Request, subscriber_id: str, mailbox_id: str, subscription_id: str
    ) -> Response:
        site.administrator(request, subscriber_id)
        await pages.access.form(request)
        mailbox = await asyncio.to_thread(site.own_mailbox, subscriber_id, mailbox_id)
        await site.call(service.unsubscribe, bf, subscriber_id, mailbox_id, subscription_id)
        return pages.redirect(request, site.mailbox_url(mailbox) + "?besked=slettet")

    return router

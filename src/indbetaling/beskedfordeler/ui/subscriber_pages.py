"""A subscriber's mailboxes and their subscriptions, for its administrator:

    GET  …/abonnenter/<id>/                                  mailboxes with depth and filters
    POST …/abonnenter/<id>/dueslag                           a new (pull) mailbox
    GET  …/abonnenter/<id>/dueslag/<dueslag>                 one mailbox: what waits, its filters

(`…` is `/beskedfordeler/sider`; the subscriptions' pages are in `subscription_pages`.) Another
subscriber's mailbox in the address answers as an unknown one does.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.ui.site import (
    MAX_NAME,
    BeskedfordelerSite,
    filter_text,
    name_error,
)
from indbetaling.ui.access import field

_CVR = re.compile(r"^[0-9]{8}$")
Notice = Annotated[str | None, Query(max_length=80)]
NOTICES = {
    "oprettet": "Abonnementet er oprettet.",
    "gemt": "Abonnementet er gemt.",
    "slettet": "Abonnementet er slettet.",
    "dueslag": "Dueslaget er oprettet.",
}


def subscriber_router(site: BeskedfordelerSite) -> APIRouter:
    pages = site.pages
    bf = site.bf
    router = pages.router(site.subscriber_root("{subscriber_id}"))

    @router.get("/")
    async def overview(request: Request, subscriber_id: str, besked: Notice = None) -> Response:
        site.administrator(request, subscriber_id)
        return await overview_page(request, subscriber_id, notice=NOTICES.get(besked or ""))

    async def overview_page(
        request: Request,
        subscriber_id: str,
        *,
        notice: str | None = None,
        name: str = "",
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        mailboxes = await asyncio.to_thread(service.mailboxes_of, bf, subscriber_id)
        stored = await asyncio.to_thread(service.mailbox_depths, bf)
        depths = await site.depths(mailboxes, stored)
        subscriptions = {
            m.mailbox_id: await asyncio.to_thread(
                service.subscriptions_of, bf, subscriber_id, m.mailbox_id
            )
            for m in mailboxes
        }
        names = await asyncio.to_thread(site.list_names, subscriber_id)
        failed = await asyncio.to_thread(service.error_queue, bf, [m.mailbox_id for m in mailboxes])
        return site.subscriber_page(
            request,
            "beskedfordeler/overview.html",
            subscriber_id,
            "mailboxes",
            status=status,
            mailboxes=mailboxes,
            depths=depths,
            subscriptions=subscriptions,
            filters={
                s.subscription_id: filter_text(s.filter, names)
                for subs in subscriptions.values()
                for s in subs
            },
            failed=len(failed),
            notice=notice,
            name=name,
            errors=errors or {},
        )

    @router.post("/dueslag")
    async def new_mailbox(request: Request, subscriber_id: str) -> Response:
        site.administrator(request, subscriber_id)
        form = await pages.access.form(request)
        name = field(form, "navn", 400).strip()
        error = name_error(name, "dueslagets")
        if error:
            return await overview_page(
                request, subscriber_id, name=name[:MAX_NAME], errors={"navn": error}, status=422
            )
        mailbox = await asyncio.to_thread(service.create_mailbox, bf, subscriber_id, name=name)
        return pages.redirect(request, site.mailbox_url(mailbox) + "?besked=dueslag")

    @router.get("/dueslag/{mailbox_id}")
    async def mailbox_page(
        request: Request, subscriber_id: str, mailbox_id: str, besked: Notice = None
    ) -> Response:
        site.administrator(request, subscriber_id)
        mailbox = await asyncio.to_thread(site.own_mailbox, subscriber_id, mailbox_id)
        stored = await asyncio.to_thread(service.mailbox_depths, bf)
        depth = (await site.depths([mailbox], stored))[mailbox_id]
        in_rabbitmq = site.amqp is not None and not mailbox.is_push
        waiting = (
            []
            if in_rabbitmq
            else await asyncio.to_thread(
                service.waiting_messages, bf, subscriber_id, mailbox_id, 100
            )
        )
        subscriptions = await asyncio.to_thread(
            service.subscriptions_of, bf, subscriber_id, mailbox_id
        )
        names = await asyncio.to_thread(site.list_names, subscriber_id)
        return site.subscriber_page(
            request,
            "beskedfordeler/mailbox.html",
            subscriber_id,
            "mailboxes",
            mailbox=mailbox,
            depth=depth,
            in_rabbitmq=in_rabbitmq,
            waiting=waiting,
            subscriptions=subscriptions,
            filters={s.subscription_id: filter_text(s.filter, names) for s in subscriptions},
            notice=NOTICES.get(besked or ""),
        )

    return router

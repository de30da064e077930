"""The error queue (fejlkø): messages whose push gave up, each with the reason, and re-delivery.

    GET  …/abonnenter/<id>/fejlkoe                   the subscriber's own mailboxes' entries
    POST …/abonnenter/<id>/fejlkoe/<nr>/genlever     → back in its mailbox, tries counted anew
    GET  …/drift/                                    every mailbox with its depth (operator)
    GET  …/drift/fejlkoe                             every subscriber's entries (operator)
    POST …/drift/fejlkoe/<nr>/genlever
    GET  …/drift/afviste                             refused publications with their reasons

(`…` is `/beskedfordeler/sider`.) A subscriber's administrator re-delivers only entries of its
own mailboxes; another's number answers as an unknown one.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Mailbox
from indbetaling.beskedfordeler.service import BeskedfordelerError, NotFound
from indbetaling.beskedfordeler.store import FailedMessage
from indbetaling.beskedfordeler.ui.site import PAGES_ROOT, BeskedfordelerSite, refusal
from indbetaling.ui.pages import NavItem

Redelivered = Annotated[int | None, Query(ge=0)]
REFUSED_SHOWN = 100


def _gone(seq: int) -> NotFound:
    return NotFound(f"Fejlkø-posten {seq} findes ikke (måske er den allerede genleveret)")


def _queue_page(
    site: BeskedfordelerSite,
    request: Request,
    boxes: list[Mailbox],
    failed: list[FailedMessage],
    *,
    nav: list[NavItem],
    action_root: str,
    redelivered: int | None,
    operator: bool = False,
) -> Response:
    """The error queue's entries of `boxes`, each re-delivered by a POST under `action_root`."""
    return site.page(
        request,
        "beskedfordeler/error_queue.html",
        nav,
        failed=failed,
        mailbox_names={m.mailbox_id: m.name for m in boxes},
        owners={m.mailbox_id: m.subscriber_id for m in boxes},
        operator=operator,
        action_root=action_root,
        redelivered=redelivered,
    )


def error_queue_router(site: BeskedfordelerSite) -> APIRouter:
    pages = site.pages
    bf = site.bf
    router = pages.router(site.subscriber_root("{subscriber_id}"))

    def own_boxes(subscriber_id: str) -> list[str]:
        return [m.mailbox_id for m in service.mailboxes_of(bf, subscriber_id)]

    @router.get("/fejlkoe")
    async def queue(
        request: Request, subscriber_id: str, genleveret: Redelivered = None
    ) -> Response:
        site.administrator(request, subscriber_id)
        boxes = await asyncio.to_thread(service.mailboxes_of, bf, subscriber_id)
        failed = await asyncio.to_thread(service.error_queue, bf, [m.mailbox_id for m in boxes])
        return _queue_page(
            site,
            request,
            boxes,
            failed,
            nav=site.subscriber_nav(subscriber_id, "errors"),
            action_root=site.subscriber_root(subscriber_id) + "/fejlkoe",
            redelivered=genleveret,
        )

    @router.post("/fejlkoe/{seq}/genlever")
    async def redeliver(request: Request, subscriber_id: str, seq: int) -> Response:
        site.administrator(request, subscriber_id)
        await pages.access.form(request)

        def own_redeliver() -> None:
            boxes = own_boxes(subscriber_id)
            if not any(f.seq == seq for f in service.error_queue(bf, boxes)):
                raise _gone(seq)
            service.redeliver(bf, seq)

        await site.call(own_redeliver)
        return pages.redirect(
            request, site.subscriber_root(subscriber_id) + f"/fejlkoe?genleveret={seq}"
        )

    return router


def operator_router(site: BeskedfordelerSite) -> APIRouter:
    pages = site.pages
    bf = site.bf
    router = pages.router(f"{PAGES_ROOT}/drift")

    @router.get("/")
    async def mailboxes(request: Request) -> Response:
        site.operator(request)
        boxes = await asyncio.to_thread(service.all_mailboxes, bf)
        stored = await asyncio.to_thread(service.mailbox_depths, bf)
        depths = await site.depths(boxes, stored)
        failed = await asyncio.to_thread(service.error_queue, bf)
        failed_per_box: dict[str, int] = {}
        for item in failed:
            failed_per_box[item.mailbox_id] = failed_per_box.get(item.mailbox_id, 0) + 1
        refused = await asyncio.to_thread(service.refused_count, bf)
        known = [d for d in depths.values() if d is not None]
        return site.page(
            request,
            "beskedfordeler/operator.html",
            site.operator_nav("mailboxes"),
            mailboxes=sorted(boxes, key=lambda m: (site.subscriber_text(m.subscriber_id), m.name)),
            depths=depths,
            total=sum(known),
            failed_per_box=failed_per_box,
            failed=len(failed),
            refused=refused,
        )

    @router.get("/fejlkoe")
    async def queue(request: Request, genleveret: Redelivered = None) -> Response:
        site.operator(request)
        boxes = await asyncio.to_thread(service.all_mailboxes, bf)
        failed = await asyncio.to_thread(service.error_queue, bf)
        return _queue_page(
            site,
            request,
            boxes,
            failed,
            nav=site.operator_nav("errors"),
            action_root=f"{PAGES_ROOT}/drift/fejlkoe",
            redelivered=genleveret,
            operator=True,
        )

    @router.post("/fejlkoe/{seq}/genlever")
    async def redeliver(request: Request, seq: int) -> Response:
        site.operator(request)
        await pages.access.form(request)
        try:
            await asyncio.to_thread(service.redeliver, bf, seq)
        except NotFound:
            raise refusal(_gone(seq)) from None
        except BeskedfordelerError as exc:
            raise refusal(exc) from None
        return pages.redirect(request, f"{PAGES_ROOT}/drift/fejlkoe?genleveret={seq}")

    @router.get("/afviste")
    async def refused(request: Request) -> Response:
        site.operator(request)
        found = await asyncio.to_thread(service.refused, bf, None, 0, REFUSED_SHOWN)
        count = await asyncio.to_thread(service.refused_count, bf)
        return site.page(
            request,
            "beskedfordeler/refused.html",
            site.operator_nav("refused"),
            refused=found,
            count=count,
            shown=REFUSED_SHOWN,
        )

    return router

"""A subscriber's value lists of CPR numbers, for its administrator:

    GET  …/abonnenter/<id>/vaerdilister/              its lists with their counts; a new one
    POST …/abonnenter/<id>/vaerdilister               → the new list's page
    GET  …/abonnenter/<id>/vaerdilister/<liste>       the count, the values (masked)
    POST …/vaerdilister/<liste>/upload                a CSV file of CPR numbers (multipart)
    POST …/vaerdilister/<liste>/fjern                 remove typed CPR numbers

A file with a bad line, too big a file, or a removal with a bad CPR number changes nothing;
the page says what is wrong, line by line. Another subscriber's list answers as an unknown one.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.service import BeskedfordelerError
from indbetaling.beskedfordeler.store import ValueListInfo
from indbetaling.beskedfordeler.ui.cpr_file import (
    MAX_FILE_BYTES,
    UnreadableFile,
    read_cpr_file,
    too_big_text,
)
from indbetaling.beskedfordeler.ui.site import MAX_NAME, BeskedfordelerSite, name_error, refusal
from indbetaling.ui.access import CSRF_REFUSED, field
from indbetaling.ui.cpr import InvalidCpr, parse_cpr
from indbetaling.ui.sessions import CSRF_FIELD, check_csrf

SHOWN_VALUES = 200
MAX_REMOVE_TEXT = 100_000
MULTIPART_SLACK = 64 * 1024
"""What a form's other fields and the multipart framing may add to the file's size."""
DRAIN_LIMIT = 256 * 1024 * 1024
"""How much of a refused, too big upload is read and thrown away (so the browser sees the
answer rather than a reset connection); beyond it the connection is simply closed."""


async def _drain(request: Request) -> None:
    read = 0
    async for chunk in request.stream():
        read += len(chunk)
        if read > DRAIN_LIMIT:
            break


def _count(request: Request, name: str) -> int | None:
    """A count in the address after a change (`?laest=3&nye=2`); None when it is none."""
    text = request.query_params.get(name, "")
    return int(text) if text.isdigit() and len(text) <= 9 else None


def _typed_cprs(text: str) -> tuple[list[str], list[str]]:
    """The parties of CPR numbers typed one a line, and the bad lines."""
    values: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(parse_cpr(line))
        except InvalidCpr as exc:
            problems.append(f"Linje {number}: {exc}")
    return values, problems


def _list_url(site: BeskedfordelerSite, subscriber_id: str, list_id: str) -> str:
    return site.subscriber_root(subscriber_id) + f"/vaerdilister/{list_id}"


def _own_list(
    site: BeskedfordelerSite, subscriber_id: str, list_id: str
) -> tuple[ValueListInfo, list[str]]:
    try:
        return service.read_value_list(site.bf, list_id, SHOWN_VALUES, subscriber_id)
    except BeskedfordelerError as exc:
        raise refusal(exc) from None


def _own_lists(site: BeskedfordelerSite, subscriber_id: str) -> list[ValueListInfo]:
    ids = service.search_value_lists(site.bf, first=0, limit=1000, caller=subscriber_id)
    found = service.list_value_lists(site.bf, ids, subscriber_id)
    return sorted(found, key=lambda i: i.name.lower())


async def _list_page(
    site: BeskedfordelerSite,
    request: Request,
    subscriber_id: str,
    list_id: str,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    remove_text: str = "",
    status: int = 200,
) -> Response:
    info, values = await asyncio.to_thread(_own_list, site, subscriber_id, list_id)
    return site.subscriber_page(
        request,
        "beskedfordeler/value_list.html",
        subscriber_id,
        "lists",
        status=status,
        info=info,
        values=values,
        shown=SHOWN_VALUES,
        notice=notice,
        errors=errors or {},
        problems=problems or [],
        remove_text=remove_text,
        max_mb=MAX_FILE_BYTES // (1024 * 1024),
    )


def value_list_router(site: BeskedfordelerSite) -> APIRouter:
    pages = site.pages
    bf = site.bf
    router = pages.router(site.subscriber_root("{subscriber_id}") + "/vaerdilister")

    async def lists_page(
        request: Request,
        subscriber_id: str,
        *,
        name: str = "",
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        found = await asyncio.to_thread(_own_lists, site, subscriber_id)
        return site.subscriber_page(
            request,
            "beskedfordeler/value_lists.html",
            subscriber_id,
            "lists",
            status=status,
            lists=found,
            name=name,
            errors=errors or {},
        )

    @router.get("/")
    async def lists(request: Request, subscriber_id: str) -> Response:
        site.administrator(request, subscriber_id)
        return await lists_page(request, subscriber_id)

    @router.post("")
    async def create(request: Request, subscriber_id: str) -> Response:
        site.administrator(request, subscriber_id)
        form = await pages.access.form(request)
        name = field(form, "navn", 400).strip()
        error = name_error(name, "værdilistens")
        if error:
            return await lists_page(
                request, subscriber_id, name=name[:MAX_NAME], errors={"navn": error}, status=422
            )
        list_id = await asyncio.to_thread(service.create_value_list, bf, subscriber_id, name)
        return pages.redirect(request, _list_url(site, subscriber_id, list_id) + "?oprettet=1")

    @router.get("/{list_id}")
    async def one_list(request: Request, subscriber_id: str, list_id: str) -> Response:
        site.administrator(request, subscriber_id)
        read, new, removed = (_count(request, name) for name in ("laest", "nye", "fjernet"))
        notice = None
        if _count(request, "oprettet"):
            notice = "Værdilisten er oprettet. Indlæs CPR-numre fra en CSV-fil nedenfor."
        if read is not None and new is not None:
            notice = f"{read} CPR-numre læst fra filen; {new} var nye på listen."
        if removed is not None:
            notice = f"{removed} CPR-numre fjernet fra listen."
        return await _list_page(site, request, subscriber_id, list_id, notice=notice)

    @router.post("/{list_id}/fjern")
    async def remove(request: Request, subscriber_id: str, list_id: str) -> Response:
        site.administrator(request, subscriber_id)
        form = await pages.access.form(request)
        await asyncio.to_thread(_own_list, site, subscriber_id, list_id)
        typed = field(form, "vaerdier", MAX_REMOVE_TEXT)
        values, problems = _typed_cprs(typed)
        error = ""
        if problems:
            error = "Nogle linjer er ikke CPR-numre, så intet er fjernet"
        elif not values:
            error = "Skriv de CPR-numre, der skal fjernes, ét på hver linje"
        if error:
            return await _list_page(
                site,
                request,
                subscriber_id,
                list_id,
                errors={"vaerdier": error},
                problems=problems[:20],
                remove_text=typed[:2000],
                status=422,
            )
        removed = await site.call(service.remove_values, bf, list_id, values, subscriber_id)
        return pages.redirect(
            request, _list_url(site, subscriber_id, list_id) + f"?fjernet={removed}"
        )

    return router


def upload_router(site: BeskedfordelerSite) -> APIRouter:
    """A CSV file of CPR numbers into one of the subscriber's value lists."""
    pages = site.pages
    router = pages.router(site.subscriber_root("{subscriber_id}") + "/vaerdilister")

    @router.post("/{list_id}/upload")
    async def upload(request: Request, subscriber_id: str, list_id: str) -> Response:
        site.administrator(request, subscriber_id)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FILE_BYTES + MULTIPART_SLACK:
            await _drain(request)
            return await _list_page(
                site,
                request,
                subscriber_id,
                list_id,
                errors={"fil": too_big_text(int(declared))},
                status=413,
            )
        try:
            form = await request.form(max_files=1, max_fields=5)
        except HTTPException:
            return await _list_page(
                site,
                request,
                subscriber_id,
                list_id,
                errors={"fil": "Formularen kunne ikke læses; vælg én CSV-fil og prøv igen"},
                status=400,
            )
        try:
            if not check_csrf(pages.access.session(request), form.get(CSRF_FIELD)):
                raise CSRF_REFUSED
            await asyncio.to_thread(_own_list, site, subscriber_id, list_id)
            upload = form.get("fil")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return await _list_page(
                    site,
                    request,
                    subscriber_id,
                    list_id,
                    errors={"fil": "Vælg en CSV-fil med CPR-numre"},
                    status=422,
                )
            data = await upload.read(MAX_FILE_BYTES + 1)
        finally:
            await form.close()
        try:
            found = read_cpr_file(data)
        except UnreadableFile as exc:
            return await _list_page(
                site, request, subscriber_id, list_id, errors={"fil": str(exc)}, status=422
            )
        if found.bad_lines:
            text = (
                f"{len(found.bad_lines)} af filens {found.lines} linjer er ikke CPR-numre, så "
                "intet er indlæst. Ret linjerne og indlæs filen igen."
            )
            return await _list_page(
                site,
                request,
                subscriber_id,
                list_id,
                errors={"fil": text},
                problems=found.problems,
                status=422,
            )
        added = await site.call(service.add_values, site.bf, list_id, found.values, subscriber_id)
        return pages.redirect(
            request,
            _list_url(site, subscriber_id, list_id) + f"?laest={len(found.values)}&nye={added}",
        )

    return router

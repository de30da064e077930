"""The Beskedfordeler over HTTP, to be mounted under `/beskedfordeler`.

Who calls is decided by a `CallerResolver`: a callable that takes the request and returns the
caller's it-system UUID, or raises `Unauthenticated` (answered 401). Nothing here trusts a header
by itself. The production resolver is `gateway_caller(verifier)`: the Serviceplatform gateway
authenticates the subscriber's token, checks its service agreement and forwards the call with
`X-Serviceplatform-Caller`, a short-lived JWT signed with the platform's key (see
`indbetaling.caller`); the resolver verifies it against the platform's JWKS for the audience
`BESKEDFORDELER_ENTITY_ID` and takes the it-system from its `sub`. This is the same check the
other providers make, so the subscriber's identity has one source: the platform's token.

- `POST /BeskedAfsend`: publish (`AfsendBeskedInput` or a bare `Haendelsesbesked`), answered
  `AfsendBeskedOutput/StandardRetur/StatusKode` 20, or 40 with the reason.
- `GET /dueslag/{id}/beskeder?antal=n` (`BeskedHent`), `POST …/{tag}/ack` and `…/{tag}/nack`:
  the caller's own mailboxes only; another's answers 404 exactly like an unknown one.
- `POST/GET /dueslag`, `PUT/DELETE /dueslag/{id}`, `POST/GET /dueslag/{id}/abonnementer` and
  `DELETE …/abonnementer/{aid}`: a subscriber's own mailboxes and subscriptions (`dueslag_api`).
- `POST /Vaerdiliste`: KOMBIT's value-list SOAP operations; REST mirror under `/vaerdilister`.
  Only a list's owner sees it: another's answers 404 (StatusKode 44) like an unknown one.
- `GET /fejlkoe` and `POST /fejlkoe/{seq}/genlever`: the caller's part of the error queue.
- `GET /afviste`: the publications of the caller that were refused, with the reason, newest
  first (operators see all of them with `indbetaling beskedfordeler afviste`).

A refused REST request is answered with a problem document (`indbetaling.http_errors`); the
SOAP-shaped operations answer with their `StandardRetur`. The async endpoints await only the
body and the transport; database work and parsing run in the threadpool.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indbetaling.besked import afsend_besked_output
from indbetaling.beskedfordeler import service, store, vaerdiliste_soap
from indbetaling.beskedfordeler.dueslag_api import mailbox_routes
from indbetaling.beskedfordeler.problems import CallerResolver, Unauthenticated
from indbetaling.beskedfordeler.problems import call as _call
from indbetaling.beskedfordeler.service import Beskedfordeler, BeskedfordelerError
from indbetaling.beskedfordeler.transport import DatabaseTransport, MailboxTransport
from indbetaling.caller import CallerRejected, CallerVerifier
from indbetaling.http_body import BodyRefused, read_limited_body
from indbetaling.http_errors import CODE_OF_STATUS, ProblemError
from indbetaling.xml_safety import DEFAULT_MAX_BYTES

XML = "text/xml; charset=utf-8"
T = TypeVar("T")


def gateway_caller(verifier: CallerVerifier) -> CallerResolver:
    """A `CallerResolver` trusting only the gateway-signed `X-Serviceplatform-Caller` header.

    Build the verifier as `CallerVerifier(platform.jwks(), BESKEDFORDELER_ENTITY_ID)`. The
    authority the caller acts for (its token's context) is left in `request.state.authority_cvr`.
    """

    def resolve(request: Request) -> str:
        try:
            caller = verifier.verify(request.headers)
        except CallerRejected as exc:
            raise Unauthenticated(str(exc)) from None
        request.state.authority_cvr = caller.authority_cvr
        return str(caller.it_system_id)

    return resolve


class Besked(BaseModel):
    tag: int
    besked_id: str
    redelivered: bool
    haendelsesbesked: str


class ValueListIn(BaseModel):
    navn: str = Field(min_length=1, max_length=200)
    note: str | None = None
    vaerdier: list[str] = Field(default_factory=list)


class ValuesIn(BaseModel):
    vaerdier: list[str]


class ValueListOut(BaseModel):
    id: str
    navn: str
    ejer: str | None
    antal: int
    vaerdier: list[str] | None = None


class FailedOut(BaseModel):
    seq: int
    dueslag: str
    besked_id: str
    forsoeg: int
    fejl: str
    tidspunkt: str


class RefusedOut(BaseModel):
    seq: int
    besked_id: str | None
    transaktions_id: str | None
    aarsag: str
    tidspunkt: str
    via: str
    stoerrelse: int = Field(description="bytes sent; `indhold` holds at most the first 64,000")
    indhold: str


async def _body(request: Request, limit: int) -> bytes:
    try:
        return await read_limited_body(request, limit)
    except BodyRefused as exc:
        raise ProblemError(exc.http_status, CODE_OF_STATUS[exc.http_status], str(exc)) from None


def _no_delivery(tag: int) -> ProblemError:
    return ProblemError(404, CODE_OF_STATUS[404], f"Leverancen {tag} findes ikke i dueslaget")


def beskedfordeler_router(
    bf: Beskedfordeler,
    caller: CallerResolver,
    transport: MailboxTransport | None = None,
) -> APIRouter:
    """The Beskedfordeler's HTTP endpoints; `transport` defaults to the database mailboxes."""
    mailboxes: MailboxTransport = transport or DatabaseTransport(bf)
    router = APIRouter(tags=["beskedfordeler"])

    def who(request: Request) -> str:
        try:
            return caller(request)
        except Unauthenticated as exc:
            text = str(exc) or "Ukendt kalder"
            raise ProblemError(401, CODE_OF_STATUS[401], text) from None

    def own(subscriber: str, mailbox_id: str) -> None:
        _call(lambda: service.check_own_mailbox(bf, subscriber, mailbox_id))

    def route(publisher: str, body: bytes) -> service.Routed | bytes:
        try:
            return service.route_only(bf, publisher, body)
        except BeskedfordelerError as exc:
            return afsend_besked_output(40, str(exc)[:500])

    @router.post("/BeskedAfsend", response_class=Response, summary="BeskedAfsend")
    async def publish(request: Request, publisher: str = Depends(who)) -> Response:
        body = await _body(request, DEFAULT_MAX_BYTES)
        routed = await run_in_threadpool(route, publisher, body)
        if isinstance(routed, bytes):
            return Response(routed, media_type=XML)
        envelope = routed.envelope
        pulled = [m for m in routed.mailboxes if not m.is_push]
        pushed = [m for m in routed.mailboxes if m.is_push]
        if isinstance(mailboxes, DatabaseTransport):
            await run_in_threadpool(service.place_in_database, bf, envelope, routed.mailboxes)
        else:
            for mailbox in pulled:
                await mailboxes.place(mailbox.mailbox_id, envelope.besked_id, envelope.xml)
            await run_in_threadpool(service.place_in_database, bf, envelope, pushed)
        return Response(afsend_besked_output(20), media_type=XML)

    @router.get("/dueslag/{mailbox_id}/beskeder", response_model=list[Besked])
    async def pull(
        mailbox_id: str,
        antal: int = Query(10, ge=1, le=1000),
        subscriber: str = Depends(who),
    ) -> list[Besked]:
        await run_in_threadpool(own, subscriber, mailbox_id)
        taken = await mailboxes.pull(mailbox_id, antal)
        return [
            Besked(
                tag=d.tag,
                besked_id=d.besked_id,
                redelivered=d.redelivered,
                haendelsesbesked=d.payload.decode(),
            )
            for d in taken
        ]

    @router.post("/dueslag/{mailbox_id}/beskeder/{tag}/ack", status_code=204)
    async def ack(mailbox_id: str, tag: int, subscriber: str = Depends(who)) -> Response:
        await run_in_threadpool(own, subscriber, mailbox_id)
        if not await mailboxes.ack(mailbox_id, tag):
            raise _no_delivery(tag)
        return Response(status_code=204)

    @router.post("/dueslag/{mailbox_id}/beskeder/{tag}/nack", status_code=204)
    async def nack(mailbox_id: str, tag: int, subscriber: str = Depends(who)) -> Response:
        await run_in_threadpool(own, subscriber, mailbox_id)
        if not await mailboxes.nack(mailbox_id, tag):
            raise _no_delivery(tag)
        return Response(status_code=204)

    @router.post("/Vaerdiliste", response_class=Response, summary="Værdiliste SOAP operations")
    async def vaerdiliste(request: Request, owner: str = Depends(who)) -> Response:
        body = await _body(request, vaerdiliste_soap.MAX_REQUEST_BYTES)
        answer = await run_in_threadpool(vaerdiliste_soap.handle, bf, owner, body)
        return Response(answer.body, media_type=XML)

    mailbox_routes(router, bf, who)
    _value_list_routes(router, bf, who)
    _error_queue_routes(router, bf, who)
    _refused_routes(router, bf, who)
    return router


def _value_list_routes(router: APIRouter, bf: Beskedfordeler, who: CallerResolver) -> None:
    def _out(info: store.ValueListInfo, values: list[str] | None = None) -> ValueListOut:
        return ValueListOut(
            id=info.list_id, navn=info.name, ejer=info.owner_id, antal=info.size, vaerdier=values
        )

    @router.post("/vaerdilister", response_model=ValueListOut, status_code=201)
    def create_list(data: ValueListIn, owner: str = Depends(who)) -> ValueListOut:
        list_id = _call(
            lambda: service.create_value_list(bf, owner, data.navn, data.vaerdier, note=data.note)
        )
        return _out(_call(lambda: service.list_value_lists(bf, [list_id]))[0])

    @router.get("/vaerdilister", response_model=list[str])
    def search_lists(
        navn: str | None = None,
        foerste: int = Query(0, ge=0),
        antal: int = Query(100, ge=1, le=1000),
        owner: str = Depends(who),
    ) -> list[str]:
        return _call(lambda: service.search_value_lists(bf, navn, foerste, antal, owner))

    @router.get("/vaerdilister/{list_id}", response_model=ValueListOut)
    def read_list(
        list_id: str, antal: int = Query(1000, ge=0, le=100_000), owner: str = Depends(who)
    ) -> ValueListOut:
        info, values = _call(lambda: service.read_value_list(bf, list_id, antal, owner))
        return _out(info, values)

    @router.post("/vaerdilister/{list_id}/vaerdier", response_model=ValueListOut)
    def add(list_id: str, data: ValuesIn, owner: str = Depends(who)) -> ValueListOut:
        _call(lambda: service.add_values(bf, list_id, data.vaerdier, owner))
        return _out(_call(lambda: service.list_value_lists(bf, [list_id]))[0])

    @router.post("/vaerdilister/{list_id}/fjern", response_model=ValueListOut)
    def remove(list_id: str, data: ValuesIn, owner: str = Depends(who)) -> ValueListOut:
        _call(lambda: service.remove_values(bf, list_id, data.vaerdier, owner))
        return _out(_call(lambda: service.list_value_lists(bf, [list_id]))[0])

    @router.delete("/vaerdilister/{list_id}", status_code=204)
    def delete(list_id: str, owner: str = Depends(who)) -> Response:
        _call(lambda: service.delete_value_list(bf, list_id, owner))
        return Response(status_code=204)


def _error_queue_routes(router: APIRouter, bf: Beskedfordeler, who: CallerResolver) -> None:
    @router.get("/fejlkoe", response_model=list[FailedOut])
    def failed(subscriber: str = Depends(who)) -> list[FailedOut]:
        own_boxes = [m.mailbox_id for m in service.mailboxes_of(bf, subscriber)]
        return [
            FailedOut(
                seq=f.seq,
                dueslag=f.mailbox_id,
                besked_id=f.besked_id,
                forsoeg=f.attempts,
                fejl=f.last_error,
                tidspunkt=f.failed_at.isoformat(),
            )
            for f in service.error_queue(bf, own_boxes)
        ]

    @router.post("/fejlkoe/{seq}/genlever", status_code=204)
    def redeliver(seq: int, subscriber: str = Depends(who)) -> Response:
        own_boxes = {m.mailbox_id for m in service.mailboxes_of(bf, subscriber)}
        if not any(f.seq == seq for f in service.error_queue(bf, own_boxes)):
            raise ProblemError(404, CODE_OF_STATUS[404], f"Fejlkø-posten {seq} findes ikke")
        _call(lambda: service.redeliver(bf, seq))
        return Response(status_code=204)


def _refused_routes(router: APIRouter, bf: Beskedfordeler, who: CallerResolver) -> None:
    @router.get("/afviste", response_model=list[RefusedOut])
    def refused(
        foerste: int = Query(0, ge=0),
        antal: int = Query(100, ge=1, le=1000),
        publisher: str = Depends(who),
    ) -> list[RefusedOut]:
        return [
            RefusedOut(
                seq=r.seq,
                besked_id=r.besked_id,
                transaktions_id=r.transaction_id,
                aarsag=r.reason,
                tidspunkt=r.refused_at.isoformat(),
                via=r.via,
                stoerrelse=r.body_size,
                indhold=r.body.decode("utf-8", errors="replace"),
            )
            for r in _call(lambda: service.refused(bf, publisher, foerste, antal))
        ]

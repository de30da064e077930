"""A subscriber's own mailboxes (dueslag) and subscriptions (abonnementer), over REST.

- `POST /dueslag` makes a pull mailbox, or a push mailbox when `push_url` is given (its signing
  secret is answered once, at creation); `GET /dueslag` lists the caller's own;
  `PUT /dueslag/{id}` renames it or changes its delivery; `DELETE /dueslag/{id}` deletes it
  with its subscriptions and what waits in it.
- `POST /dueslag/{id}/abonnementer` adds a subscription whose filter is a conjunction of
  optional conditions: `beskedtype`, `objekt_handling`, `vaerdiliste_id` (one of the caller's
  own value lists) and `myndighed_cvr`. A subscription always names one authority: the one the
  caller's token is for (`anvenderkontekst`); another is refused, so a subscriber receives
  only what its service agreements cover. `GET` lists them, `DELETE …/{aid}` removes one.

Another subscriber's mailbox answers 404 exactly like an unknown one. Errors are problem
documents.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from indbetaling import webhooks
from indbetaling.beskedfordeler import domain, service
from indbetaling.beskedfordeler.problems import CallerResolver, call
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.http_errors import CODE_OF_STATUS, ProblemError

_ID = r"^[0-9A-Za-z-]{1,64}$"


class DueslagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    navn: str = Field("", max_length=200)
    push_url: AnyHttpUrl | None = Field(
        None, max_length=2000, description="push here (signed); pulled when left out"
    )


class DueslagOut(BaseModel):
    id: str
    navn: str
    push_url: str | None
    push_hemmelighed: str | None = Field(
        None, description="the push signing secret, answered only when it is made"
    )


class AbonnementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beskedtype: str | None = Field(None, min_length=1, max_length=64)
    myndighed_cvr: str | None = Field(
        None, pattern=r"^[0-9]{8}$", description="defaults to the authority of the caller's token"
    )
    objekt_handling: Literal["Oprettet", "Aendret", "Afsluttet"] | None = None
    vaerdiliste_id: str | None = Field(None, pattern=_ID)


class AbonnementOut(BaseModel):
    id: str
    dueslag: str
    beskedtype: str | None
    myndighed_cvr: str | None
    objekt_handling: str | None
    vaerdiliste_id: str | None


def _mailbox_out(mailbox: domain.Mailbox, secret: str | None = None) -> DueslagOut:
    return DueslagOut(
        id=mailbox.mailbox_id, navn=mailbox.name, push_url=mailbox.push_url, push_hemmelighed=secret
    )


def _subscription_out(s: domain.Subscription) -> AbonnementOut:
    f = s.filter
    return AbonnementOut(
        id=s.subscription_id,
        dueslag=s.mailbox_id,
        beskedtype=f.message_type,
        myndighed_cvr=f.authority_cvr,
        objekt_handling=f.object_action,
        vaerdiliste_id=f.value_list_id,
    )


def _authority(request: Request, asked: str | None) -> str:
    """The authority a subscription is for: the caller's token's, never another's."""
    own: str | None = getattr(request.state, "authority_cvr", None)
    if own is None and asked is None:
        raise ProblemError(400, CODE_OF_STATUS[400], "myndighed_cvr skal angives")
    if own is not None and asked is not None and asked != own:
        raise ProblemError(
            403,
            CODE_OF_STATUS[403],
            f"Et abonnement kan kun gælde kaldets myndighed ({own}), ikke {asked}",
        )
    return asked or own or ""


def _delivery(data: DueslagIn, secret: str | None) -> tuple[str | None, str | None]:
    if data.push_url is None:
        return None, None
    return str(data.push_url), secret or webhooks.make_secret()


def mailbox_routes(router: APIRouter, bf: Beskedfordeler, who: CallerResolver) -> None:
    @router.post("/dueslag", response_model=DueslagOut, status_code=201)
    def create(data: DueslagIn, subscriber: str = Depends(who)) -> DueslagOut:
        push_url, secret = _delivery(data, None)
        mailbox = call(
            lambda: service.create_mailbox(
                bf, subscriber, name=data.navn, push_url=push_url, push_secret=secret
            )
        )
        return _mailbox_out(mailbox, secret)

    @router.get("/dueslag", response_model=list[DueslagOut])
    def own(subscriber: str = Depends(who)) -> list[DueslagOut]:
        return [_mailbox_out(m) for m in service.mailboxes_of(bf, subscriber)]

    @router.put("/dueslag/{mailbox_id}", response_model=DueslagOut)
    def change(mailbox_id: str, data: DueslagIn, subscriber: str = Depends(who)) -> DueslagOut:
        before = call(lambda: service.check_own_mailbox(bf, subscriber, mailbox_id))
        push_url, secret = _delivery(data, before.push_secret)
        changed = call(
            lambda: service.change_mailbox(
                bf, subscriber, mailbox_id, name=data.navn, push_url=push_url, push_secret=secret
            )
        )
        return _mailbox_out(changed, secret if before.push_secret is None else None)

    @router.delete("/dueslag/{mailbox_id}", status_code=204)
    def remove(mailbox_id: str, subscriber: str = Depends(who)) -> Response:
        call(lambda: service.delete_mailbox(bf, subscriber, mailbox_id))
        return Response(status_code=204)

    @router.post(
        "/dueslag/{mailbox_id}/abonnementer", response_model=AbonnementOut, status_code=201
    )
    def subscribe(
        mailbox_id: str, data: AbonnementIn, request: Request, subscriber: str = Depends(who)
    ) -> AbonnementOut:
        f = domain.Filter(
            message_type=data.beskedtype,
            authority_cvr=_authority(request, data.myndighed_cvr),
            object_action=data.objekt_handling,
            value_list_id=data.vaerdiliste_id,
        )
        made = call(lambda: service.subscribe_own(bf, subscriber, mailbox_id, f))
        return _subscription_out(made)

    @router.get("/dueslag/{mailbox_id}/abonnementer", response_model=list[AbonnementOut])
    def subscriptions(mailbox_id: str, subscriber: str = Depends(who)) -> list[AbonnementOut]:
        found = call(lambda: service.subscriptions_of(bf, subscriber, mailbox_id))
        return [_subscription_out(s) for s in found]

    @router.delete("/dueslag/{mailbox_id}/abonnementer/{subscription_id}", status_code=204)
    def unsubscribe(
        mailbox_id: str, subscription_id: str, subscriber: str = Depends(who)
    ) -> Response:
        call(lambda: service.unsubscribe(bf, subscriber, mailbox_id, subscription_id))
        return Response(status_code=204)

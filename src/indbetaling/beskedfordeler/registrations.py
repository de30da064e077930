"""The Beskedfordeler's registrations (section `beskedfordeler` of the registrations file): who
may publish which message types, and mailboxes (pull, or push to a subscriber's receiver with
the secret its pushes are signed with) with their subscriptions.

```json
{"beskedfordeler": {
  "publishers": [{"it_system": "<debitorsystem UUID>",
                  "message_types": ["FordringTilIndbetaling"]}],
  "mailboxes": [{"id": "<UUID>", "subscriber": "<fagsystem UUID>", "name": "Fordringer",
                 "push_url": "http://fagsystem:8003/fagsystem/<UUID>/beskeder",
                 "push_secret_file": "secrets/push",
                 "subscriptions": [{"message_type": "FordringTilIndbetaling",
                                    "cvr": "29189846"}]}]}}
```

A message type is its UUID or `FordringTilIndbetaling`. Subscribers may also make their own
mailboxes and subscriptions over the Beskedfordeler's API (`/dueslag`), through the gateway.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler import service, store
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.db import read
from indbetaling.ids import InvalidId, parse_cvr
from indbetaling.registration_file import RegistrationError, secret_value

SECTION = "beskedfordeler"
MESSAGE_TYPES = {"FordringTilIndbetaling": BESKEDTYPE_FORDRING_TIL_INDBETALING}


def _message_type(value: str) -> str:
    value = MESSAGE_TYPES.get(value, value)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(
            f"{value!r} is no message type (a UUID or FordringTilIndbetaling)"
        ) from None


def _cvr(value: str) -> str:
    try:
        return parse_cvr(value)
    except InvalidId as exc:
        raise ValueError(str(exc)) from None


MessageType = Annotated[str, AfterValidator(_message_type)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublisherIn(_Model):
    it_system: uuid.UUID
    message_types: list[MessageType] = Field(min_length=1)


class SubscriptionIn(_Model):
    message_type: MessageType
    cvr: Annotated[str, AfterValidator(_cvr)] | None = None
    object_action: str | None = None


class MailboxIn(_Model):
    id: uuid.UUID
    subscriber: uuid.UUID
    name: str = Field(default="", max_length=200)
    push_url: str | None = None
    push_secret: str | None = None
    push_secret_file: Path | None = None
    subscriptions: list[SubscriptionIn] = []


class BeskedfordelerRegistrations(_Model):
    publishers: list[PublisherIn] = []
    mailboxes: list[MailboxIn] = []


def apply(bf: Beskedfordeler, registrations: BeskedfordelerRegistrations, folder: Path) -> str:
    """Register what `registrations` says (idempotent); what was done, in words. Secrets are
    read before anything is written."""
    secrets: dict[uuid.UUID, str | None] = {}
    for box in registrations.mailboxes:
        secrets[box.id] = secret_value(
            box.push_secret,
            box.push_secret_file,
            folder,
            f"mailbox {box.id}: push_secret",
            required=box.push_url is not None,
        )
        if box.push_url is None and secrets[box.id] is not None:
            raise RegistrationError(f"mailbox {box.id}: a push secret without a push_url")
    for publisher in registrations.publishers:
        for message_type in publisher.message_types:
            service.grant_publish(bf, str(publisher.it_system), message_type)
    added = 0
    for box in registrations.mailboxes:
        mailbox_id, subscriber = str(box.id), str(box.subscriber)
        with read(bf.engine) as conn:
            existing = store.get_mailbox(conn, mailbox_id)
        if existing is None:
            service.create_mailbox(
                bf,
                subscriber,
                name=box.name,
                push_url=box.push_url,
                push_secret=secrets[box.id],
                mailbox_id=mailbox_id,
            )
        elif existing.subscriber_id != subscriber:
            raise RegistrationError(f"mailbox {box.id} belongs to another subscriber")
        else:
            service.change_mailbox(
                bf,
                subscriber,
                mailbox_id,
                name=box.name,
                push_url=box.push_url,
                push_secret=secrets[box.id],
            )
        with read(bf.engine) as conn:
            present = {s.filter for s in store.subscriptions_of(conn, mailbox_id)}
        for wanted in box.subscriptions:
            f = Filter(
                message_type=wanted.message_type,
                authority_cvr=wanted.cvr,
                object_action=wanted.object_action,
            )
            if f not in present:
                service.subscribe(bf, mailbox_id, f)
                present.add(f)
                added += 1
    return (
        f"{len(registrations.publishers)} publishers, {len(registrations.mailboxes)} mailboxes, "
        f"{added} new subscriptions"
    )

"""The Beskedfordeler's rules, pure: mailboxes, subscription filters, push retry policy.

A subscription's filter is a conjunction of optional conditions over a message's
Filtreringsdata: its message type, the responsible authority, the `ObjektHandling`, and
"a RelateretObjekt's ObjektId is in value list V". Which value lists hold one of the message's
related objects is a lookup the caller does (an index probe per value, see `store`), so that the
filter evaluation here costs the same whatever the size of the lists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

STATUS_OK = 20
STATUS_INVALID = 40
STATUS_NOT_ALLOWED = 40


class RelatedObject(Protocol):
    """A `RelateretObjekt` of a message, as far as filters look at it."""

    @property
    def object_id(self) -> str: ...


class FilterData(Protocol):
    """A message's `Filtreringsdata`, as far as filters look at it (`besked.FilterData` is one):
    the rules need the facts, not the XML they came in."""

    @property
    def message_type(self) -> str: ...

    @property
    def related_objects(self) -> Sequence[RelatedObject]: ...

    @property
    def authority_cvrs(self) -> frozenset[str]: ...

    @property
    def actions(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Mailbox:
    """A dueslag of a subscriber it-system; pushed to `push_url` when it has one, else pulled."""

    mailbox_id: str
    subscriber_id: str
    name: str = ""
    push_url: str | None = None
    push_secret: str | None = None

    @property
    def is_push(self) -> bool:
        return self.push_url is not None


@dataclass(frozen=True)
class Filter:
    message_type: str | None = None
    authority_cvr: str | None = None
    object_action: str | None = None
    value_list_id: str | None = None


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    mailbox_id: str
    filter: Filter


def value_lists_of(subscriptions: Iterable[Subscription]) -> set[str]:
    """The value lists the subscriptions' filters refer to."""
    return {s.filter.value_list_id for s in subscriptions if s.filter.value_list_id is not None}


def related_object_ids(data: FilterData) -> set[str]:
    return {r.object_id for r in data.related_objects}


def matches(f: Filter, data: FilterData, lists_holding_a_related_object: Collection[str]) -> bool:
    """Whether one filter lets the message through; every condition given must hold."""
    if f.message_type is not None and f.message_type.lower() != data.message_type.lower():
        return False
    if f.authority_cvr is not None and f.authority_cvr not in data.authority_cvrs:
        return False
    if f.object_action is not None and f.object_action not in data.actions:
        return False
    return f.value_list_id is None or f.value_list_id in lists_holding_a_related_object


def matching_mailboxes(
    subscriptions: Iterable[Subscription],
    data: FilterData,
    lists_holding_a_related_object: Collection[str],
) -> list[str]:
    """The mailboxes that get the message: each once, however many of its filters match."""
    return sorted(
        {
            s.mailbox_id
            for s in subscriptions
            if matches(s.filter, data, lists_holding_a_related_object)
        }
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Push retries: exponential backoff from `first_delay`, capped; error queue after N tries."""

    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(hours=1)

    def delay_after(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th failed try (1, 2, …)."""
        exponent = max(attempts - 1, 0)
        if exponent > 40:
            return self.max_delay
        delay: timedelta = self.first_delay * (2**exponent)
        return min(delay, self.max_delay)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

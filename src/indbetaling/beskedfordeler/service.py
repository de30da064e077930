"""The Beskedfordeler's use cases, one transaction each.

Publishing (`BeskedAfsend`) validates the envelope, checks that the publisher may publish its
message type, evaluates every subscription's filter and places the message in each matching
mailbox. Pull mailboxes live in the transport (database or RabbitMQ, see `transport`); push
mailboxes always live in the database, where the push loop (`push.py`) takes them from.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lxml import etree
from prometheus_client import Counter
from sqlalchemy import Connection, Engine

from indbetaling import ids
from indbetaling.besked import Envelope, InvalidMessage, parse_envelope
from indbetaling.beskedfordeler import domain, store
from indbetaling.db import read, write
from indbetaling.xml_safety import UnsafeXml, parse_xml

MAX_VALUE_LENGTH = 200
REFUSED = Counter(
    "indbetaling_beskedfordeler_refused_total",
    "Publications the Beskedfordeler refused (each stored with its reason), by how they came",
    ["via"],
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class BeskedfordelerError(Exception):
    """A refused request; `status` is the StandardRetur code, the text says why (Danish)."""

    status = 40


class PublishRefused(BeskedfordelerError):
    """A refused publication; the ids are those of the message, as far as they could be read."""

    def __init__(
        self, reason: str, besked_id: str | None = None, transaction_id: str | None = None
    ) -> None:
        super().__init__(reason)
        self.besked_id = besked_id
        self.transaction_id = transaction_id


class NotFound(BeskedfordelerError):
    status = 44


class NotAllowed(BeskedfordelerError):
    status = 43


class InvalidRequest(BeskedfordelerError):
    status = 40


@dataclass
class Beskedfordeler:
    """The part's dependencies: its database, its clock and its delivery policy."""

    engine: Engine
    retry: domain.RetryPolicy = field(default_factory=domain.RetryPolicy)
    lease: timedelta = timedelta(seconds=60)
    clock: Callable[[], datetime] = utc_now


@dataclass(frozen=True)
class Routed:
    envelope: Envelope
    mailboxes: list[domain.Mailbox]


# --- setup: publishers, mailboxes, subscriptions ---------------------------------------------


def grant_publish(bf: Beskedfordeler, it_system_id: str, message_type: str) -> None:
    with write(bf.engine) as conn:
        store.grant_publish(conn, it_system_id, message_type)


def create_mailbox(
    bf: Beskedfordeler,
    subscriber_id: str,
    *,
    name: str = "",
    push_url: str | None = None,
    push_secret: str | None = None,
    mailbox_id: str | None = None,
) -> domain.Mailbox:
    if (push_url is None) != (push_secret is None):
        raise InvalidRequest("Et push-dueslag skal have både URL og hemmelighed")
    mailbox = domain.Mailbox(
        mailbox_id=mailbox_id or str(uuid.uuid4()),
        subscriber_id=subscriber_id,
        name=name,
        push_url=push_url,
        push_secret=push_secret,
    )
    with write(bf.engine) as conn:
        store.add_mailbox(conn, mailbox, bf.clock())
    return mailbox


def subscribe(
    bf: Beskedfordeler, mailbox_id: str, f: domain.Filter, subscription_id: str | None = None
) -> domain.Subscription:
    subscription = domain.Subscription(subscription_id or str(uuid.uuid4()), mailbox_id, f)
    with write(bf.engine) as conn:
        if store.get_mailbox(conn, mailbox_id) is None:
            raise NotFound(f"Dueslaget {mailbox_id[:40]} findes ikke")
        if f.value_list_id and not store.value_list_info(conn, [f.value_list_id]):
            raise NotFound(f"Værdilisten {f.value_list_id[:40]} findes ikke")
        store.add_subscription(conn, subscription)
    return subscription


def change_mailbox(
    bf: Beskedfordeler,
    subscriber_id: str,
    mailbox_id: str,
    *,
    name: str,
    push_url: str | None,
    push_secret: str | None,
) -> domain.Mailbox:
    """Rename a subscriber's own mailbox or change how it is delivered (push or pull)."""
    if (push_url is None) != (push_secret is None):
        raise InvalidRequest("Et push-dueslag skal have både URL og hemmelighed")
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        changed = domain.Mailbox(mailbox_id, subscriber_id, name, push_url, push_secret)
        store.update_mailbox(conn, changed)
    return changed


def delete_mailbox(bf: Beskedfordeler, subscriber_id: str, mailbox_id: str) -> None:
    """Delete a subscriber's own mailbox with its subscriptions and what waits in it."""
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        store.delete_mailbox(conn, mailbox_id)


def subscribe_own(
    bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, f: domain.Filter
) -> domain.Subscription:
    """A subscription on the subscriber's own mailbox; a value list in the filter must be its
    own too (another's answers like an unknown one)."""
    subscription = domain.Subscription(str(uuid.uuid4()), mailbox_id, f)
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        if f.value_list_id is not None:
            _owned_list(conn, f.value_list_id, subscriber_id)
        store.add_subscription(conn, subscription)
    return subscription


def change_subscription(
    bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, subscription_id: str, f: domain.Filter
) -> domain.Subscription:
    """A new filter for a subscription on the subscriber's own mailbox (same id); a value list
    in the filter must be its own, as for `subscribe_own`."""
    subscription = domain.Subscription(subscription_id, mailbox_id, f)
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        if f.value_list_id is not None:
            _owned_list(conn, f.value_list_id, subscriber_id)
        if not store.update_subscription(conn, subscription):
            raise NotFound(f"Abonnementet {subscription_id[:40]} findes ikke")
    return subscription


def message_types(bf: Beskedfordeler) -> list[str]:
    """The message types that can be subscribed to: those some publisher may publish."""
    with read(bf.engine) as conn:
        return store.message_types(conn)


def subscriptions_of(
    bf: Beskedfordeler, subscriber_id: str, mailbox_id: str
) -> list[domain.Subscription]:
    with read(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        return store.subscriptions_of(conn, mailbox_id)


def unsubscribe(
    bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, subscription_id: str
) -> None:
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        if not store.delete_subscription(conn, mailbox_id, subscription_id):
            raise NotFound(f"Abonnementet {subscription_id[:40]} findes ikke")


# --- publish and route -----------------------------------------------------------------------


def read_envelope(xml: bytes) -> Envelope:
    try:
        return parse_envelope(xml)
    except UnsafeXml as exc:
        raise PublishRefused(str(exc)) from None
    except InvalidMessage as exc:
        raise PublishRefused(str(exc), *_readable_ids(xml)) from None


def _readable_ids(xml: bytes) -> tuple[str | None, str | None]:
    """BeskedId and TransaktionsId of well-formed XML the schema refused, where they stand."""
    try:
        root = parse_xml(xml)
    except UnsafeXml:
        return None, None
    found: dict[str, str] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name in ("BeskedId", "TransaktionsId") and name not in found:
            for child in element:
                text = (child.text or "").strip() if isinstance(child.tag, str) else ""
                if text and etree.QName(child).localname == "UUIDIdentifikator":
                    found[name] = text[:64]
                    break
    return found.get("BeskedId"), found.get("TransaktionsId")


def route(conn: Connection, envelope: Envelope, publisher_id: str) -> list[domain.Mailbox]:
    """Which mailboxes get the message; refuses a publisher without permission for its type."""
    data = envelope.filter_data
    if not store.may_publish(conn, publisher_id, data.message_type):
        raise PublishRefused(
            f"Afsenderen {publisher_id[:40]} må ikke afsende beskedtypen {data.message_type[:40]}",
            envelope.besked_id,
            envelope.transaction_id,
        )
    candidates = store.subscriptions_for(conn, data.message_type)
    lists = domain.value_lists_of(candidates)
    hits = store.lists_containing(conn, lists, domain.related_object_ids(data)) if lists else set()
    return store.get_mailboxes(conn, domain.matching_mailboxes(candidates, data, hits))


def publish(bf: Beskedfordeler, publisher_id: str, xml: bytes) -> Routed:
    """`BeskedAfsend` on the database transport: validate, route and place in one transaction.

    A refused publication is recorded (`refused`) before `PublishRefused` is raised."""
    with _recording_refusals(bf, publisher_id, xml, "http"):
        envelope = read_envelope(xml)
        with write(bf.engine) as conn:
            targets = route(conn, envelope, publisher_id)
            now = bf.clock()
            for mailbox in targets:
                store.put_message(conn, mailbox.mailbox_id, envelope.besked_id, envelope.xml, now)
    return Routed(envelope, targets)


def place_in_database(
    bf: Beskedfordeler, envelope: Envelope, mailboxes: Iterable[domain.Mailbox]
) -> None:
    with write(bf.engine) as conn:
        now = bf.clock()
        for mailbox in mailboxes:
            store.put_message(conn, mailbox.mailbox_id, envelope.besked_id, envelope.xml, now)


def route_only(bf: Beskedfordeler, publisher_id: str, xml: bytes, via: str = "http") -> Routed:
    """Validate and route without placing (the AMQP distributor places in queues itself).

    A refused publication is recorded (`refused`) before `PublishRefused` is raised."""
    with _recording_refusals(bf, publisher_id, xml, via):
        envelope = read_envelope(xml)
        with read(bf.engine) as conn:
            return Routed(envelope, route(conn, envelope, publisher_id))


@contextmanager
def _recording_refusals(
    bf: Beskedfordeler, publisher_id: str, xml: bytes, via: str
) -> Iterator[None]:
    try:
        yield
    except PublishRefused as exc:
        record_refusal(bf, publisher_id, xml, exc, via)
        raise


def record_refusal(
    bf: Beskedfordeler, publisher_id: str, xml: bytes, refusal: PublishRefused, via: str
) -> None:
    """Keep a refused publication for operators and its publisher: never only a log line."""
    with write(bf.engine) as conn:
        store.record_refused(
            conn,
            publisher_id=publisher_id,
            via=via,
            besked_id=refusal.besked_id,
            transaction_id=refusal.transaction_id,
            reason=ids.mask_cpr_in_text(str(refusal)),
            body=xml,
            now=bf.clock(),
        )
    REFUSED.labels(via=via).inc()


def refused(
    bf: Beskedfordeler, publisher_id: str | None = None, first: int = 0, limit: int = 100
) -> list[store.RefusedMessage]:
    """Refused publications, newest first: `publisher_id`'s own, or all for the operator."""
    if first < 0 or not 1 <= limit <= 1000:
        raise InvalidRequest("foerste ≥ 0 og antal 1-1000")
    with read(bf.engine) as conn:
        return store.list_refused(conn, publisher_id, first, limit)


def refused_count(bf: Beskedfordeler, publisher_id: str | None = None) -> int:
    with read(bf.engine) as conn:
        return store.count_refused(conn, publisher_id)


# --- database mailboxes: pull, ack, nack -----------------------------------------------------


def own_mailbox(conn: Connection, subscriber_id: str, mailbox_id: str) -> domain.Mailbox:
    """The subscriber's mailbox; another's answers exactly like an unknown one."""
    mailbox = store.get_mailbox(conn, mailbox_id)
    if mailbox is None or mailbox.subscriber_id != subscriber_id:
        raise NotFound(f"Dueslaget {mailbox_id[:40]} findes ikke")
    return mailbox


def mailboxes_of(bf: Beskedfordeler, subscriber_id: str) -> list[domain.Mailbox]:
    with read(bf.engine) as conn:
        return store.list_mailboxes(conn, subscriber_id)


def check_own_mailbox(bf: Beskedfordeler, subscriber_id: str, mailbox_id: str) -> domain.Mailbox:
    with read(bf.engine) as conn:
        return own_mailbox(conn, subscriber_id, mailbox_id)


def pull(
    bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, limit: int = 10
) -> list[store.StoredMessage]:
    """`BeskedHent` from a database mailbox: taken messages come back unless acked in time."""
    if not 1 <= limit <= 1000:
        raise InvalidRequest("Antal skal være mellem 1 og 1000")
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        return _take(bf, conn, mailbox_id, limit)


def ack(bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, tag: int) -> None:
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        if not store.ack_message(conn, mailbox_id, tag):
            raise NotFound(f"Leverancen {tag} findes ikke i dueslaget")


def nack(bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, tag: int) -> None:
    with write(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        if not store.release_message(conn, mailbox_id, tag, bf.clock()):
            raise NotFound(f"Leverancen {tag} findes ikke i dueslaget")


def _take(
    bf: Beskedfordeler, conn: Connection, mailbox_id: str, limit: int
) -> list[store.StoredMessage]:
    now = bf.clock()
    return store.take_messages(conn, mailbox_id, now, now + bf.lease, limit)


def all_mailboxes(bf: Beskedfordeler) -> list[domain.Mailbox]:
    """Every subscriber's mailboxes (the operator's view)."""
    with read(bf.engine) as conn:
        return store.list_mailboxes(conn)


def mailbox_depths(bf: Beskedfordeler) -> dict[str, int]:
    """How many messages wait in each database mailbox (every push mailbox, and the pull
    mailboxes unless they live in RabbitMQ); a mailbox left out has none."""
    with read(bf.engine) as conn:
        return store.mailbox_depths(conn)


def waiting_messages(
    bf: Beskedfordeler, subscriber_id: str, mailbox_id: str, limit: int = 100
) -> list[store.WaitingMessage]:
    """What waits in the subscriber's own database mailbox, oldest first."""
    with read(bf.engine) as conn:
        own_mailbox(conn, subscriber_id, mailbox_id)
        return store.waiting_messages(conn, mailbox_id, limit)


# The database mailbox as a transport (`transport.DatabaseTransport`): the caller has checked
# that the mailbox is the subscriber's.


def place_message(bf: Beskedfordeler, mailbox_id: str, besked_id: str, payload: bytes) -> None:
    with write(bf.engine) as conn:
        store.put_message(conn, mailbox_id, besked_id, payload, bf.clock())


def take_messages(bf: Beskedfordeler, mailbox_id: str, limit: int) -> list[store.StoredMessage]:
    with write(bf.engine) as conn:
        return _take(bf, conn, mailbox_id, limit)


def ack_message(bf: Beskedfordeler, mailbox_id: str, tag: int) -> bool:
    with write(bf.engine) as conn:
        return store.ack_message(conn, mailbox_id, tag)


def release_message(bf: Beskedfordeler, mailbox_id: str, tag: int) -> bool:
    with write(bf.engine) as conn:
        return store.release_message(conn, mailbox_id, tag, bf.clock())


# --- error queue -----------------------------------------------------------------------------


def error_queue(
    bf: Beskedfordeler, mailbox_ids: Collection[str] | None = None
) -> list[store.FailedMessage]:
    with read(bf.engine) as conn:
        return store.list_error_queue(conn, mailbox_ids)


def redeliver(bf: Beskedfordeler, seq: int) -> store.StoredMessage:
    """Put a message from the error queue back in its mailbox, with a fresh count of tries."""
    with write(bf.engine) as conn:
        message = store.take_from_error_queue(conn, seq)
        if message is None:
            raise NotFound(f"Fejlkø-posten {seq} findes ikke")
        store.put_message(conn, message.mailbox_id, message.besked_id, message.payload, bf.clock())
    return message


def redeliver_all(bf: Beskedfordeler, mailbox_id: str | None = None) -> int:
    failed = error_queue(bf, None if mailbox_id is None else [mailbox_id])
    for item in failed:
        redeliver(bf, item.seq)
    return len(failed)


# --- value lists -----------------------------------------------------------------------------


def _clean_values(values: Iterable[str]) -> Iterable[str]:
    for value in values:
        text = value.strip()
        if not text or len(text) > MAX_VALUE_LENGTH:
            shown = ids.mask_cpr_in_text(text[:40])
            raise InvalidRequest(f"En værdi skal have 1 til {MAX_VALUE_LENGTH} tegn: '{shown}'")
        yield text


def _owned_list(conn: Connection, list_id: str, caller: str | None) -> store.ValueListInfo:
    """The list, when `caller` owns it (or is the operator, `None`); another's answers exactly
    like an unknown one, so a caller learns nothing of lists that are not its own."""
    found = store.value_list_info(conn, [list_id], owner_id=caller)
    if not found:
        raise NotFound(f"Værdilisten {list_id[:40]} findes ikke")
    return found[0]


def create_value_list(
    bf: Beskedfordeler,
    owner_id: str | None,
    name: str,
    values: Iterable[str] = (),
    *,
    note: str | None = None,
    list_id: str | None = None,
) -> str:
    if not name.strip() or len(name) > 200:
        raise InvalidRequest("Værdilistens navn skal have 1 til 200 tegn")
    new_id = list_id or str(uuid.uuid4())
    with write(bf.engine) as conn:
        if store.value_list_info(conn, [new_id]):
            raise InvalidRequest(f"Værdilisten {new_id[:40]} findes allerede")
        store.create_value_list(conn, new_id, owner_id, name.strip(), note=note, now=bf.clock())
        store.add_values(conn, new_id, _clean_values(values))
    return new_id


def add_values(
    bf: Beskedfordeler, list_id: str, values: Iterable[str], caller: str | None = None
) -> int:
    """Add values in one transaction; a million is fine (bulk inserts in chunks)."""
    with write(bf.engine) as conn:
        _owned_list(conn, list_id, caller)
        return store.add_values(conn, list_id, _clean_values(values))


def remove_values(
    bf: Beskedfordeler, list_id: str, values: Iterable[str], caller: str | None = None
) -> int:
    with write(bf.engine) as conn:
        _owned_list(conn, list_id, caller)
        return store.remove_values(conn, list_id, list(_clean_values(values)))


def read_value_list(
    bf: Beskedfordeler, list_id: str, limit: int = 10_000, caller: str | None = None
) -> tuple[store.ValueListInfo, list[str]]:
    """The list and its first `limit` values; only its owner (or the operator) reads it."""
    with read(bf.engine) as conn:
        info = _owned_list(conn, list_id, caller)
        return info, store.list_values(conn, list_id, limit)


def list_value_lists(
    bf: Beskedfordeler, list_ids: Collection[str], caller: str | None = None
) -> list[store.ValueListInfo]:
    """The lists among `list_ids` that `caller` owns (all of them for the operator, `None`)."""
    with read(bf.engine) as conn:
        return store.value_list_info(conn, list_ids, owner_id=caller)


def search_value_lists(
    bf: Beskedfordeler,
    name: str | None = None,
    first: int = 0,
    limit: int = 100,
    caller: str | None = None,
) -> list[str]:
    """Ids of the lists `caller` owns (every list for the operator, `None`), by name."""
    if first < 0 or not 1 <= limit <= 1000:
        raise InvalidRequest("FoersteResultatReference ≥ 0 og MaksimalAntalKvantitet 1-1000")
    with read(bf.engine) as conn:
        return store.search_value_lists(conn, name, first, limit, owner_id=caller)


def delete_value_list(bf: Beskedfordeler, list_id: str, caller: str | None = None) -> None:
    with write(bf.engine) as conn:
        _owned_list(conn, list_id, caller)
        if store.value_list_in_use(conn, list_id):
            raise InvalidRequest(f"Værdilisten {list_id[:40]} bruges af et abonnement")
        store.delete_value_list(conn, list_id)


def lists_holding(
    bf: Beskedfordeler, list_ids: Collection[str], values: Collection[str]
) -> set[str]:
    with read(bf.engine) as conn:
        return store.lists_containing(conn, list_ids, values)

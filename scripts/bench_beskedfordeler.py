#!/usr/bin/env python3
"""Benchmark of the Beskedfordeler: filter evaluation against value-list size, and publishing.

Usage: python scripts/bench_beskedfordeler.py [--database-url URL] [--messages N] [--rounds R]

For value lists of 10, 10,000 and 1,000,000 CPR values, one subscription filters on
"a RelateretObjekt's ObjektId is in the list". The same messages (half of them about a party in
the list) are routed against each, in interleaved rounds, and the median time per message of:

- `route`: filter evaluation alone (permission, candidate subscriptions, value-list probe);
- `publish→matching`: the whole `BeskedAfsend` intake up to the matching mailboxes
  (hardened parse, XSD validation, routing),

is shown in microseconds and as a ratio to the 10-value list measured in the same run. Last,
the publish throughput on the database transport (`service.publish`: route and place in the
mailbox, one transaction per message). Default database: a temporary SQLite file (the embedded
default); pass a PostgreSQL URL to measure that instead (its tables are created and emptied).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from indbetaling.bench.messages import cpr, payable_claim
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING, ObjectAction, build_envelope
from indbetaling.beskedfordeler import service, store
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.db import make_engine, migrate, read

SIZES = (10, 10_000, 1_000_000)
PUBLISHER = str(uuid.UUID(int=1))
SUBSCRIBER = str(uuid.UUID(int=2))


def message(party: str) -> bytes:
    return build_envelope(
        payable_claim("12345678", party),
        action=ObjectAction.OPRETTET,
        transaction_id=uuid.uuid4(),
        source_system=uuid.uuid4(),
    )


def empty(bf: Beskedfordeler) -> None:
    with bf.engine.begin() as conn:
        for table in reversed(store.metadata.sorted_tables):
            conn.execute(table.delete())


def setup(bf: Beskedfordeler, size: int) -> str:
    """One pull mailbox subscribed through a value list of `size` values; its mailbox id."""
    empty(bf)
    service.grant_publish(bf, PUBLISHER, BESKEDTYPE_FORDRING_TIL_INDBETALING)
    values = (cpr(n) for n in range(size))
    list_id = service.create_value_list(bf, SUBSCRIBER, f"{size} CPR", values)
    box = service.create_mailbox(bf, SUBSCRIBER).mailbox_id
    service.subscribe(bf, box, Filter(value_list_id=list_id))
    if bf.engine.dialect.name == "postgresql":
        with bf.engine.begin() as conn:
            conn.execute(text("ANALYZE value_list_values"))
    return box


def per_message_us(bf: Beskedfordeler, messages: list[bytes], box: str, whole: bool) -> float:
    """Median over the messages of one round, in microseconds; checks every routing result."""
    envelopes = [service.read_envelope(m) for m in messages]
    times: list[float] = []
    for xml, envelope in zip(messages, envelopes, strict=True):
        start = time.perf_counter()
        if whole:
            targets = service.route_only(bf, PUBLISHER, xml).mailboxes
        else:
            with read(bf.engine) as conn:
                targets = service.route(conn, envelope, PUBLISHER)
        times.append(time.perf_counter() - start)
        expected = envelope.filter_data.related_objects[0].object_id in INSIDE
        if [m.mailbox_id for m in targets] != ([box] if expected else []):
            raise SystemExit(f"wrong routing for {envelope.besked_id}")
    return statistics.median(times) * 1e6


INSIDE: set[str] = set()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    folder = tempfile.TemporaryDirectory(prefix="bench-bf-")
    url = args.database_url or f"sqlite:///{Path(folder.name) / 'beskedfordeler.sqlite'}"
    engine = make_engine(url)
    migrate(engine, "beskedfordeler")
    bf = Beskedfordeler(engine)

    # Parties inside every list (n < 10) and outside all of them, half and half.
    inside = [cpr(n % 10) for n in range(args.messages // 2)]
    outside = [cpr(2_000_000 + n) for n in range(args.messages - len(inside))]
    INSIDE.update(inside)
    messages = [message(p) for pair in zip(inside, outside, strict=False) for p in pair]

    results: dict[int, dict[str, list[float]]] = {}
    for size in SIZES:
        started = time.perf_counter()
        box = setup(bf, size)
        print(
            f"list of {size:>9,} values made in {time.perf_counter() - started:5.1f} s", flush=True
        )
        rounds: dict[str, list[float]] = {"route": [], "whole": []}
        for _ in range(args.rounds):
            rounds["route"].append(per_message_us(bf, messages, box, whole=False))
            rounds["whole"].append(per_message_us(bf, messages, box, whole=True))
        results[size] = rounds

    base_route = statistics.median(results[SIZES[0]]["route"])
    base_whole = statistics.median(results[SIZES[0]]["whole"])
    print()
    print(f"database: {engine.dialect.name}; {len(messages)} messages x {args.rounds} rounds")
    header = ("values in list", "route µs", "ratio", "publish→matching µs", "ratio")
    print("{:>15} | {:>9} | {:>5} | {:>19} | {:>5}".format(*header))
    print(f"{'-' * 15}-+-{'-' * 9}-+-{'-' * 5}-+-{'-' * 19}-+-{'-' * 5}")
    for size in SIZES:
        route = statistics.median(results[size]["route"])
        whole = statistics.median(results[size]["whole"])
        print(
            f"{size:>15,} | {route:>9.0f} | {route / base_route:>5.2f} |"
            f" {whole:>19.0f} | {whole / base_whole:>5.2f}"
        )

    box = setup(bf, 10)
    fresh = [message(p) for p in inside + outside]
    started = time.perf_counter()
    for xml in fresh:
        service.publish(bf, PUBLISHER, xml)
    elapsed = time.perf_counter() - started
    with read(engine) as conn:
        placed = store.mailbox_depths(conn).get(box, 0)
    print()
    print(
        f"publish on the database transport: {len(fresh)} messages in {elapsed:.2f} s ="
        f" {len(fresh) / elapsed:,.0f} messages/s ({placed} placed in the matching mailbox)"
    )
    engine.dispose()
    folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

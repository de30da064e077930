"""Points in time on the wire and in APIs: always ISO 8601 with their offset (CONTRACT §2).

A time without a zone is taken to be UTC, as the database takes it (`db.UtcDateTime`), so no
view ever shows a time a reader must guess the zone of.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(when: datetime) -> datetime:
    """`when` in UTC; a naive time is taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def instant_text(when: datetime) -> str:
    """`when` as ISO 8601 text in UTC with its offset, e.g. `2026-11-26T10:00:00+00:00`."""
    return as_utc(when).isoformat()

"""The reconciliation page's chart of daily payments, reversals and pay-backs: geometry for a
server-rendered SVG (no script), from the authority's finance postings. Pure.

Each day has three bars side by side, their heights to one scale; the y axis has round
gridlines in kroner. The same numbers are shown as a table beside the chart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from indbetaling.finance.domain import Posting, PostingType
from indbetaling.finance.reconciliation import Accounts, BookedPosting
from indbetaling.ui.kroner import format_kroner

PERIODS = (14, 31, 90)
"""How many days back the chart may show (the first is the default)."""
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 90, 10, 10, 40
SERIES = (
    (PostingType.INDBETALING, "Indbetalinger", "#0b3d91"),
    (PostingType.TILBAGEFOERSEL, "Tilbageførsler", "#a8071a"),
    (PostingType.TILBAGEBETALING, "Tilbagebetalinger", "#1b5e20"),
)


@dataclass(frozen=True)
class Day:
    day: date
    amounts: tuple[int, int, int]
    """Øre booked that day: payments, reversals, pay-backs (each as a positive amount)."""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    days: tuple[Day, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[DayLabel, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom_y: int = HEIGHT - BOTTOM
    series: tuple[tuple[str, str], ...] = tuple((name, colour) for _, name, colour in SERIES)


def daily(postings: Iterable[Posting], accounts: Accounts, days: int = PERIODS[0]) -> list[Day]:
    """The amounts booked per posting date, every day from the first to the last, at most the
    last `days` up to the last."""
    sums: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    index = {kind: n for n, (kind, _, _) in enumerate(SERIES)}
    for posting in postings:
        booked = BookedPosting.of(posting, accounts)
        sums[posting.posting_date][index[posting.type]] += abs(booked.amount)
    if not sums:
        return []
    last = max(sums)
    first = max(min(sums), last - timedelta(days=days - 1))
    found = []
    day = first
    while day <= last:
        a, b, c = sums.get(day, [0, 0, 0])
        found.append(Day(day, (a, b, c)))
        day += timedelta(days=1)
    return found


def _scale_top(largest: int) -> int:
    """A round top for the axis (øre): 1, 2 or 5 times a power of ten kroner."""
    step = 100
    while True:
        for factor in (1, 2, 5):
            if largest <= step * factor:
                return step * factor
        step *= 10


def chart(days: list[Day]) -> Chart:
    largest = max((max(d.amounts) for d in days), default=0)
    top_value = _scale_top(max(largest, 1))
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.8 / len(SERIES), 1.0)
    bars = []
    labels = []
    every = max(1, len(days) // 10)
    for n, d in enumerate(days):
        x0 = LEFT + n * slot + slot * 0.1
        for k, (amount, (_, name, colour)) in enumerate(zip(d.amounts, SERIES, strict=True)):
            if not amount:
                continue
            height = plot_h * amount / top_value
            bars.append(
                Bar(
                    round(x0 + k * bar_w, 1),
                    round(TOP + plot_h - height, 1),
                    round(bar_w, 1),
                    round(height, 1),
                    colour,
                    f"{name} {d.day:%d.%m.%Y}: {format_kroner(amount)}",
                )
            )
        if n % every == 0:
            labels.append(DayLabel(round(LEFT + n * slot + slot / 2, 1), f"{d.day:%d.%m}"))
    ticks = tuple(
        Tick(round(TOP + plot_h - plot_h * i / 4, 1), format_kroner(top_value * i // 4))
        for i in range(5)
    )
    return Chart(tuple(days), tuple(bars), ticks, tuple(labels))

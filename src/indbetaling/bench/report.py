"""The bench's figures: one rich table for people, the same figures as JSON for machines.

Every row is one measured case beside its limit, measured in the same run. The ratio says how
much of the limit the system reaches: measured ÷ limit for rates, limit ÷ measured for
latencies, so 1.0 is "as fast as the limit" in both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SECTIONS = ("payments", "limit", "search", "messages", "bulk")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rate_text(per_s: float, unit: str = "/s") -> str:
    if per_s >= 100:
        return f"{per_s:,.0f}{unit}"
    return f"{per_s:,.1f}{unit}"


def ms_text(ms: float) -> str:
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def ratio_text(ratio: float) -> str:
    """Three decimals, or as many as show two significant digits of a smaller ratio."""
    if ratio <= 0 or ratio >= 0.001:
        return f"{ratio:.3f}"
    return f"{ratio:.{1 - math.floor(math.log10(ratio))}f}"


@dataclass
class Row:
    section: str
    case: str
    measured: str
    limit: str
    ratio: float | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        shown = {"measured": self.measured, "limit": self.limit}
        return {"case": self.case, **shown, **self.data, "ratio": self.ratio}


@dataclass
class Report:
    quick: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        section: str,
        case: str,
        measured: str,
        limit: str,
        ratio: float | None,
        **data: Any,
    ) -> Row:
        if section not in SECTIONS:
            raise ValueError(f"unknown section {section}")
        row = Row(section, case, measured, limit, ratio, data)
        self.rows.append(row)
        return row

    def table(self) -> Table:
        kind = "quick" if self.quick else "full"
        table = Table(title=f"indbetaling bench ({kind}): each figure beside its limit, same run")
        table.add_column("section")
        table.add_column("case")
        table.add_column("measured", justify="right")
        table.add_column("limit, same run", justify="right")
        table.add_column("÷ limit", justify="right")
        last = None
        for row in self.rows:
            if last is not None and row.section != last:
                table.add_section()
            ratio = "" if row.ratio is None else ratio_text(row.ratio)
            table.add_row(
                row.section if row.section != last else "", row.case, row.measured, row.limit, ratio
            )
            last = row.section
        return table

    def print(self, console: Console) -> None:
        console.print(self.table())
        for note in self.notes:
            console.print(f"  {note}")

    def as_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            **self.info,
            "sections": {s: [r.as_json() for r in self.rows if r.section == s] for s in SECTIONS},
            "notes": self.notes,
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n")

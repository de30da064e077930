"""Synthetic demo data for the debitorsystem: deterministic, realistic, fast to load.

`generate` writes a plan's claims (`indbetaling.demo_plan`, shared by every part) into an empty
debitorsystem database and sums up what it wrote, including the debitorsystem's share of
`demo.json`. Its pieces: `demo_rows` draws the rows, `demo_load` writes them in bulk (worker
processes on SQLite), `demo_progress` shows how far it is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from sqlalchemy import Engine

from indbetaling.debitorsystem.demo_load import (
    DEFAULT_BATCH,
    _write,
    _write_parties,
    load,
)
from indbetaling.debitorsystem.demo_progress import ClaimProgress
from indbetaling.debitorsystem.demo_rows import (
    COLUMNS,
    DAY,
    STREAM,
    DemoError,
    SampleClaim,
    _Encoder,
    _Generator,
)
from indbetaling.demo_plan import DemoAuthority, DemoFagsystem, DemoPlan, make_plan, uuid_int

__all__ = [
    "COLUMNS",
    "DAY",
    "STREAM",
    "DemoAuthority",
    "DemoError",
    "DemoFagsystem",
    "DemoPlan",
    "DemoSummary",
    "SampleClaim",
    "_Encoder",
    "_Generator",
    "_write",
    "_write_parties",
    "generate",
    "make_plan",
    "uuid_int",
]


@dataclass(frozen=True)
class DemoSummary:
    plan: DemoPlan
    by_status: Mapping[str, int]
    by_kind: Mapping[str, int]
    rows: Mapping[str, int]
    """Rows written per table."""
    elapsed: float
    sample_claims: tuple[SampleClaim, ...]

    @property
    def claims(self) -> int:
        return self.plan.claims

    @property
    def claims_per_second(self) -> float:
        return self.claims / self.elapsed if self.elapsed > 0 else float("inf")

    def demo_json(self) -> dict[str, Any]:
        """The debitorsystem's share of `demo.json` (CONTRACT §8)."""
        return {
            "authorities": [{"cvr": a.cvr, "name": a.name} for a in self.plan.authorities],
            "fagsystemer": [
                {
                    "id": str(f.id),
                    "name": f.name,
                    "authorities": list(f.authorities),
                    "org_units": [str(u) for u in f.all_org_units],
                }
                for f in self.plan.fagsystems
            ],
            "sample_claims": [s.as_json() for s in self.sample_claims],
        }


def generate(
    engine: Engine,
    plan: DemoPlan,
    *,
    progress: bool = False,
    batch_size: int = DEFAULT_BATCH,
    console: Console | None = None,
    workers: int | None = None,
) -> DemoSummary:
    """Write the plan's demo data into a migrated, empty debitorsystem database.

    One transaction: it all goes in, or nothing does. On SQLite with enough claims and CPUs,
    `workers` processes (default: one per CPU, up to four) draw batches of `batch_size` claims
    into in-memory databases while this process copies them in; `workers=0` draws them here.
    The rows are the same either way.
    """
    started = time.perf_counter()
    loaded = load(
        engine,
        plan,
        batch_size=batch_size,
        workers=workers,
        progress=ClaimProgress(plan.claims, show=progress, console=console),
    )
    return DemoSummary(
        plan=plan,
        by_status=dict(loaded.by_status),
        by_kind=dict(loaded.by_kind),
        rows={t.name: loaded.counts[t.name] for t in COLUMNS if loaded.counts[t.name]},
        elapsed=time.perf_counter() - started,
        sample_claims=tuple(loaded.samples),
    )

"""`indbetaling bench --quick --json` runs end to end: every section of the table is there with
positive figures (what they are is for people to judge; no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from indbetaling import throwaway
from indbetaling.bench.report import SECTIONS


def numbers(row: dict[str, Any]) -> dict[str, float]:
    return {
        k: v
        for k, v in row.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v is not None
    }


@pytest.mark.slow
def test_quick_bench_reports_every_section_with_positive_figures(
    tmp_path: Path, postgres_admin_url: str, rabbit_node: throwaway.RabbitNode
) -> None:
    """The bench's servers run their own Beskedfordeler on the broker, which consumes the
    intake queue: on a RabbitMQ node of its own it takes no other test's messages, nor they
    its."""
    out = tmp_path / "bench.json"
    env = {
        **os.environ,
        "INDBETALING_TEST_POSTGRES_URL": postgres_admin_url,
        "INDBETALING_TEST_AMQP_URL": rabbit_node.url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "indbetaling.cli", "bench", "--quick", "--json", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "÷ limit" in done.stdout
    report = json.loads(out.read_text())
    assert report["quick"] is True
    assert set(report["sections"]) == set(SECTIONS)
    for section in SECTIONS:
        rows = report["sections"][section]
        assert rows, f"no rows in {section}"
        for row in rows:
            figures = numbers(row)
            assert figures, row
            assert all(v > 0 for v in figures.values()), (section, row)
    payments = report["sections"]["payments"]
    assert {(r["database"], r["protocol"], r["mode"]) for r in payments} == {
        (db, protocol, mode)
        for db in ("PostgreSQL", "SQLite")
        for protocol in ("rest", "soap")
        for mode in ("spread", "hot")
    }
    transports = {r["transport"] for r in report["sections"]["messages"]}
    assert transports == {"RabbitMQ", "database transport"}

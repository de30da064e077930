"""DebitorIndbetalingAfsend's REST mirror, through the gateway's `/api/v1/debitorindbetaling`."""

from __future__ import annotations

from debitorsystem.wire_env import live_server, wire_env  # noqa: F401 - fixtures
from debitorsystem.wire_scenarios import WireScenarios


class TestRest(WireScenarios):
    wire_name = "rest"

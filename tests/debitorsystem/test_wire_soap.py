"""DebitorIndbetalingAfsend over SOAP, with zeep as the client, through the gateway."""

from __future__ import annotations

from debitorsystem.wire_env import live_server, wire_env  # noqa: F401 - fixtures
from debitorsystem.wire_scenarios import WireScenarios


class TestSoap(WireScenarios):
    wire_name = "soap"

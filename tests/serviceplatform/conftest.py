"""Fixtures of the gateway tests; the harness itself is in `harness.py`."""

from serviceplatform.harness import live_server, sp

__all__ = ["live_server", "sp"]

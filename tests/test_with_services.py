"""`make test` starts throwaway services and leaves nothing running behind it: the RabbitMQ
node and its Erlang port mapper (epmd) stop with the run."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "with_services.py"


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_a_run_leaves_no_rabbitmq_node_or_epmd_behind(amqp_url: str) -> None:
    del amqp_url  # required like every RabbitMQ test: fails under CI=true when missing
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDBETALING_TEST_")}
    env["INDBETALING_TEST_SERVICES"] = "rabbitmq"
    probe = "import os; print(os.environ['INDBETALING_TEST_AMQP_URL'])"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    amqp_port = int(re.search(r"127\.0\.0\.1:(\d+)/", run.stdout).group(1))  # type: ignore[union-attr]
    epmd_port = int(re.search(r"epmd on port (\d+)", run.stderr).group(1))  # type: ignore[union-attr]
    assert not listening(amqp_port)
    assert not listening(epmd_port)

"""`indbetaling beskedfordeler fejlkoe|genlever`: operators see and re-deliver given-up pushes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from besked_samples import claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A
from indbetaling import webhooks
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler import push, service
from indbetaling.beskedfordeler.domain import Filter, RetryPolicy
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.cli import app
from indbetaling.db import make_engine, migrate


def _no_answer(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("no answer", request=request)


async def _push_until_given_up(bf: Beskedfordeler, tries: int) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_no_answer)) as dead:
        for _ in range(tries):
            await push.deliver_due(bf, dead)
            later = bf.clock() + timedelta(hours=1)
            bf.clock = lambda later=later: later  # type: ignore[misc]


def test_operator_lists_and_redelivers_the_error_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDBETALING_DATA_DIR", str(tmp_path))
    engine = make_engine(f"sqlite:///{tmp_path / 'beskedfordeler.sqlite'}")
    migrate(engine, "beskedfordeler")
    bf = Beskedfordeler(engine, retry=RetryPolicy(max_attempts=2))
    service.grant_publish(bf, DEBITORSYSTEM, BESKEDTYPE_FORDRING_TIL_INDBETALING)
    box = service.create_mailbox(
        bf, FAGSYSTEM_A, push_url="http://fagsystem/beskeder", push_secret=webhooks.make_secret()
    )
    service.subscribe(bf, box.mailbox_id, Filter())
    transaction, xml = envelope(claim())
    service.publish(bf, DEBITORSYSTEM, xml)
    asyncio.run(_push_until_given_up(bf, 2))
    runner = CliRunner()

    listed = runner.invoke(app, ["beskedfordeler", "fejlkoe"])
    assert listed.exit_code == 0, listed.output
    assert str(transaction) in listed.output
    assert box.mailbox_id in listed.output

    unknown = runner.invoke(app, ["beskedfordeler", "genlever", "999999"])
    assert unknown.exit_code == 1

    redelivered = runner.invoke(app, ["beskedfordeler", "genlever"])
    assert redelivered.exit_code == 0, redelivered.output
    assert "1 besked(er) genleveret" in redelivered.output
    assert service.error_queue(bf) == []
    assert runner.invoke(app, ["beskedfordeler", "fejlkoe"]).output == ""
    engine.dispose()

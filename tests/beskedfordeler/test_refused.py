"""Every publication the Beskedfordeler refuses is kept with its reason, never only logged: the
publisher finds its own at `GET /afviste`, operators all of them with `indbetaling
beskedfordeler afviste`, and the count is a metric. Over HTTP (database transport) and AMQP."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from besked_samples import claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A, FAGSYSTEM_B, as_system
from indbetaling.besked import (
    BESKEDTYPE_FORDRING_TIL_INDBETALING as MESSAGE_TYPE,
)
from indbetaling.besked import afsend_besked_input, read_status_code
from indbetaling.besked_afsend import AmqpPublisher, Outgoing
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.store import MAX_REFUSED_BODY
from indbetaling.beskedfordeler.transport import AmqpDistributor, AmqpTransport
from indbetaling.cli import app
from indbetaling.db import make_engine, migrate

pytestmark = pytest.mark.anyio
NEGATIVE = "FordringTilIndbetaling/Restance må ikke være negativ"


def refused_metric(via: str) -> float:
    value = REGISTRY.get_sample_value("indbetaling_beskedfordeler_refused_total", {"via": via})
    return value or 0.0


async def publish(client: httpx.AsyncClient, who: str, body: bytes) -> int | None:
    response = await client.post(
        "/beskedfordeler/BeskedAfsend", content=body, headers=as_system(who)
    )
    assert response.status_code == 200, response.text
    return read_status_code(response.content)


async def test_refused_publications_are_listed_for_their_publisher_with_the_reason(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    box = await asyncio.to_thread(service.create_mailbox, bf, FAGSYSTEM_B)
    await asyncio.to_thread(service.subscribe, bf, box.mailbox_id, Filter())
    before = refused_metric("http")
    negative_id, negative = envelope(claim(restance=-100))
    foreign_id, foreign = envelope(claim())
    big = b"<a>" + b"<b>x</b>" * 12_000 + b"</a>"  # within the parser's limits, not an envelope

    assert await publish(client, DEBITORSYSTEM, afsend_besked_input(negative)) == 40
    assert await publish(client, DEBITORSYSTEM, big) == 40
    assert await publish(client, FAGSYSTEM_A, foreign) == 40  # no permission for the type
    assert await asyncio.to_thread(service.pull, bf, FAGSYSTEM_B, box.mailbox_id) == []

    mine = (await client.get("/beskedfordeler/afviste", headers=as_system(DEBITORSYSTEM))).json()
    assert [(r["besked_id"], r["transaktions_id"]) for r in mine] == [
        (None, None),
        (str(negative_id), str(negative_id)),
    ]
    assert mine[0]["aarsag"].endswith("fik a")
    assert (mine[0]["stoerrelse"], len(mine[0]["indhold"])) == (len(big), MAX_REFUSED_BODY)
    assert mine[1]["aarsag"] == NEGATIVE
    assert mine[1]["via"] == "http"
    assert mine[1]["indhold"].encode() == afsend_besked_input(negative)
    assert mine[1]["tidspunkt"].endswith("+00:00")

    theirs = (await client.get("/beskedfordeler/afviste", headers=as_system(FAGSYSTEM_A))).json()
    assert [(r["besked_id"], r["aarsag"]) for r in theirs] == [
        (
            str(foreign_id),
            f"Afsenderen {FAGSYSTEM_A} må ikke afsende beskedtypen {MESSAGE_TYPE}",
        )
    ]
    nobody = await client.get("/beskedfordeler/afviste", headers=as_system(FAGSYSTEM_B))
    assert nobody.json() == []
    assert refused_metric("http") - before == 3
    assert await asyncio.to_thread(service.refused_count, bf) == 3


def test_operator_lists_and_counts_every_refused_publication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDBETALING_DATA_DIR", str(tmp_path))
    engine = make_engine(f"sqlite:///{tmp_path / 'beskedfordeler.sqlite'}")
    migrate(engine, "beskedfordeler")
    bf = Beskedfordeler(engine)
    valid_id, valid = envelope(claim())
    with pytest.raises(service.PublishRefused):
        service.publish(bf, DEBITORSYSTEM, valid)  # no permission granted here
    with pytest.raises(service.PublishRefused):
        service.publish(bf, FAGSYSTEM_A, b"not xml")
    runner = CliRunner()

    listed = runner.invoke(app, ["beskedfordeler", "afviste"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 3
    assert lines[0].split("\t")[2:6] == ["http", FAGSYSTEM_A, "-", "-"]
    assert "velformet" in lines[0]
    assert lines[1].split("\t")[2:6] == ["http", DEBITORSYSTEM, str(valid_id), str(valid_id)]
    assert f"må ikke afsende beskedtypen {MESSAGE_TYPE}" in lines[1]
    assert lines[2] == "2 afvist(e) i alt"

    one = runner.invoke(app, ["beskedfordeler", "afviste", "--afsender", FAGSYSTEM_A])
    assert one.output.splitlines()[-1] == "1 afvist(e) i alt"


async def wait_for_refused(bf: Beskedfordeler, count: int, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await asyncio.to_thread(service.refused_count, bf) < count:
        assert asyncio.get_running_loop().time() < deadline, "refusals not recorded in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_amqp_distributor_keeps_what_it_refuses(bf: Beskedfordeler, amqp_url: str) -> None:
    transport = AmqpTransport(amqp_url)
    await transport.connect()
    distributor = AmqpDistributor(bf, transport, intake_queue=f"intake-{uuid.uuid4()}")
    await distributor.start()
    debitor = AmqpPublisher(amqp_url, DEBITORSYSTEM)
    stranger = AmqpPublisher(amqp_url, FAGSYSTEM_A)
    await debitor.connect()
    await stranger.connect()
    before = refused_metric("amqp")
    try:
        negative_id, negative = envelope(claim(restance=-100))
        foreign_id, foreign = envelope(claim())
        await debitor.publish(Outgoing(str(negative_id), str(negative_id), "12345678", negative))
        await stranger.publish(Outgoing(str(foreign_id), str(foreign_id), "12345678", foreign))
        await wait_for_refused(bf, 2)
    finally:
        await distributor.stop()
        await debitor.close()
        await stranger.close()
        await transport.close()
    refused = await asyncio.to_thread(service.refused, bf)
    assert sorted((r.publisher_id, r.besked_id, r.via) for r in refused) == sorted(
        [
            (DEBITORSYSTEM, str(negative_id), "amqp"),
            (FAGSYSTEM_A, str(foreign_id), "amqp"),
        ]
    )
    assert {r.besked_id: r.reason for r in refused}[str(negative_id)] == NEGATIVE
    assert refused_metric("amqp") - before == 2

"""Publishing, filtering and pulling on the database transport; own mailboxes only."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from besked_samples import claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A, FAGSYSTEM_B, as_system, assert_problem
from indbetaling.besked import (
    BESKEDTYPE_FORDRING_TIL_INDBETALING,
    ObjectAction,
    afsend_besked_input,
    parse_envelope,
    read_status_code,
)
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler

pytestmark = pytest.mark.anyio

PERSON_1 = "urn:oio:cpr-nr:0101800001"
PERSON_2 = "urn:oio:cpr-nr:0202800002"
STRANGER = "urn:oio:cpr-nr:0303800003"


def setup_subscribers(bf: Beskedfordeler) -> dict[str, str]:
    """A: persons in its list; B: everything of authority 12345678 that is closed."""
    list_a = service.create_value_list(bf, FAGSYSTEM_A, "A's persons", [PERSON_1, PERSON_2])
    box_a = service.create_mailbox(bf, FAGSYSTEM_A).mailbox_id
    box_b = service.create_mailbox(bf, FAGSYSTEM_B).mailbox_id
    service.subscribe(
        bf, box_a, Filter(message_type=BESKEDTYPE_FORDRING_TIL_INDBETALING, value_list_id=list_a)
    )
    service.subscribe(bf, box_b, Filter(authority_cvr="12345678", object_action="Afsluttet"))
    return {"a": box_a, "b": box_b, "list_a": list_a}


async def publish(client: httpx.AsyncClient, xml: bytes, who: str = DEBITORSYSTEM) -> int | None:
    response = await client.post(
        "/beskedfordeler/BeskedAfsend", content=afsend_besked_input(xml), headers=as_system(who)
    )
    assert response.status_code == 200
    return read_status_code(response.content)


async def pull(client: httpx.AsyncClient, box: str, who: str) -> list[dict[str, object]]:
    response = await client.get(f"/beskedfordeler/dueslag/{box}/beskeder", headers=as_system(who))
    assert response.status_code == 200, response.text
    result: list[dict[str, object]] = response.json()
    return result


async def test_messages_reach_exactly_the_matching_subscribers(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    boxes = await asyncio.to_thread(setup_subscribers, bf)
    _, for_a = envelope(claim(PERSON_2, STRANGER))
    _, for_a_and_b = envelope(claim(PERSON_1), ObjectAction.AFSLUTTET)
    _, for_nobody = envelope(claim(STRANGER, cvr="87654321"))
    for xml in (for_a, for_a_and_b, for_nobody):
        assert await publish(client, xml) == 20
    got_a = await pull(client, boxes["a"], FAGSYSTEM_A)
    got_b = await pull(client, boxes["b"], FAGSYSTEM_B)
    ids = {x: parse_envelope(x).besked_id for x in (for_a, for_a_and_b, for_nobody)}
    assert [m["besked_id"] for m in got_a] == [ids[for_a], ids[for_a_and_b]]
    assert [m["besked_id"] for m in got_b] == [ids[for_a_and_b]]
    body = str(got_a[0]["haendelsesbesked"]).encode()
    assert parse_envelope(body).claim == parse_envelope(for_a).claim


async def test_pulled_message_comes_back_on_nack_and_is_gone_after_ack(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    boxes = await asyncio.to_thread(setup_subscribers, bf)
    _, xml = envelope(claim(PERSON_1))
    assert await publish(client, xml) == 20
    first = await pull(client, boxes["a"], FAGSYSTEM_A)
    assert await pull(client, boxes["a"], FAGSYSTEM_A) == []  # taken, not visible
    url = f"/beskedfordeler/dueslag/{boxes['a']}/beskeder/{first[0]['tag']}"
    assert (await client.post(f"{url}/nack", headers=as_system(FAGSYSTEM_A))).status_code == 204
    again = await pull(client, boxes["a"], FAGSYSTEM_A)
    assert again[0]["besked_id"] == first[0]["besked_id"]
    assert again[0]["redelivered"] is True
    assert (await client.post(f"{url}/ack", headers=as_system(FAGSYSTEM_A))).status_code == 204
    assert (await client.post(f"{url}/nack", headers=as_system(FAGSYSTEM_A))).status_code == 404
    assert await pull(client, boxes["a"], FAGSYSTEM_A) == []


async def test_an_unacked_message_is_redelivered_when_its_lease_runs_out(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    boxes = await asyncio.to_thread(setup_subscribers, bf)
    _, xml = envelope(claim(PERSON_1))
    assert await publish(client, xml) == 20
    assert len(await asyncio.to_thread(service.pull, bf, FAGSYSTEM_A, boxes["a"])) == 1
    later = bf.clock() + bf.lease * 2
    bf.clock = lambda: later
    again = await asyncio.to_thread(service.pull, bf, FAGSYSTEM_A, boxes["a"])
    assert [m.deliveries for m in again] == [2]


async def test_only_own_mailboxes_are_readable(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    boxes = await asyncio.to_thread(setup_subscribers, bf)
    _, xml = envelope(claim(PERSON_1))
    assert await publish(client, xml) == 20
    foreign = await client.get(
        f"/beskedfordeler/dueslag/{boxes['a']}/beskeder", headers=as_system(FAGSYSTEM_B)
    )
    unknown = await client.get(
        "/beskedfordeler/dueslag/00000000-0000-0000-0000-000000000000/beskeder",
        headers=as_system(FAGSYSTEM_B),
    )
    assert assert_problem(foreign, 404, "IKKE_FUNDET").startswith("Dueslaget")
    assert assert_problem(unknown, 404, "IKKE_FUNDET").startswith("Dueslaget")
    anonymous = await client.get(f"/beskedfordeler/dueslag/{boxes['a']}/beskeder")
    assert assert_problem(anonymous, 401, "IKKE_AUTENTIFICERET") == "Ingen kalder"
    ack = await client.post(
        f"/beskedfordeler/dueslag/{boxes['a']}/beskeder/1/ack", headers=as_system(FAGSYSTEM_B)
    )
    assert assert_problem(ack, 404, "IKKE_FUNDET").startswith("Dueslaget")
    assert len(await pull(client, boxes["a"], FAGSYSTEM_A)) == 1  # still there for its owner


async def test_publisher_without_permission_and_invalid_messages_are_refused(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    boxes = await asyncio.to_thread(setup_subscribers, bf)
    _, xml = envelope(claim(PERSON_1))
    assert await publish(client, xml, who=FAGSYSTEM_B) == 40
    response = await client.post(
        "/beskedfordeler/BeskedAfsend", content=b"<nonsense/>", headers=as_system(DEBITORSYSTEM)
    )
    assert read_status_code(response.content) == 40
    assert b"Forventede Haendelsesbesked" in response.content
    xxe = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    response = await client.post(
        "/beskedfordeler/BeskedAfsend", content=xxe, headers=as_system(DEBITORSYSTEM)
    )
    assert read_status_code(response.content) == 40
    huge = await client.post(
        "/beskedfordeler/BeskedAfsend",
        content=b"<a>" + b"x" * 1_100_000 + b"</a>",
        headers=as_system(DEBITORSYSTEM),
    )
    assert "1000000 bytes" in assert_problem(huge, 413, "FORESPOERGSEL_FOR_STOR")
    assert await pull(client, boxes["a"], FAGSYSTEM_A) == []


def test_republished_message_is_placed_once_per_mailbox(bf: Beskedfordeler) -> None:
    boxes = setup_subscribers(bf)
    _, xml = envelope(claim(PERSON_1))
    service.publish(bf, DEBITORSYSTEM, xml)
    service.publish(bf, DEBITORSYSTEM, xml)
    assert len(service.pull(bf, FAGSYSTEM_A, boxes["a"], limit=10)) == 1


@pytest.mark.slow  # a million values
def test_million_cpr_value_list_works(bf: Beskedfordeler) -> None:
    values = (f"urn:oio:cpr-nr:{n:010d}" for n in range(1_000_000))
    list_id = service.create_value_list(bf, FAGSYSTEM_A, "big", values)
    box = service.create_mailbox(bf, FAGSYSTEM_A).mailbox_id
    service.subscribe(bf, box, Filter(value_list_id=list_id))
    _, inside = envelope(claim("urn:oio:cpr-nr:0000999999"))
    _, outside = envelope(claim("urn:oio:cpr-nr:1000000000"))
    assert [m.mailbox_id for m in service.publish(bf, DEBITORSYSTEM, inside).mailboxes] == [box]
    assert service.publish(bf, DEBITORSYSTEM, outside).mailboxes == []
    assert service.list_value_lists(bf, [list_id])[0].size == 1_000_000

"""A subscriber makes, changes and deletes its own mailboxes and subscriptions over REST; a
matching message then reaches the mailbox it made, and nothing of another subscriber's is
visible or changeable."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from besked_samples import claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A, FAGSYSTEM_B, as_system, assert_problem
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING, ObjectAction
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.service import Beskedfordeler

pytestmark = pytest.mark.anyio
PART = "urn:oio:cpr-nr:0101800001"
CVR = "12345678"
A = as_system(FAGSYSTEM_A, CVR)
B = as_system(FAGSYSTEM_B, CVR)


async def test_subscriber_makes_a_mailbox_and_a_filtered_subscription_and_gets_its_message(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    made = await client.post("/beskedfordeler/dueslag", json={"navn": "Mine"}, headers=A)
    assert made.status_code == 201, made.text
    box = made.json()
    assert (box["navn"], box["push_url"], box["push_hemmelighed"]) == ("Mine", None, None)
    values = await client.post(
        "/beskedfordeler/vaerdilister", json={"navn": "Parter", "vaerdier": [PART]}, headers=A
    )
    list_id = values.json()["id"]
    sub = await client.post(
        f"/beskedfordeler/dueslag/{box['id']}/abonnementer",
        json={
            "beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING,
            "objekt_handling": "Aendret",
            "vaerdiliste_id": list_id,
        },
        headers=A,
    )
    assert sub.status_code == 201, sub.text
    assert sub.json() == {
        "id": sub.json()["id"],
        "dueslag": box["id"],
        "beskedtype": BESKEDTYPE_FORDRING_TIL_INDBETALING,
        "myndighed_cvr": CVR,
        "objekt_handling": "Aendret",
        "vaerdiliste_id": list_id,
    }
    listed = await client.get(f"/beskedfordeler/dueslag/{box['id']}/abonnementer", headers=A)
    assert listed.json() == [sub.json()]
    assert (await client.get("/beskedfordeler/dueslag", headers=A)).json() == [box]

    match_id, match = envelope(claim(PART), ObjectAction.AENDRET)
    _, created = envelope(claim(PART), ObjectAction.OPRETTET)
    _, stranger = envelope(claim("urn:oio:cpr-nr:0909800009"), ObjectAction.AENDRET)
    _, elsewhere = envelope(claim(PART, cvr="87654321"), ObjectAction.AENDRET)
    for xml in (match, created, stranger, elsewhere):
        await asyncio.to_thread(service.publish, bf, DEBITORSYSTEM, xml)
    pulled = await client.get(f"/beskedfordeler/dueslag/{box['id']}/beskeder", headers=A)
    assert [m["besked_id"] for m in pulled.json()] == [str(match_id)]

    gone = await client.delete(
        f"/beskedfordeler/dueslag/{box['id']}/abonnementer/{sub.json()['id']}", headers=A
    )
    assert gone.status_code == 204
    assert (
        await client.get(f"/beskedfordeler/dueslag/{box['id']}/abonnementer", headers=A)
    ).json() == []
    assert (
        await client.delete(f"/beskedfordeler/dueslag/{box['id']}", headers=A)
    ).status_code == 204
    assert (await client.get("/beskedfordeler/dueslag", headers=A)).json() == []
    # its value list is free again once no subscription uses it
    assert (
        await client.delete(f"/beskedfordeler/vaerdilister/{list_id}", headers=A)
    ).status_code == 204


async def test_push_mailbox_gets_its_secret_once_and_can_become_pull(
    client: httpx.AsyncClient,
) -> None:
    made = await client.post(
        "/beskedfordeler/dueslag",
        json={"navn": "Push", "push_url": "https://fagsystem.example/beskeder"},
        headers=A,
    )
    box = made.json()
    assert box["push_url"] == "https://fagsystem.example/beskeder"
    assert box["push_hemmelighed"].startswith("whsec_")
    assert (await client.get("/beskedfordeler/dueslag", headers=A)).json()[0][
        "push_hemmelighed"
    ] is None
    renamed = await client.put(
        f"/beskedfordeler/dueslag/{box['id']}",
        json={"navn": "Nyt navn", "push_url": "https://fagsystem.example/beskeder"},
        headers=A,
    )
    assert renamed.json() == {**box, "navn": "Nyt navn", "push_hemmelighed": None}
    pull = await client.put(f"/beskedfordeler/dueslag/{box['id']}", json={"navn": "x"}, headers=A)
    assert (pull.json()["push_url"], pull.json()["push_hemmelighed"]) == (None, None)


async def test_another_subscribers_mailbox_and_list_answer_like_unknown_ones(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    box = (await client.post("/beskedfordeler/dueslag", json={}, headers=A)).json()["id"]
    b_list = await asyncio.to_thread(service.create_value_list, bf, FAGSYSTEM_B, "B", [PART])
    unknown = "00000000-0000-4000-8000-0000000000ff"
    for mailbox in (box, unknown):
        calls = [
            client.get(f"/beskedfordeler/dueslag/{mailbox}/abonnementer", headers=B),
            client.post(f"/beskedfordeler/dueslag/{mailbox}/abonnementer", json={}, headers=B),
            client.put(f"/beskedfordeler/dueslag/{mailbox}", json={"navn": "x"}, headers=B),
            client.delete(f"/beskedfordeler/dueslag/{mailbox}", headers=B),
        ]
        for response in [await c for c in calls]:
            text = assert_problem(response, 404, "IKKE_FUNDET")
            assert text == f"Dueslaget {mailbox} findes ikke"
    assert (await client.get("/beskedfordeler/dueslag", headers=B)).json() == []
    foreign_list = await client.post(
        f"/beskedfordeler/dueslag/{box}/abonnementer",
        json={"vaerdiliste_id": b_list},
        headers=A,
    )
    assert assert_problem(foreign_list, 404, "IKKE_FUNDET") == f"Værdilisten {b_list} findes ikke"
    assert await asyncio.to_thread(service.subscriptions_of, bf, FAGSYSTEM_A, box) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"myndighed_cvr": "87654321"}, 403, "ADGANG_NAEGTET"),
        ({"myndighed_cvr": "1234"}, 422, "UGYLDIG_FORESPOERGSEL"),
        ({"objekt_handling": "Slettet"}, 422, "UGYLDIG_FORESPOERGSEL"),
        ({"ukendt": 1}, 422, "UGYLDIG_FORESPOERGSEL"),
        ({"vaerdiliste_id": "00000000-0000-4000-8000-0000000000ff"}, 404, "IKKE_FUNDET"),
    ],
)
async def test_a_bad_subscription_is_refused_and_changes_nothing(
    bf: Beskedfordeler, client: httpx.AsyncClient, body: dict[str, object], status: int, code: str
) -> None:
    box = (await client.post("/beskedfordeler/dueslag", json={}, headers=A)).json()["id"]
    refused = await client.post(f"/beskedfordeler/dueslag/{box}/abonnementer", json=body, headers=A)
    assert_problem(refused, status, code)
    assert await asyncio.to_thread(service.subscriptions_of, bf, FAGSYSTEM_A, box) == []


async def test_a_bad_mailbox_is_refused(client: httpx.AsyncClient) -> None:
    for body in ({"push_url": "ftp://x"}, {"navn": "x" * 201}, {"push_url": 3}):
        refused = await client.post("/beskedfordeler/dueslag", json=body, headers=A)
        assert_problem(refused, 422, "UGYLDIG_FORESPOERGSEL")
    anonymous = await client.post("/beskedfordeler/dueslag", json={})
    assert_problem(anonymous, 401, "IKKE_AUTENTIFICERET")
    assert (await client.get("/beskedfordeler/dueslag", headers=A)).json() == []

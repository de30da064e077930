"""Collections staff's changes take an optional Idempotency-Key (CONTRACT §10): a client that
lost the answer retries with the same key and body and gets the same answer (status and body)
without the change being made again; the same key with another body is 409 TRANSAKTION_KONFLIKT
and changes nothing; keys belong to the token's authority. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indbetaling import db, http_errors, outbox
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.api import ledger_json, staff_router

from .conftest import CVR, OTHER_CVR, PART, World, code

Staff = tuple[TestClient, World, dict[str, dict[str, str]]]


@pytest.fixture
def staff(world: World) -> Staff:
    app = FastAPI()
    http_errors.install(app)
    app.include_router(staff_router(world.service))
    tokens = {cvr: world.service.issue_staff_token(cvr, "Opkrævningen") for cvr in (CVR, OTHER_CVR)}
    headers = {cvr: {"Authorization": f"Bearer {token}"} for cvr, token in tokens.items()}
    return TestClient(app, raise_server_exceptions=False), world, headers


def _post(staff: Staff, path: str, body: dict[str, Any], key: str, cvr: str = CVR) -> Any:
    client, _, headers = staff
    return client.post(
        f"/api/v1/myndigheder/{cvr}/{path}",
        headers={**headers[cvr], "Idempotency-Key": key},
        json=body,
    )


def _facts(world: World, claim: uuid.UUID) -> tuple[Any, int]:
    with db.read(world.service.engine) as conn:
        messages = len(outbox.pending(conn, store.outbox, limit=10_000))
    return ledger_json(world.service.claim(CVR, claim)), messages


def _claim_body(account: uuid.UUID) -> dict[str, Any]:
    return {
        "DebitorkontoId": str(account),
        "KravtypeKode": "KRAV.DAGTILBUD",
        "Hovedstol": "1000.00",
        "Forfaldsdato": "2026-12-01",
        "SidsteRettidigeBetalingsdato": "2026-12-10",
        "Haefterkreds": [{"PartId": PART, "HaefterRolle": "PRIMAER"}],
    }


def test_a_lost_answer_is_retried_safely_and_a_conflicting_reuse_changes_nothing(
    staff: Staff,
) -> None:
    _, world, _ = staff
    claim = world.claim(100_000)
    assert code(world.pay(claim, "600.00")) == "ACCEPTERET"
    path, key = f"fordringer/{claim}/nedreguleringer", str(uuid.uuid4())
    body = {"Beloeb": "500.00", "Tekst": "Takst rettet"}
    first = _post(staff, path, body, key)
    assert first.status_code == 200, first.text
    after_first = _facts(world, claim)
    (order,) = first.json()["TilbagefoerselsOrdrer"]

    again = _post(staff, path, body, key.upper())  # the answer was lost; the same key again
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert _facts(world, claim) == after_first  # written down once, one order, one message
    assert world.service.claim(CVR, claim).written_down == 50_000
    assert [o.id for o in world.service.claim(CVR, claim).orders] == [
        uuid.UUID(order["TilbagefoerselsOrdreId"])
    ]

    conflict = _post(staff, path, {**body, "Beloeb": "100.00"}, key)
    assert conflict.status_code == 409, conflict.text
    assert conflict.headers["content-type"] == http_errors.PROBLEM_MEDIA_TYPE
    assert conflict.json()["FejlKode"] == "TRANSAKTION_KONFLIKT"
    other_call = _post(staff, f"fordringer/{claim}/daekninger", {"Beloeb": "1.00"}, key)
    assert other_call.status_code == 409
    assert other_call.json()["FejlKode"] == "TRANSAKTION_KONFLIKT"
    assert _facts(world, claim) == after_first


def test_every_staff_change_answers_a_retry_from_its_first_answer(staff: Staff) -> None:
    _, world, _ = staff
    account_key, claim_key = str(uuid.uuid4()), str(uuid.uuid4())
    account = _post(staff, "debitorkonti", {"DebitorkontoTypeKode": "KONTO.BORGER"}, account_key)
    assert account.status_code == 201
    assert (
        _post(staff, "debitorkonti", {"DebitorkontoTypeKode": "KONTO.BORGER"}, account_key).content
        == account.content
    )
    account_id = uuid.UUID(account.json()["DebitorkontoId"])

    made = _post(staff, "fordringer", _claim_body(account_id), claim_key)
    assert made.status_code == 201
    again = _post(staff, "fordringer", _claim_body(account_id), claim_key)
    assert (again.status_code, again.content) == (201, made.content)
    claim = uuid.UUID(made.json()["Fordring"]["FordringId"])
    with db.read(world.service.engine) as conn:
        assert store.payable_claim_ids(
            conn,
            store.ClaimQuery(authority_cvr=CVR, account_id=account_id),
            today=world.service.today(),
            after=None,
            limit=10,
        ) == [claim]

    for path, body, status in (
        (f"fordringer/{claim}/daekninger", {"Beloeb": "100.00"}, 201),
        (f"fordringer/{claim}/annullering", {"Tekst": "Fejloprettet"}, 200),
    ):
        key = str(uuid.uuid4())
        first = _post(staff, path, body, key)
        assert first.status_code == status, first.text
        facts = _facts(world, claim)
        retry = _post(staff, path, body, key)
        assert (retry.status_code, retry.content) == (status, first.content)
        assert _facts(world, claim) == facts
    assert len(world.service.claim(CVR, claim).coverages) == 1


def test_keys_belong_to_the_tokens_authority(staff: Staff) -> None:
    _, world, _ = staff
    key = str(uuid.uuid4())
    body = {"DebitorkontoTypeKode": "KONTO.BORGER"}
    mine = _post(staff, "debitorkonti", body, key)
    theirs = _post(staff, "debitorkonti", body, key, cvr=OTHER_CVR)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json() != theirs.json()  # each authority's own account, made under its own key
    for cvr, answer in ((CVR, mine), (OTHER_CVR, theirs)):
        account = uuid.UUID(answer.json()["DebitorkontoId"])
        with db.read(world.service.engine) as conn:
            assert store.account_type(conn, account, cvr) == "KONTO.BORGER"


def test_a_refused_call_stores_nothing_under_its_key(staff: Staff) -> None:
    _, world, _ = staff
    claim = world.claim(100_000)
    path, key = f"fordringer/{claim}/nedreguleringer", str(uuid.uuid4())
    refused = _post(staff, path, {"Beloeb": "2000.00"}, key)  # beyond the principal
    assert refused.status_code == 422, refused.text
    assert world.service.claim(CVR, claim).written_down == 0
    made = _post(staff, path, {"Beloeb": "200.00"}, key)  # checked afresh: nothing was kept
    assert made.status_code == 200, made.text
    assert world.service.claim(CVR, claim).written_down == 20_000


def test_concurrent_retries_make_one_change(world: World) -> None:
    claim = world.claim(100_000)
    key = str(uuid.uuid4())

    def write_down(_: int) -> bytes:
        return world.service.once(
            CVR,
            key,
            "Nedregulering",
            {"FordringId": str(claim), "Beloeb": "100.00"},
            step=world.service.write_down_step(CVR, claim, 10_000, None),
            render=lambda change: ledger_json(change.ledger),
        )

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(write_down, range(6)))
    assert len(set(answers)) == 1
    assert world.service.claim(CVR, claim).written_down == 10_000

"""The fagsystem's typed client of DebitorIndbetalingAfsend against the real gateway and the real
debitorsystem over real HTTP (`debitorsystem.wire_env`): search across pages, payments and
reversals with their business answers, R8's idempotent repeat, a refreshed token, and every way
of getting no business answer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

import httpx
import pytest
from starlette.responses import Response

from debitorsystem.conftest import CO_PART, CVR, OTHER_CVR, PART, STRANGER, make_world
from debitorsystem.wire_env import PROVIDER_BASE, WireEnv, live_server, wire_env
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID, DEBITOR_INDBETALING_WSDL
from indbetaling.fagsystem.client import (
    BusinessAnswer,
    CallRefused,
    GatewayDebitorClient,
    InvalidCall,
    NoBusinessAnswer,
    PaymentCall,
    ReversalCall,
    ReversalReason,
    SearchQuery,
)
from indbetaling.fordring import LiableParty
from indbetaling.soap import SOAP_CONTENT_TYPE, load_contract, server_fault
from indbetaling.soap.faults import fault_envelope
from indbetaling.soap.parsing import response_envelope
from indbetaling.sts_client import AsyncTokenClient, Credentials

__all__ = ["live_server", "make_world", "wire_env"]

T = TypeVar("T")
Use = Callable[[GatewayDebitorClient], Awaitable[T]]


def credentials(env: WireEnv, system: str = "fagsystem") -> Credentials:
    s = env.systems[system]
    return Credentials(env.base_url, s.client_id, s.client_secret)


def run(
    creds: Credentials,
    use: Use[T],
    *,
    page_size: int = 100,
    timeout: float = 30,
    token: str | None = None,
) -> T:
    """`use` a fresh client on a fresh event loop; `token` puts a token in its cache first."""

    async def main() -> T:
        async with httpx.AsyncClient(timeout=timeout) as http:
            tokens = AsyncTokenClient(creds, http)
            if token is not None:
                keep_token(tokens, token)
            client = GatewayDebitorClient(creds, http, tokens=tokens, page_size=page_size)
            return await use(client)

    return asyncio.run(main())


def keep_token(tokens: AsyncTokenClient, token: str, cvr: str = CVR) -> None:
    """Put `token` in the cache as if the token service had just handed it out."""
    answer = httpx.Response(200, json={"access_token": token, "expires_in": 3600})
    tokens.cache.keep(DEBITOR_INDBETALING_ENTITY_ID, cvr, answer)


def payment(env: WireEnv, claim_id: uuid.UUID, amount: int, **changes: object) -> PaymentCall:
    fields: dict[str, object] = {
        "payment_id": uuid.uuid4(),
        "claim_id": claim_id,
        "amount": amount,
        "payment_date": date(2026, 11, 26),
        "payer_part_id": PART,
        "org_unit_id": env.world.org_unit,
        "text": "Betaling af daginstitution",
    }
    fields.update(changes)
    return PaymentCall(**fields)  # type: ignore[arg-type]


def pay(env: WireEnv, call: PaymentCall, transaction: uuid.UUID | None = None) -> BusinessAnswer:
    key = transaction or uuid.uuid4()
    return run(credentials(env), lambda c: c.pay(CVR, key, call))


def calls_of(env: WireEnv, operation: str) -> list[dict[str, object]]:
    return [e for e in env.platform.audit_log(limit=1000) if e["operation"] == operation]


# --- search --------------------------------------------------------------------------------


def test_a_search_follows_every_page_to_the_end(wire_env: WireEnv) -> None:
    world = wire_env.world
    mine = [world.claim(principal=10_000 * (i + 1)) for i in range(5)]
    world.claim(parties=(LiableParty(STRANGER, "PRIMAER"),))  # another party's
    world.claim(cvr=OTHER_CVR)  # the same party in another authority

    found = run(
        credentials(wire_env), lambda c: c.search(CVR, SearchQuery(part_id=PART)), page_size=2
    )

    assert sorted(v.claim_id for v in found) == sorted(mine)
    assert len(found) == len({v.claim_id for v in found})
    for view in found:
        assert view == world.service.claim(CVR, view.claim_id).view()
    assert len(calls_of(wire_env, "SoegFordringTilIndbetaling")) == 3  # pages of 2, 2 and 1


def test_a_search_by_claim_finds_it_with_its_parties(wire_env: WireEnv) -> None:
    claim_id = wire_env.world.claim(principal=12_345)

    (view,) = run(credentials(wire_env), lambda c: c.search(CVR, SearchQuery(claim_id=claim_id)))

    assert (view.claim_id, view.restance, view.principal) == (claim_id, 12_345, 12_345)
    assert {p.part_id for p in view.liable_parties} == {PART, CO_PART}


def test_a_search_that_finds_nothing_is_an_empty_list(wire_env: WireEnv) -> None:
    query = SearchQuery(part_id=STRANGER)
    assert run(credentials(wire_env), lambda c: c.search(CVR, query)) == []


def test_a_search_without_any_id_is_our_mistake(wire_env: WireEnv) -> None:
    with pytest.raises(InvalidCall, match="mindst én af PartId"):
        run(credentials(wire_env), lambda c: c.search(CVR, SearchQuery()))


# --- payments and reversals ----------------------------------------------------------------


def test_an_accepted_payment_has_its_coverage_and_the_restance_after_it(
    wire_env: WireEnv,
) -> None:
    claim_id = wire_env.world.claim(principal=100_000)

    answer = pay(wire_env, payment(wire_env, claim_id, 25_000))

    assert answer.accepted
    assert (answer.error_code, answer.error_text, answer.restance) == (None, None, 75_000)
    assert answer.coverage_id is not None
    ledger = wire_env.world.service.claim(CVR, claim_id)
    assert ledger.restance == 75_000
    assert [c.id for c in ledger.coverages] == [answer.coverage_id]


def test_a_payment_over_the_restance_is_refused_with_the_current_restance(
    wire_env: WireEnv,
) -> None:
    claim_id = wire_env.world.claim(principal=100_000)
    assert pay(wire_env, payment(wire_env, claim_id, 30_000)).accepted

    answer = pay(wire_env, payment(wire_env, claim_id, 70_001))

    assert not answer.accepted
    assert answer.error_code == "BELOEB_OVERSTIGER_RESTANCE"
    assert answer.error_text
    assert (answer.restance, answer.coverage_id) == (70_000, None)
    assert wire_env.coverages(claim_id) == 1


def test_the_same_transaction_again_gets_the_same_answer_once_in_effect(
    wire_env: WireEnv,
) -> None:
    claim_id = wire_env.world.claim(principal=100_000)
    call, transaction = payment(wire_env, claim_id, 25_000), uuid.uuid4()
    first = pay(wire_env, call, transaction)
    assert pay(wire_env, payment(wire_env, claim_id, 10_000)).accepted  # the state moves on

    again = pay(wire_env, call, transaction)

    assert again == first
    assert again.restance == 75_000  # the answer as it was, not the Restance now
    assert wire_env.coverages(claim_id) == 2
    assert wire_env.restance(claim_id) == 65_000


def test_a_refusal_is_repeated_as_it_was(wire_env: WireEnv) -> None:
    claim_id = wire_env.world.claim(principal=10_000)
    call, transaction = payment(wire_env, claim_id, 20_000), uuid.uuid4()

    first = pay(wire_env, call, transaction)
    again = pay(wire_env, call, transaction)

    assert again == first
    assert first.error_code == "BELOEB_OVERSTIGER_RESTANCE"


def test_an_accepted_reversal_gives_the_restance_back(wire_env: WireEnv) -> None:
    claim_id = wire_env.world.claim(principal=100_000)
    call = payment(wire_env, claim_id, 40_000)
    assert pay(wire_env, call).accepted
    reversal = ReversalCall(call.payment_id, ReversalReason.FEJLREGISTRERING, text="Fejl")

    answer = run(credentials(wire_env), lambda c: c.reverse(CVR, uuid.uuid4(), reversal))

    assert (answer.accepted, answer.restance, answer.error_code) == (True, 100_000, None)
    assert wire_env.restance(claim_id) == 100_000


def test_another_fagsystems_payment_cannot_be_reversed(wire_env: WireEnv) -> None:
    claim_id = wire_env.world.claim(principal=100_000)
    call = payment(wire_env, claim_id, 40_000)
    assert pay(wire_env, call).accepted
    reversal = ReversalCall(call.payment_id, ReversalReason.ANDET)

    answer = run(
        credentials(wire_env, "other_fagsystem"), lambda c: c.reverse(CVR, uuid.uuid4(), reversal)
    )

    assert (answer.accepted, answer.error_code) == (False, "IKKE_EJER")
    assert answer.error_text
    assert wire_env.restance(claim_id) == 60_000


def test_a_request_the_schema_refuses_is_never_sent(wire_env: WireEnv) -> None:
    claim_id = wire_env.world.claim(principal=100_000)
    too_long = payment(wire_env, claim_id, 100, text="x" * 201)

    with pytest.raises(InvalidCall, match="skemaet"):
        pay(wire_env, too_long)

    assert calls_of(wire_env, "ForetagIndbetaling") == []


# --- tokens --------------------------------------------------------------------------------


def test_a_refused_token_is_replaced_once_and_the_call_goes_through(wire_env: WireEnv) -> None:
    claim_id = wire_env.world.claim(principal=100_000)
    call = payment(wire_env, claim_id, 1_000)

    async def use(client: GatewayDebitorClient) -> tuple[BusinessAnswer, str]:
        answer = await client.pay(CVR, uuid.uuid4(), call)
        return answer, await client.tokens.token(DEBITOR_INDBETALING_ENTITY_ID, CVR)

    answer, token_after = run(credentials(wire_env), use, token="stale-or-garbage")

    assert answer.accepted
    assert token_after != "stale-or-garbage"
    statuses = [e["http_status"] for e in calls_of(wire_env, "?")]
    assert 401 in statuses  # the stale token was tried and refused first
    assert wire_env.coverages(claim_id) == 1


class GarbageTokens(AsyncTokenClient):
    """A token client that only ever has a token the gateway refuses."""

    async def token(self, entity_id: str, cvr: str) -> str:
        return "garbage"


def test_a_token_refused_twice_is_a_refused_call(wire_env: WireEnv) -> None:
    creds = credentials(wire_env)

    async def main() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            client = GatewayDebitorClient(creds, http, tokens=GarbageTokens(creds, http))
            await client.search(CVR, SearchQuery(part_id=PART))

    with pytest.raises(CallRefused, match="401"):
        asyncio.run(main())
    assert len(calls_of(wire_env, "?")) == 2  # once, and once more: no loop


def test_no_service_agreement_is_a_refused_call(wire_env: WireEnv) -> None:
    with pytest.raises(CallRefused, match="serviceaftale"):
        run(
            credentials(wire_env, "stranger"),
            lambda c: c.search(CVR, SearchQuery(part_id=PART)),
        )


def test_an_agreement_ended_since_the_token_was_issued_is_a_refused_call(
    wire_env: WireEnv,
) -> None:
    token = wire_env.token_without_agreement("stranger")

    with pytest.raises(CallRefused, match="HTTP 403"):
        run(
            credentials(wire_env, "stranger"),
            lambda c: c.search(CVR, SearchQuery(part_id=PART)),
            token=token,
        )


# --- no business answer --------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_gateway_gives_no_business_answer() -> None:
    creds = Credentials(f"http://127.0.0.1:{closed_port()}", "fagsystem", "secret")
    call = PaymentCall(uuid.uuid4(), uuid.uuid4(), 100, date(2026, 11, 26), PART, uuid.uuid4())

    with pytest.raises(NoBusinessAnswer, match="Tokenservicen svarer ikke") as caught:
        run(creds, lambda c: c.pay(CVR, uuid.uuid4(), call))
    assert not isinstance(caught.value, CallRefused)


def provider_at(env: WireEnv, path: str) -> None:
    """Route the authority's DebitorIndbetalingAfsend calls to `path` of the test's app."""
    env.platform.set_endpoint(
        env.world.service.system_id, DEBITOR_INDBETALING_ENTITY_ID, f"{PROVIDER_BASE}{path}"
    )


def failed_answer() -> bytes:
    """A valid ForetagIndbetaling answer that decided nothing: `FEJLET`."""
    contract = load_contract(DEBITOR_INDBETALING_WSDL)
    operation = contract.operations["ForetagIndbetaling"]
    receipt = {"ForretningsValideringsKode": "FEJLET"}
    return response_envelope(
        contract.encode(operation.response, {"Forretningskvittering": receipt})
    )


@pytest.mark.parametrize(
    ("status", "body", "media_type"),
    [
        (503, b"Service Unavailable", "text/plain"),
        (500, fault_envelope(server_fault()), SOAP_CONTENT_TYPE),
        (200, b"<html>not SOAP</html>", "text/html"),
        (200, failed_answer(), SOAP_CONTENT_TYPE),
    ],
    ids=["http-503", "soap-server-fault", "not-soap", "fejlet"],
)
def test_a_broken_provider_gives_no_business_answer(
    wire_env: WireEnv, status: int, body: bytes, media_type: str
) -> None:
    @wire_env.app.post("/broken")
    async def broken() -> Response:
        return Response(body, status_code=status, media_type=media_type)

    claim_id = wire_env.world.claim(principal=100_000)
    provider_at(wire_env, "/broken")

    with pytest.raises(NoBusinessAnswer) as caught:
        pay(wire_env, payment(wire_env, claim_id, 1_000))

    assert not isinstance(caught.value, CallRefused)
    assert wire_env.coverages(claim_id) == 0


def test_a_provider_that_does_not_answer_in_time_gives_no_business_answer(
    wire_env: WireEnv,
) -> None:
    released = threading.Event()

    @wire_env.app.post("/slow")
    async def slow() -> Response:
        await asyncio.sleep(1.5)
        released.set()
        return Response(b"too late", status_code=503, media_type="text/plain")

    provider_at(wire_env, "/slow")
    call = payment(wire_env, wire_env.world.claim(principal=100_000), 1_000)

    with pytest.raises(NoBusinessAnswer, match="ReadTimeout"):
        run(credentials(wire_env), lambda c: c.pay(CVR, uuid.uuid4(), call), timeout=0.5)

    # let the gateway finish the call it still holds before the test's databases go
    assert released.wait(10)
    deadline = time.monotonic() + 10
    while not calls_of(wire_env, "ForetagIndbetaling") and time.monotonic() < deadline:
        time.sleep(0.05)

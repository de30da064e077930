"""The subscriber's identity comes from the gateway-signed `X-Serviceplatform-Caller` only."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import FAGSYSTEM_A, FAGSYSTEM_B, assert_problem, problem_app
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.api import beskedfordeler_router, gateway_caller
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.caller import CALLER_HEADER, Caller, CallerVerifier, sign_caller
from indbetaling.contracts import BESKEDFORDELER_ENTITY_ID

pytestmark = pytest.mark.anyio
KID = "platform-1"


def jwks_of(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "ES256"}]}


@pytest.fixture
def platform_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def gateway_client(
    bf: Beskedfordeler, platform_key: ec.EllipticCurvePrivateKey
) -> httpx.AsyncClient:
    verifier = CallerVerifier(jwks_of(platform_key, KID), BESKEDFORDELER_ENTITY_ID)
    app = problem_app()
    app.include_router(beskedfordeler_router(bf, gateway_caller(verifier)), prefix="/bf")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bf")


def forwarded(
    it_system: str, key: Any, *, audience: str = BESKEDFORDELER_ENTITY_ID
) -> dict[str, str]:
    caller = Caller(uuid.UUID(it_system), "12345678")
    return {CALLER_HEADER: sign_caller(caller, audience, key, KID)}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_gateway_signed_caller_decides_whose_mailboxes_are_readable(
    bf: Beskedfordeler,
    gateway_client: httpx.AsyncClient,
    platform_key: ec.EllipticCurvePrivateKey,
) -> None:
    box = (await asyncio.to_thread(service.create_mailbox, bf, FAGSYSTEM_A)).mailbox_id
    url = f"/bf/dueslag/{box}/beskeder"
    own = await gateway_client.get(url, headers=forwarded(FAGSYSTEM_A, platform_key))
    assert (own.status_code, own.json()) == (200, [])
    other = await gateway_client.get(url, headers=forwarded(FAGSYSTEM_B, platform_key))
    assert assert_problem(other, 404, "IKKE_FUNDET").startswith("Dueslaget")


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_calls_not_vouched_for_by_the_gateway_are_refused(
    bf: Beskedfordeler,
    gateway_client: httpx.AsyncClient,
    platform_key: ec.EllipticCurvePrivateKey,
) -> None:
    box = (await asyncio.to_thread(service.create_mailbox, bf, FAGSYSTEM_A)).mailbox_id
    url = f"/bf/dueslag/{box}/beskeder"
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    expired = jwt.encode(
        {
            "sub": FAGSYSTEM_A,
            "cvr": "12345678",
            "aud": BESKEDFORDELER_ENTITY_ID,
            "iat": now - 600,
            "exp": now - 300,
        },
        platform_key,
        algorithm="ES256",
        headers={"kid": KID},
    )
    refused = [
        {},
        {"x-test-it-system": FAGSYSTEM_A},  # a header a client could set itself
        forwarded(FAGSYSTEM_A, stranger_key),  # not the platform's key
        forwarded(FAGSYSTEM_A, platform_key, audience="http://other/service/1"),
        {CALLER_HEADER: expired},
        {CALLER_HEADER: "not-a-token"},
    ]
    for headers in refused:
        response = await gateway_client.get(url, headers=headers)
        assert_problem(response, 401, "IKKE_AUTENTIFICERET")
    created = await gateway_client.post(
        "/bf/vaerdilister", json={"navn": "x", "vaerdier": []}, headers=refused[2]
    )
    assert_problem(created, 401, "IKKE_AUTENTIFICERET")
    assert await asyncio.to_thread(service.search_value_lists, bf) == []

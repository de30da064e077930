"""The token service: client_secret and private_key_jwt, and what it refuses."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.serviceplatform.domain import Role
from serviceplatform.harness import CVR_A, Platform

SCOPE = f"entityid:{DEBITOR_INDBETALING_ENTITY_ID},anvenderkontekst:{CVR_A}"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_client_secret_gives_a_signed_token_naming_system_authority_and_service(
    sp: Platform,
) -> None:
    token = sp.token("fagsystem_1", CVR_A)
    jwks = httpx.get(f"{sp.base_url}/sts/jwks").json()
    (jwk,) = jwks["keys"]
    assert "d" not in jwk  # only the public half is published
    key = jwt.PyJWK.from_dict(jwk)
    claims = jwt.decode(
        token, key.key, algorithms=["ES256"], audience=DEBITOR_INDBETALING_ENTITY_ID
    )
    assert claims["sub"] == str(sp.systems["fagsystem_1"].id)
    assert claims["cvr"] == CVR_A
    assert claims["scope"] == SCOPE
    assert 0 < claims["exp"] - claims["iat"] <= 3600


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        (
            {"scope": "entityid:http://example.org/other,anvenderkontekst:11111111"},
            400,
            "invalid_scope",
        ),
        (
            {"scope": f"entityid:{DEBITOR_INDBETALING_ENTITY_ID},anvenderkontekst:1234"},
            400,
            "invalid_scope",
        ),
        ({"scope": ""}, 400, "invalid_scope"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_bad_requests_get_oauth_errors(
    sp: Platform, form: dict[str, str], status: int, error: str
) -> None:
    s = sp.systems["fagsystem_1"]
    data = {
        "grant_type": "client_credentials",
        "client_id": s.client_id,
        "client_secret": s.client_secret,
        "scope": SCOPE,
        **form,
    }
    answer = httpx.post(f"{sp.base_url}/sts/token", data=data)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "access_token" not in answer.json()


def _rsa_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def _assertion(key: rsa.RSAPrivateKey, client_id: str, audience: str, **claims: object) -> str:
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256")


def test_private_key_jwt(sp: Platform) -> None:
    key, pem = _rsa_key()
    system = uuid.uuid4()
    sp.platform.register_it_system(system, "real vendor", "vendor-1", public_key_pem=pem)
    sp.platform.add_agreement(system, CVR_A, DEBITOR_INDBETALING_ENTITY_ID, Role.CONSUMER)
    token_url = f"{sp.base_url}/sts/token"

    def ask(assertion: str) -> httpx.Response:
        return httpx.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
                "scope": SCOPE,
            },
        )

    good = _assertion(key, "vendor-1", token_url)
    answer = ask(good)
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(system)
    assert ask(good).json()["error"] == "invalid_client"  # an assertion is used once
    other_key, _ = _rsa_key()
    refused = [
        _assertion(other_key, "vendor-1", token_url),  # not the registered key
        _assertion(key, "vendor-1", "http://elsewhere/sts/token"),  # for another audience
        _assertion(key, "vendor-1", token_url, exp=int(time.time()) - 3600),  # expired
        _assertion(key, "vendor-1", token_url, exp=int(time.time()) + 86400),  # too long-lived
        _assertion(key, "vendor-1", token_url, sub="someone-else"),
        "not-a-jwt",
    ]
    for assertion in refused:
        answer = ask(assertion)
        assert answer.status_code == 401, assertion
        assert answer.json()["error"] == "invalid_client"
    # a secret-only client cannot use an assertion and vice versa
    s = sp.systems["fagsystem_1"]
    assert ask(_assertion(key, s.client_id, token_url)).status_code == 401
    no_secret = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "vendor-1",
            "client_secret": "",
            "scope": SCOPE,
        },
    )
    assert no_secret.status_code == 401

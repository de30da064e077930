"""DebitorIndbetalingAfsend's REST mirror, through the gateway's `/api/v1/debitorindbetaling`."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from debitorsystem.conftest import CVR, OTHER_CVR
from debitorsystem.wire_env import (
    GATEWAY_REST,
    PROVIDER_REST,
    WireEnv,
    code,
    live_server,
    provider_headers,
    wire_env,
)
from debitorsystem.wire_scenarios import WireScenarios
from indbetaling.http_errors import PROBLEM_MEDIA_TYPE

__all__ = ["live_server", "wire_env"]  # fixtures


class TestRest(WireScenarios):
    wire_name = "rest"


def _problem(answer: httpx.Response, status: int, fejlkode: str | None = None) -> str:
    """An error answer, the debitorsystem's or the gateway's: one problem document with
    FejlKode and FejlTekst."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE, answer.text
    assert b"Traceback" not in answer.content
    body = answer.json()
    if fejlkode is not None:
        assert body["FejlKode"] == fejlkode
    assert body["status"] == status
    assert body["title"]
    text = body["FejlTekst"]
    assert isinstance(text, str)
    assert text
    assert body["detail"] == text
    return text


def test_a_replay_is_byte_identical_and_a_conflict_changes_nothing(wire_env: WireEnv) -> None:
    claim, key = wire_env.world.claim(), str(uuid.uuid4())
    body = {"Indbetaling": wire_env.payment(claim, "100.00")}
    first = wire_env.rest.post("foretag-indbetaling", body, key)
    assert code(wire_env.rest.pay(wire_env.payment(claim, "1.00"))) == "ACCEPTERET"
    again = wire_env.rest.post("foretag-indbetaling", body, key.upper())  # the same UUID
    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    other = {"Indbetaling": wire_env.payment(claim, "5.00")}
    conflict = wire_env.rest.post("foretag-indbetaling", other, key)
    assert conflict.status_code == 200  # AFVIST is a business answer
    assert code(conflict.json()) == "TRANSAKTION_KONFLIKT"
    assert wire_env.restance(claim) == 89_900


def test_malformed_requests_get_a_422_problem_and_change_nothing(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    payment = wire_env.payment(claim, "10.00")
    rest = wire_env.rest
    cases: dict[str, httpx.Response] = {
        "no Idempotency-Key": rest.post("foretag-indbetaling", {"Indbetaling": payment}),
        "key not a UUID": rest.post("foretag-indbetaling", {"Indbetaling": payment}, "abc"),
        "amount as a number": rest.post(
            "foretag-indbetaling", {"Indbetaling": {**payment, "Beloeb": 10}}, str(uuid.uuid4())
        ),
        "amount not a decimal": rest.post(
            "foretag-indbetaling",
            {"Indbetaling": {**payment, "Beloeb": "1e3"}},
            str(uuid.uuid4()),
        ),
        "unknown field": rest.post(
            "foretag-indbetaling", {"Indbetaling": payment, "Ekstra": 1}, str(uuid.uuid4())
        ),
        "missing field": rest.post(
            "foretag-indbetaling-nedregulering", {"AarsagKode": "ANDET"}, str(uuid.uuid4())
        ),
        "unknown AarsagKode": rest.post(
            "foretag-indbetaling-nedregulering",
            {"IndbetalingId": str(uuid.uuid4()), "AarsagKode": "FORTRYDER"},
            str(uuid.uuid4()),
        ),
        "no criterion": rest.post("soeg-fordring-til-indbetaling", {"MaksimaltAntal": 5}),
        "page too large": rest.post(
            "soeg-fordring-til-indbetaling", {"FordringId": str(claim), "MaksimaltAntal": 1001}
        ),
        "bad cursor": rest.post(
            "soeg-fordring-til-indbetaling",
            {"FordringId": str(claim), "FortsaettelsesNoegle": "x!"},
        ),
    }
    token = wire_env.token("fagsystem")
    cases["not json"] = httpx.post(
        f"{wire_env.base_url}{GATEWAY_REST}/foretag-indbetaling",
        content=b"<Indbetaling/>",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )
    for case, answer in cases.items():
        text = _problem(answer, 422, "UGYLDIG_FORESPOERGSEL")
        assert "0101801234" not in text, case
    assert "Idempotency-Key" in _problem(cases["no Idempotency-Key"], 422)
    assert "Angiv mindst én" in _problem(cases["no criterion"], 422)
    assert wire_env.coverages(claim) == 0


def test_callers_without_a_valid_token_or_agreement_are_refused(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    good = wire_env.token("fagsystem")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid})

    def pay(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{wire_env.base_url}{GATEWAY_REST}/foretag-indbetaling",
            json={"Indbetaling": wire_env.payment(claim)},
            headers={"Idempotency-Key": str(uuid.uuid4()), **headers},
        )

    _problem(pay({}), 401)
    _problem(pay({"Authorization": f"Bearer {forged}"}), 401)
    _problem(pay({"Authorization": f"Bearer {wire_env.token_without_agreement('stranger')}"}), 403)
    _problem(pay({"Authorization": f"Bearer {good}", "X-Myndighed-CVR": OTHER_CVR}), 403)
    wire_env.clock.now += 3600 + 60
    _problem(pay({"Authorization": f"Bearer {good}"}), 401)
    assert wire_env.coverages(claim) == 0


def test_the_provider_refuses_calls_that_bypass_the_gateway(wire_env: WireEnv) -> None:
    claim = wire_env.world.claim()
    url = f"{wire_env.base_url}{PROVIDER_REST}/foretag-indbetaling"
    body = {"Indbetaling": wire_env.payment(claim)}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert "Serviceplatformen" in _problem(httpx.post(url, json=body, headers=key), 401)
    # the caller is checked before the body is read
    _problem(httpx.post(url, content=b"{", headers=key), 401, "IKKE_AUTENTIFICERET")
    assert wire_env.coverages(claim) == 0
    accepted = httpx.post(url, json=body, headers=key | provider_headers(wire_env))
    assert accepted.status_code == 200
    assert wire_env.coverages(claim) == 1


@pytest.mark.parametrize("target", ["gateway", "provider"])
def test_a_huge_body_is_refused(wire_env: WireEnv, target: str) -> None:
    claim = wire_env.world.claim()
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    if target == "gateway":
        url = f"{wire_env.base_url}{GATEWAY_REST}/foretag-indbetaling"
        headers["Authorization"] = f"Bearer {wire_env.token('fagsystem')}"
        size = 50 * 1024 * 1024
    else:
        url = f"{wire_env.base_url}{PROVIDER_REST}/foretag-indbetaling"
        headers |= provider_headers(wire_env)
        size = 1024 * 1024
    payment = wire_env.payment(claim, Tekst="x" * size)
    answer = httpx.post(url, json={"Indbetaling": payment}, headers=headers, timeout=60)
    if target == "gateway":
        _problem(answer, 413)
    else:
        _problem(answer, 413, "UGYLDIG_FORESPOERGSEL")
    assert wire_env.coverages(claim) == 0


def test_the_wire_answers_for_the_tokens_authority_only(wire_env: WireEnv) -> None:
    mine = wire_env.world.claim()
    answer = wire_env.rest.search(cvr=CVR, FordringId=str(mine))
    assert [c["FordringId"] for c in answer["FordringTilIndbetaling"]] == [str(mine)]
    assert wire_env.rest.search("other_fagsystem", OTHER_CVR, FordringId=str(mine)) == {
        "Forretningskvittering": {"ForretningsValideringsKode": "ACCEPTERET"},
        "FordringTilIndbetaling": [],
    }

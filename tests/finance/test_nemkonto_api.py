"""NemKonto's payment requests over HTTP (CONTRACT §7): recorded once per
BetalingsanmodningId, a positive amount to a valid party, listed by Reference and authority;
every bad input a 4xx that stores nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from debitorsystem.test_staff_api import assert_problem

from .conftest import Served, payment_request
from .values import CVR, OTHER_CVR

REQUESTS = "/nemkonto/api/v1/betalingsanmodninger"


def listed(served: Served, **params: str) -> list[dict[str, Any]]:
    answer = served.client.get(REQUESTS, headers=served.headers, params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["Betalingsanmodninger"]
    return found


def test_another_request_under_a_taken_id_is_a_conflict(served: Served) -> None:
    body = payment_request()
    assert served.client.post(REQUESTS, headers=served.headers, json=body).status_code == 201
    for change in (
        {"Beloeb": "40.01"},
        {"PartId": "urn:oio:cvr-nr:12345678"},
        {"MyndighedCVR": OTHER_CVR},
        {"Reference": str(uuid.uuid4())},
        {"Tekst": "noget andet"},
    ):
        answer = served.client.post(REQUESTS, headers=served.headers, json={**body, **change})
        assert_problem(answer, 409, "BETALINGSANMODNINGID_KONFLIKT")
    (stored,) = listed(served, MyndighedCVR=CVR) + listed(served, MyndighedCVR=OTHER_CVR)
    assert stored["Beloeb"] == "40.00"


def changed(**fields: Any) -> dict[str, Any]:
    return {**payment_request(), **fields}


BAD: list[tuple[str, Any, str]] = [
    ("letters", changed(Beloeb="abc"), "BELOEB_UGYLDIGT"),
    ("exponent", changed(Beloeb="1e3"), "BELOEB_UGYLDIGT"),
    ("negative", changed(Beloeb="-5.00"), "BELOEB_UGYLDIGT"),
    ("zero", changed(Beloeb="0.00"), "BELOEB_UGYLDIGT"),
    ("three decimals", changed(Beloeb="0.001"), "BELOEB_UGYLDIGT"),
    ("empty amount", changed(Beloeb=""), "BELOEB_UGYLDIGT"),
    ("a JSON number", changed(Beloeb=40), "UGYLDIG_FORESPOERGSEL"),
    ("bare CPR", changed(PartId="0101801234"), "UGYLDIG_FORESPOERGSEL"),
    ("short CPR URN", changed(PartId="urn:oio:cpr-nr:010180"), "UGYLDIG_FORESPOERGSEL"),
    ("too long", changed(PartId="urn:oio:cpr-nr:" + "1" * 30), "UGYLDIG_FORESPOERGSEL"),
    ("bad id", changed(BetalingsanmodningId="x"), "UGYLDIG_FORESPOERGSEL"),
    ("bad reference", changed(Reference="1234"), "UGYLDIG_FORESPOERGSEL"),
    ("bad CVR", changed(MyndighedCVR="abcdefgh"), "UGYLDIG_FORESPOERGSEL"),
    ("unknown field", changed(Konto="1234"), "UGYLDIG_FORESPOERGSEL"),
    ("control character", changed(Tekst="a\x07"), "UGYLDIG_FORESPOERGSEL"),
    ("not an object", "tekst", "UGYLDIG_FORESPOERGSEL"),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_stores_nothing(
    served: Served, case: str, body: Any, code: str
) -> None:
    answer = served.client.post(REQUESTS, headers=served.headers, json=body)
    assert_problem(answer, 422, code)
    assert "0101801234" not in answer.text  # a CPR number is never echoed in clear
    assert listed(served, MyndighedCVR=CVR) == []

"""Finance's postings over HTTP (CONTRACT §7, §9): booked once per PosteringId, balanced or
refused, listed by Reference and authority, paged; every bad input a 4xx that stores nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from debitorsystem.test_staff_api import assert_problem

from .conftest import Served, posting
from .values import CVR, OTHER_CVR

POSTINGS = "/finance/api/v1/posteringer"


def listed(served: Served, **params: str) -> list[dict[str, Any]]:
    answer = served.client.get(POSTINGS, headers=served.headers, params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["Posteringer"]
    return found


def test_the_same_amounts_written_otherwise_are_the_same_posting(served: Served) -> None:
    body = posting(amount="125.50")
    first = served.client.post(POSTINGS, headers=served.headers, json=body)
    assert first.status_code == 201, first.text
    respelled = {
        **body,
        "Posteringslinjer": [
            {**line, "Beloeb": line["Beloeb"].replace("125.50", "125.5")}
            for line in body["Posteringslinjer"]
        ],
    }
    again = served.client.post(POSTINGS, headers=served.headers, json=respelled)
    assert (again.status_code, again.json()) == (200, first.json())


def test_another_posting_under_a_taken_id_is_a_conflict(served: Served) -> None:
    body = posting()
    assert served.client.post(POSTINGS, headers=served.headers, json=body).status_code == 201
    for change in (
        {"Posteringsdato": "2026-11-27"},
        {"MyndighedCVR": OTHER_CVR},
        {"Reference": str(uuid.uuid4())},
        {"Posteringstype": "TILBAGEFOERSEL"},
        {"Posteringslinjer": posting(amount="125.51")["Posteringslinjer"]},
        {"Posteringslinjer": list(reversed(body["Posteringslinjer"]))},
        {
            "Posteringslinjer": [
                {**body["Posteringslinjer"][0], "Tekst": "x"},
                body["Posteringslinjer"][1],
            ]
        },
    ):
        answer = served.client.post(POSTINGS, headers=served.headers, json={**body, **change})
        assert_problem(answer, 409, "POSTERINGID_KONFLIKT")
        assert body["PosteringId"] in answer.json()["FejlTekst"]
    (stored,) = listed(served, MyndighedCVR=CVR) + listed(served, MyndighedCVR=OTHER_CVR)
    assert stored == {**body, "Modtaget": stored["Modtaget"]}


def test_lines_that_do_not_balance_are_refused(served: Served) -> None:
    body = posting()
    body["Posteringslinjer"][1]["Beloeb"] = "-125.49"
    answer = served.client.post(POSTINGS, headers=served.headers, json=body)
    assert_problem(answer, 422, "POSTERING_UBALANCE")
    assert "0.01" in answer.json()["FejlTekst"]
    three = posting(amount="100.00")
    three["Posteringslinjer"].append({"Kontonummer": "2950", "Beloeb": "-0.01", "Tekst": ""})
    assert_problem(
        served.client.post(POSTINGS, headers=served.headers, json=three), 422, "POSTERING_UBALANCE"
    )
    assert listed(served, MyndighedCVR=CVR) == []


def with_line_amount(amount: Any) -> dict[str, Any]:
    body = posting()
    body["Posteringslinjer"][0]["Beloeb"] = amount
    return body


def changed(**fields: Any) -> dict[str, Any]:
    return {**posting(), **fields}


def without(name: str) -> dict[str, Any]:
    body = posting()
    del body[name]
    return body


def one_line() -> dict[str, Any]:
    body = posting()
    body["Posteringslinjer"] = body["Posteringslinjer"][:1]
    return body


def many_lines(n: int) -> dict[str, Any]:
    line = {"Kontonummer": "6010", "Beloeb": "1.00", "Tekst": ""}
    lines = [line] * (n - 1) + [{**line, "Beloeb": f"-{n - 1}.00"}]
    return changed(Posteringslinjer=lines)


BAD: list[tuple[str, Any, str]] = [
    ("letters", with_line_amount("abc"), "BELOEB_UGYLDIGT"),
    ("exponent", with_line_amount("1e3"), "BELOEB_UGYLDIGT"),
    ("three decimals", with_line_amount("0.001"), "BELOEB_UGYLDIGT"),
    ("empty amount", with_line_amount(""), "BELOEB_UGYLDIGT"),
    ("NaN", with_line_amount("NaN"), "BELOEB_UGYLDIGT"),
    ("infinity", with_line_amount("Infinity"), "BELOEB_UGYLDIGT"),
    ("zero line", with_line_amount("0.00"), "BELOEB_UGYLDIGT"),
    ("14 digits", with_line_amount("12345678901234.00"), "BELOEB_UGYLDIGT"),
    ("comma", with_line_amount("125,50"), "BELOEB_UGYLDIGT"),
    ("a JSON number", with_line_amount(125.5), "UGYLDIG_FORESPOERGSEL"),
    ("no lines", changed(Posteringslinjer=[]), "UGYLDIG_FORESPOERGSEL"),
    ("one line", one_line(), "UGYLDIG_FORESPOERGSEL"),
    ("101 lines", many_lines(101), "UGYLDIG_FORESPOERGSEL"),
    ("unknown type", changed(Posteringstype="GAVE"), "UGYLDIG_FORESPOERGSEL"),
    ("lower-case type", changed(Posteringstype="indbetaling"), "UGYLDIG_FORESPOERGSEL"),
    ("bad PosteringId", changed(PosteringId="123"), "UGYLDIG_FORESPOERGSEL"),
    (
        "braced PosteringId",
        changed(PosteringId="{" + str(uuid.uuid4()) + "}"),
        "UGYLDIG_FORESPOERGSEL",
    ),
    ("bad Reference", changed(Reference="not-a-uuid"), "UGYLDIG_FORESPOERGSEL"),
    ("bad date", changed(Posteringsdato="2026-13-01"), "UGYLDIG_FORESPOERGSEL"),
    ("date as a number", changed(Posteringsdato=20261126), "UGYLDIG_FORESPOERGSEL"),
    ("short CVR", changed(MyndighedCVR="1234"), "UGYLDIG_FORESPOERGSEL"),
    ("CVR as a number", changed(MyndighedCVR=29189846), "UGYLDIG_FORESPOERGSEL"),
    ("missing reference", without("Reference"), "UGYLDIG_FORESPOERGSEL"),
    ("missing id", without("PosteringId"), "UGYLDIG_FORESPOERGSEL"),
    ("unknown field", changed(Kommentar="x"), "UGYLDIG_FORESPOERGSEL"),
    (
        "empty account",
        changed(
            Posteringslinjer=[
                {"Kontonummer": "", "Beloeb": "1.00", "Tekst": ""},
                {"Kontonummer": "2901", "Beloeb": "-1.00", "Tekst": ""},
            ]
        ),
        "UGYLDIG_FORESPOERGSEL",
    ),
    (
        "control character",
        changed(
            Posteringslinjer=[
                {"Kontonummer": "6010", "Beloeb": "1.00", "Tekst": "a\x00b"},
                {"Kontonummer": "2901", "Beloeb": "-1.00", "Tekst": ""},
            ]
        ),
        "UGYLDIG_FORESPOERGSEL",
    ),
    ("not an object", [], "UGYLDIG_FORESPOERGSEL"),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_stores_nothing(
    served: Served, case: str, body: Any, code: str
) -> None:
    answer = served.client.post(POSTINGS, headers=served.headers, json=body)
    assert_problem(answer, 422, code)
    assert listed(served, MyndighedCVR=CVR) == []


def test_bodies_that_are_not_json_or_too_large_are_refused(served: Served) -> None:
    headers = {**served.headers, "Content-Type": "application/json"}
    for raw in (b"", b"{", b"\xff\xfe", b"null"):
        assert_problem(
            served.client.post(POSTINGS, headers=headers, content=raw), 422, "UGYLDIG_FORESPOERGSEL"
        )
    huge = json.dumps({**posting(), "Posteringslinjer": [{"Tekst": "x" * 70_000}]}).encode()
    assert_problem(
        served.client.post(POSTINGS, headers=headers, content=huge), 413, "FORESPOERGSEL_FOR_STOR"
    )
    assert listed(served, MyndighedCVR=CVR) == []


def test_only_the_finance_token_reconciles(served: Served) -> None:
    for headers in ({}, {"Authorization": "Bearer forkert"}):
        reconciliation = served.client.get(
            "/finance/api/v1/afstemning", headers=headers, params={"MyndighedCVR": CVR}
        )
        assert_problem(reconciliation, 401, "IKKE_AUTENTIFICERET")

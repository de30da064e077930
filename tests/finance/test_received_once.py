"""What finance's postings and NemKonto's payment requests share over HTTP (CONTRACT §7): a
document is kept once under the id its sender made, and the same one again answers the stored
one, even sent at once from many places; listed by Reference and authority in order of
arrival, paged; only the finance token reaches them; other methods are refused."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from debitorsystem.test_staff_api import assert_problem

from .conftest import Served, payment_request, posting
from .values import CVR, OTHER_CVR


@dataclass(frozen=True)
class Kind:
    path: str
    plural: str
    make: Callable[..., dict[str, Any]]
    """`make(reference, amount=…, cvr=…)`: a valid document."""
    id_field: str

    def listed(self, served: Served, **params: str) -> list[dict[str, Any]]:
        answer = served.client.get(self.path, headers=served.headers, params=params)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()[self.plural]
        return found

    def amount(self, document: dict[str, Any]) -> str:
        return str(
            document["Beloeb"]
            if "Beloeb" in document
            else document["Posteringslinjer"][0]["Beloeb"]
        )


KINDS = [
    Kind("/finance/api/v1/posteringer", "Posteringer", posting, "PosteringId"),
    Kind(
        "/nemkonto/api/v1/betalingsanmodninger",
        "Betalingsanmodninger",
        payment_request,
        "BetalingsanmodningId",
    ),
]


@pytest.fixture(params=KINDS, ids=["postering", "betalingsanmodning"])
def kind(request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    return chosen


def test_a_document_is_kept_once_and_its_repeat_answers_the_stored_one(
    served: Served, kind: Kind
) -> None:
    reference = uuid.uuid4()
    body = kind.make(reference)
    first = served.client.post(kind.path, headers=served.headers, json=body)
    assert first.status_code == 201, first.text
    kept = first.json()
    assert kept == {**body, "Modtaget": kept["Modtaget"]}
    assert kept["Modtaget"].endswith("+00:00")
    again = served.client.post(kind.path, headers=served.headers, json=body)
    assert (again.status_code, again.json()) == (200, kept)
    assert kind.listed(served, Reference=str(reference)) == [kept]
    assert kind.listed(served, MyndighedCVR=CVR) == [kept]
    assert kind.listed(served, MyndighedCVR=OTHER_CVR) == []
    assert kind.listed(served, MyndighedCVR=CVR, Reference=str(uuid.uuid4())) == []


def test_the_same_document_sent_at_once_from_many_places_is_kept_once(
    served: Served, kind: Kind
) -> None:
    reference = uuid.uuid4()
    body = kind.make(reference)
    statuses: list[int] = []
    start = threading.Barrier(6)

    def send() -> None:
        start.wait()
        statuses.append(
            served.client.post(kind.path, headers=served.headers, json=body).status_code
        )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 5 + [201]
    assert len(kind.listed(served, Reference=str(reference))) == 1


def test_only_the_finance_token_reaches_them(served: Served, kind: Kind) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer forkert"},
        {"Authorization": "Basic " + served.headers["Authorization"][7:]},
        {"Authorization": "Bearer "},
    ):
        sent = served.client.post(kind.path, headers=headers, json=kind.make())
        assert_problem(sent, 401, "IKKE_AUTENTIFICERET")
        answer = served.client.get(kind.path, headers=headers, params={"MyndighedCVR": CVR})
        assert_problem(answer, 401, "IKKE_AUTENTIFICERET")
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert kind.listed(served, MyndighedCVR=CVR) == []


def test_listings_page_in_order_of_arrival(served: Served, kind: Kind) -> None:
    reference = uuid.uuid4()
    for body in [
        *(kind.make(reference, amount=f"{n}.00") for n in range(1, 6)),
        kind.make(amount="9.00"),
    ]:
        assert served.client.post(kind.path, headers=served.headers, json=body).status_code == 201
    seen: list[str] = []
    params = {"Reference": str(reference), "Antal": "2"}
    key = ""
    for _ in range(5):
        page = served.client.get(kind.path, headers=served.headers, params=params).json()
        seen += [kind.amount(d) for d in page[kind.plural]]
        if "FortsaettelsesNoegle" not in page:
            break
        key = page["FortsaettelsesNoegle"]
        params = {**params, "FortsaettelsesNoegle": key}
    assert seen == ["1.00", "2.00", "3.00", "4.00", "5.00"]
    assert [kind.amount(d) for d in kind.listed(served, MyndighedCVR=CVR)] == [*seen, "9.00"]
    for bad in (
        {"MyndighedCVR": CVR, "Antal": "2", "FortsaettelsesNoegle": key},  # another query's key
        {},
        {"MyndighedCVR": "123"},
        {"Reference": "x"},
        {"MyndighedCVR": CVR, "Antal": "0"},
        {"MyndighedCVR": CVR, "Antal": "1001"},
        {"MyndighedCVR": CVR, "FortsaettelsesNoegle": "zz"},
    ):
        answer = served.client.get(kind.path, headers=served.headers, params=bad)
        assert_problem(answer, 422, "UGYLDIG_FORESPOERGSEL")


def test_other_methods_are_refused_naming_every_allowed_one(served: Served, kind: Kind) -> None:
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = served.client.request(method, kind.path, headers=served.headers)
        assert_problem(answer, 405, "METODE_IKKE_TILLADT")
        assert answer.headers["Allow"] == "GET, POST"


def test_a_reference_is_a_canonical_uuid(served: Served, kind: Kind) -> None:
    for odd in ("{" + str(uuid.uuid4()) + "}", uuid.uuid4().hex, "urn:uuid:" + str(uuid.uuid4())):
        answer = served.client.get(kind.path, headers=served.headers, params={"Reference": odd})
        assert_problem(answer, 422, "UGYLDIG_FORESPOERGSEL")

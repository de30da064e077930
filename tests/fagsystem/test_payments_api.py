"""The case worker's payments and reversals over HTTP (CONTRACT §9), as `fagsystem/app.py`
builds and mounts them, with the sender running in the app's lifespan and a fake debitorsystem
behind the port; SQLite and PostgreSQL. Every bad input gets a clear 4xx and stores nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fagsystem.fakes import FakeDebitorsystem
from fagsystem.payments_env import CVR, FAST, OTHER_CVR, PART, PaymentsEnv, env
from fagsystem.recording_ledger import RecordingLedger
from indbetaling.fagsystem import app as fagsystem_app
from indbetaling.fagsystem.app import HostedFagsystem, Payments
from indbetaling.fagsystem.finance_client import BookingSettings
from indbetaling.fagsystem.service import Timing
from indbetaling.http_errors import PROBLEM_MEDIA_TYPE
from indbetaling.parts import mount, new_app

__all__ = ["env"]

TOKEN = "caseworker-token-a"
OTHER_TOKEN = "caseworker-token-b"
BAD_AMOUNTS = ["abc", "1e3", "-5.00", "0.001", "0", "0.00", "", "NaN", "12,50", "1" * 14]


@dataclass
class Api:
    client: TestClient
    env: PaymentsEnv
    base: str

    def headers(self, token: str | None = TOKEN, key: str | None = "new") -> dict[str, str]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = str(uuid.uuid4()) if key == "new" else key
        return headers

    def body(self, claim: uuid.UUID, amount: str = "100.00", **changes: Any) -> dict[str, Any]:
        fields = {
            "FordringId": str(claim),
            "Beloeb": amount,
            "IndbetalerPartId": PART,
            "OrganisationsenhedId": str(self.env.unit),
            "Tekst": "Husleje december",
        }
        fields.update(changes)
        return {k: v for k, v in fields.items() if v is not None}

    def pay(self, claim: uuid.UUID, amount: str = "100.00", **kwargs: Any) -> httpx.Response:
        answer: httpx.Response = self.client.post(
            f"{self.base}/indbetalinger",
            json=self.body(claim, amount),
            headers=self.headers(**kwargs),
        )
        return answer

    def paid(self, amount: str = "600.00", restance: int = 100_000) -> dict[str, Any]:
        answer = self.pay(self.env.fake.claim(restance), amount)
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        assert body["Tilstand"] == "ACCEPTERET"
        return body

    def until(self, path: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while True:
            body: dict[str, Any] = self.client.get(path, headers=self.headers(key=None)).json()
            if done(body):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.05)


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = answer.json()
    assert body["FejlKode"] == code, body
    assert body["FejlTekst"]
    return body


def bookings(ledger: RecordingLedger) -> BookingSettings:
    return BookingSettings("http://finance", "http://nemkonto", ledger.token)


def ledger_client(ledger: RecordingLedger) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=ledger.app()))


def make_api(
    env: PaymentsEnv, timing: Timing = FAST, ledger: RecordingLedger | None = None
) -> Iterator[Api]:
    """The fagsystem part as `build` makes it (with `ledger` standing in for finance and
    NemKonto), served with its background work running."""
    other = uuid.uuid4()
    hosted = [
        HostedFagsystem(
            env.fagsystem_id, "whsec_a", caseworker_token=TOKEN, org_units={CVR: (env.unit,)}
        ),
        HostedFagsystem(other, "whsec_b", caseworker_token=OTHER_TOKEN, org_units={CVR: ()}),
    ]
    ports = {env.fagsystem_id: env.fake, other: FakeDebitorsystem()}
    part = fagsystem_app.build(
        env.engine,
        hosted,
        platform_jwks={"keys": []},
        payments=Payments(
            ports=ports,
            timing=timing,
            sweep_seconds=0.05,
            bookings=None if ledger is None else bookings(ledger),
            http=None if ledger is None else ledger_client(ledger),
        ),
    )
    app, workers = new_app("fagsystem", "test")
    mount(app, workers, [part])
    with TestClient(app) as client:
        yield Api(client, env, f"/fagsystem/{env.fagsystem_id}/api/v1/myndigheder/{CVR}")


@pytest.fixture
def api(env: PaymentsEnv) -> Iterator[Api]:
    yield from make_api(env)


def test_a_payment_is_answered_201_with_the_indbetaling(api: Api) -> None:
    claim = api.env.fake.claim(100_000)
    answer = api.pay(claim, "125.50")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {
        "IndbetalingId",
        "FordringId",
        "MyndighedCVR",
        "Beloeb",
        "IndbetalerPartId",
        "OrganisationsenhedId",
        "Betalingsdato",
        "Dato",
        "Tilstand",
        "Tekst",
        "Restance",
        "DaekningId",
        "Haendelser",
        "Posteringer",
    }
    assert (body["FordringId"], body["MyndighedCVR"], body["Beloeb"]) == (str(claim), CVR, "125.50")
    assert (body["Tilstand"], body["Restance"]) == ("ACCEPTERET", "874.50")
    assert body["Dato"].endswith("+00:00")
    assert [h["Haendelse"] for h in body["Haendelser"]] == ["AFSENDT", "ACCEPTERET"]
    assert all(h["Tidspunkt"].endswith("+00:00") for h in body["Haendelser"])
    (posting,) = body["Posteringer"]
    assert posting == api.env.postings()[0]["PosteringId"]
    one = api.client.get(f"{api.base}/indbetalinger/{body['IndbetalingId']}", headers=api.headers())
    assert one.status_code == 200
    assert one.json() == body
    listed = api.client.get(f"{api.base}/indbetalinger", headers=api.headers()).json()
    assert listed == {"Indbetalinger": [body]}


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_an_amount_that_is_not_a_positive_two_place_decimal_is_refused(
    api: Api, amount: str
) -> None:
    claim = api.env.fake.claim(100_000)
    body = problem(api.pay(claim, amount), 422, "BELOEB_UGYLDIGT")
    assert "Beloeb" in body["FejlTekst"]
    assert api.env.count("payments") == 0
    assert api.env.fake.calls == {}


def test_an_amount_as_a_json_number_or_other_bad_fields_are_refused(api: Api) -> None:
    claim = api.env.fake.claim(100_000)
    for body in (
        api.body(claim, 100),  # type: ignore[arg-type]
        api.body(claim, FordringId="not-a-uuid"),
        api.body(claim, OrganisationsenhedId=None),
        api.body(claim, Tekst="x" * 201),
        api.body(claim, Tekst="nul\x00tegn"),
        {**api.body(claim), "Ekstra": 1},
    ):
        answer = api.client.post(f"{api.base}/indbetalinger", json=body, headers=api.headers())
        problem(answer, 422, "UGYLDIG_FORESPOERGSEL")
    bad_party = api.client.post(
        f"{api.base}/indbetalinger",
        json=api.body(claim, IndbetalerPartId="0101901234"),
        headers=api.headers(),
    )
    problem(bad_party, 422, "PARTID_UGYLDIG")
    unit = api.client.post(
        f"{api.base}/indbetalinger",
        json=api.body(claim, OrganisationsenhedId=str(uuid.uuid4())),
        headers=api.headers(),
    )
    problem(unit, 422, "ORGANISATIONSENHED_UKENDT")
    assert api.env.count("payments") == 0


def test_the_idempotency_key_is_required_and_answers_the_same_payment(api: Api) -> None:
    claim = api.env.fake.claim(100_000)
    problem(api.pay(claim, key=None), 400, "IDEMPOTENCY_KEY_MANGLER")
    problem(api.pay(claim, key="abc"), 400, "IDEMPOTENCY_KEY_UGYLDIG")
    assert api.env.count("payments") == 0
    key = str(uuid.uuid4())
    first = api.pay(claim, "100.00", key=key)
    again = api.pay(claim, "100.00", key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["IndbetalingId"] == first.json()["IndbetalingId"]
    problem(api.pay(claim, "100.01", key=key), 409, "TRANSAKTION_KONFLIKT")
    assert api.env.count("payments") == 1
    assert api.env.fake.restance[claim] == 90_000


def test_only_this_fagsystems_case_workers_and_its_authorities(api: Api) -> None:
    claim = api.env.fake.claim(100_000)
    problem(api.pay(claim, token=None), 401, "IKKE_AUTENTIFICERET")
    problem(api.pay(claim, token="nobodys"), 401, "IKKE_AUTENTIFICERET")
    problem(api.pay(claim, token=OTHER_TOKEN), 403, "IKKE_ADGANG")
    elsewhere = api.base.replace(CVR, OTHER_CVR)
    for method, path in [
        ("POST", "/indbetalinger"),
        ("GET", "/indbetalinger"),
        ("GET", f"/indbetalinger/{uuid.uuid4()}"),
        ("GET", "/tilbagefoersler"),
    ]:
        answer = api.client.request(
            method, elsewhere + path, json=api.body(claim), headers=api.headers()
        )
        problem(answer, 403, "IKKE_ADGANG")
    assert api.env.count("payments") == 0
    malformed = api.base.replace(CVR, "1234")
    problem(
        api.client.get(f"{malformed}/indbetalinger", headers=api.headers()),
        422,
        "UGYLDIG_FORESPOERGSEL",
    )


def test_unknown_ids_are_404_and_malformed_ones_422(api: Api) -> None:
    h = api.headers()
    problem(
        api.client.get(f"{api.base}/indbetalinger/{uuid.uuid4()}", headers=h),
        404,
        "INDBETALING_UKENDT",
    )
    problem(
        api.client.get(f"{api.base}/tilbagefoersler/{uuid.uuid4()}", headers=h),
        404,
        "TILBAGEFOERSEL_UKENDT",
    )
    problem(
        api.client.get(f"{api.base}/indbetalinger/123", headers=h), 422, "UGYLDIG_FORESPOERGSEL"
    )
    udfoer = api.client.post(
        f"{api.base}/tilbagefoersler/{uuid.uuid4()}/udfoer",
        json={"Genindbetal": "0.00", "Tilbagebetal": "1.00"},
        headers=h,
    )
    problem(udfoer, 404, "TILBAGEFOERSEL_UKENDT")
    reverse = api.client.post(
        f"{api.base}/tilbagefoersler",
        json={"IndbetalingId": str(uuid.uuid4()), "Kilde": "SAGSBEHANDLER", "Tekst": "x"},
        headers=h,
    )
    problem(reverse, 404, "INDBETALING_UKENDT")
    assert api.env.count("reversals") == 0


def test_a_reversal_by_hand_and_its_execution(api: Api) -> None:
    paid = api.paid("600.00")
    h = api.headers()
    made = api.client.post(
        f"{api.base}/tilbagefoersler",
        json={"IndbetalingId": paid["IndbetalingId"], "Kilde": "SAGSBEHANDLER", "Tekst": "Fejl"},
        headers=h,
    )
    assert made.status_code == 201, made.text
    reversal = made.json()
    assert reversal["Tilstand"] == "AFVENTER"
    assert (reversal["Kilde"], reversal["Beloeb"], reversal["Tekst"]) == (
        "SAGSBEHANDLER",
        "600.00",
        "Fejl",
    )
    assert "Genindbetal" not in reversal
    repeat = api.client.post(
        f"{api.base}/tilbagefoersler",
        json={"IndbetalingId": paid["IndbetalingId"], "Kilde": "SAGSBEHANDLER", "Tekst": "Fejl"},
        headers=h,
    )
    assert (repeat.status_code, repeat.json()) == (200, reversal)
    other = api.client.post(
        f"{api.base}/tilbagefoersler",
        json={"IndbetalingId": paid["IndbetalingId"], "Kilde": "MANUEL_ADVIS"},
        headers=h,
    )
    problem(other, 409, "TILBAGEFOERSEL_FINDES")
    for kilde, code in [("ORDRE", "KILDE_UGYLDIG"), ("NOGET", "UGYLDIG_FORESPOERGSEL")]:
        answer = api.client.post(
            f"{api.base}/tilbagefoersler",
            json={"IndbetalingId": paid["IndbetalingId"], "Kilde": kilde},
            headers=h,
        )
        problem(answer, 422, code)
    url = f"{api.base}/tilbagefoersler/{reversal['TilbagefoerselId']}/udfoer"
    for share in ["abc", "1e3", "-5.00", "0.001"]:
        bad = api.client.post(url, json={"Genindbetal": share, "Tilbagebetal": "600.00"}, headers=h)
        problem(bad, 422, "BELOEB_UGYLDIGT")
    for split in [("300.00", "299.99"), ("600.00", "0.01"), ("0", "0")]:
        bad = api.client.post(
            url, json={"Genindbetal": split[0], "Tilbagebetal": split[1]}, headers=h
        )
        problem(bad, 422, "BELOEB_SUM_UGYLDIG")
    problem(
        api.client.post(url, json={"Genindbetal": "600.00"}, headers=h),
        422,
        "UGYLDIG_FORESPOERGSEL",
    )
    assert len(api.env.fake.calls) == 1  # nothing but the payment reached the debitorsystem
    assert api.env.count("paybacks") == 0

    done = api.client.post(url, json={"Genindbetal": "250.00", "Tilbagebetal": "350"}, headers=h)
    assert done.status_code == 200, done.text
    executed = done.json()
    assert executed["Tilstand"] == "UDFOERT"
    assert (executed["Genindbetal"], executed["Tilbagebetal"]) == ("250.00", "350.00")
    assert {"GenindbetalingId", "TilbagebetalingId"} <= set(executed)
    again = api.client.post(
        url, json={"Genindbetal": "250.00", "Tilbagebetal": "350.00"}, headers=h
    )
    assert (again.status_code, again.json()) == (200, executed)  # R4
    conflict = api.client.post(
        url, json={"Genindbetal": "0.00", "Tilbagebetal": "600.00"}, headers=h
    )
    problem(conflict, 409, "TILBAGEFOERSEL_KONFLIKT")
    repay = api.client.get(
        f"{api.base}/indbetalinger/{executed['GenindbetalingId']}", headers=h
    ).json()
    assert (repay["Tilstand"], repay["Beloeb"], repay["FordringId"]) == (
        "ACCEPTERET",
        "250.00",
        paid["FordringId"],
    )
    assert repay["GenindbetalingAfTilbagefoersel"] == reversal["TilbagefoerselId"]
    original = api.client.get(f"{api.base}/indbetalinger/{paid['IndbetalingId']}", headers=h).json()
    assert original["Tilstand"] == "TILBAGEFOERT"
    assert len(original["Posteringer"]) == 3
    assert original["TilbagefoerselId"] == reversal["TilbagefoerselId"]
    listed = api.client.get(f"{api.base}/tilbagefoersler?Tilstand=UDFOERT", headers=h).json()
    assert listed == {"Tilbagefoersler": [executed]}
    waiting = api.client.get(f"{api.base}/tilbagefoersler?Tilstand=AFVENTER", headers=h).json()
    assert waiting == {"Tilbagefoersler": []}


def test_udfoer_on_a_refused_payment_is_refused(api: Api) -> None:
    refused = api.pay(api.env.fake.claim(100), "2.00")
    assert refused.json()["Tilstand"] == "AFVIST"
    assert refused.json()["FejlKode"] == "BELOEB_OVERSTIGER_RESTANCE"
    assert refused.json()["Restance"] == "1.00"
    made = api.client.post(
        f"{api.base}/tilbagefoersler",
        json={"IndbetalingId": refused.json()["IndbetalingId"], "Kilde": "SAGSBEHANDLER"},
        headers=api.headers(),
    )
    problem(made, 409, "INDBETALING_IKKE_ACCEPTERET")


def test_a_lost_answer_is_answered_afsendt_and_settles_by_itself(api: Api) -> None:
    api.env.fake.lose = 1
    answer = api.pay(api.env.fake.claim(100_000), "10.00")
    assert answer.status_code == 201
    body = answer.json()
    assert body["Tilstand"] == "AFSENDT"
    assert body["Posteringer"] == []
    settled = api.until(
        f"{api.base}/indbetalinger/{body['IndbetalingId']}", lambda b: b["Tilstand"] != "AFSENDT"
    )
    assert settled["Tilstand"] == "ACCEPTERET"
    assert len(settled["Posteringer"]) == 1
    assert len(api.env.fake.live_coverages()) == 1


def test_the_case_worker_waits_only_a_short_while(env: PaymentsEnv) -> None:
    """The debitorsystem's answer is held back until the case worker has had theirs: had the
    call waited for it, the answer would be ACCEPTERET (after the safety release)."""
    env.fake.hold = threading.Event()
    release = threading.Timer(120, env.fake.hold.set)  # only if the call wrongly waits
    release.start()
    short = Timing(answer_wait_seconds=0.1, backoff_base_seconds=0.01, backoff_cap_seconds=0.02)
    for api in make_api(env, short):
        answer = api.pay(env.fake.claim(100_000), "10.00")
        assert answer.json()["Tilstand"] == "AFSENDT"
        env.fake.hold.set()
        release.cancel()
        path = f"{api.base}/indbetalinger/{answer.json()['IndbetalingId']}"
        assert api.until(path, lambda b: b["Tilstand"] != "AFSENDT")["Tilstand"] == "ACCEPTERET"
        assert len(env.fake.calls) == 1  # the call went on; nothing was sent twice


def test_listings_are_newest_first_100_a_page(api: Api) -> None:
    service = api.env.service()
    claim = api.env.fake.claim(10**9)
    made = [
        service.record_payment(CVR, str(uuid.uuid4()), api.env.request(claim, 100))
        for _ in range(101)
    ]
    first = api.client.get(f"{api.base}/indbetalinger", headers=api.headers()).json()
    assert len(first["Indbetalinger"]) == 100
    assert first["Indbetalinger"][0]["IndbetalingId"] == str(made[-1])
    second = api.client.get(
        f"{api.base}/indbetalinger",
        params={"FortsaettelsesNoegle": first["FortsaettelsesNoegle"]},
        headers=api.headers(),
    ).json()
    assert [p["IndbetalingId"] for p in second["Indbetalinger"]] == [str(made[0])]
    assert "FortsaettelsesNoegle" not in second
    filtered = api.client.get(
        f"{api.base}/indbetalinger",
        params={"FortsaettelsesNoegle": first["FortsaettelsesNoegle"], "Tilstand": "AFSENDT"},
        headers=api.headers(),
    )
    problem(filtered, 422, "FORTSAETTELSESNOEGLE_UGYLDIG")
    by_claim = api.client.get(
        f"{api.base}/indbetalinger", params={"FordringId": str(uuid.uuid4())}, headers=api.headers()
    )
    assert by_claim.json() == {"Indbetalinger": []}
    problem(
        api.client.get(
            f"{api.base}/indbetalinger", params={"Tilstand": "X"}, headers=api.headers()
        ),
        422,
        "UGYLDIG_FORESPOERGSEL",
    )
    problem(
        api.client.get(f"{api.base}/indbetalinger", params={"PartId": "x"}, headers=api.headers()),
        422,
        "PARTID_UGYLDIG",
    )


def test_the_case_worker_api_is_described_at_its_own_openapi(api: Api) -> None:
    prefix = f"/fagsystem/{api.env.fagsystem_id}/api/v1"
    schema = api.client.get(f"{prefix}/openapi.json").json()
    assert set(schema["paths"]) == {
        f"{prefix}/myndigheder/{{cvr}}/parter/{{PartId}}/fordringer",
        f"{prefix}/myndigheder/{{cvr}}/indbetalinger",
        f"{prefix}/myndigheder/{{cvr}}/indbetalinger/{{payment_id}}",
        f"{prefix}/myndigheder/{{cvr}}/tilbagefoersler",
        f"{prefix}/myndigheder/{{cvr}}/tilbagefoersler/{{reversal_id}}",
        f"{prefix}/myndigheder/{{cvr}}/tilbagefoersler/{{reversal_id}}/udfoer",
    }
    pay = schema["paths"][f"{prefix}/myndigheder/{{cvr}}/indbetalinger"]["post"]
    assert pay["responses"]["422"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert any(p["name"] == "Idempotency-Key" for p in pay["parameters"])


def test_the_part_books_in_finance_and_pays_back_through_nemkonto_by_itself(
    env: PaymentsEnv,
) -> None:
    """`build` wires the booking relay as a background task: no call but the case worker's."""
    ledger = RecordingLedger()
    for api in make_api(env, ledger=ledger):
        paid = api.paid("600.00")
        made = api.client.post(
            f"{api.base}/tilbagefoersler",
            json={"IndbetalingId": paid["IndbetalingId"], "Kilde": "SAGSBEHANDLER"},
            headers=api.headers(),
        ).json()
        api.client.post(
            f"{api.base}/tilbagefoersler/{made['TilbagefoerselId']}/udfoer",
            json={"Genindbetal": "0.00", "Tilbagebetal": "600.00"},
            headers=api.headers(),
        )
        deadline = time.monotonic() + 15
        while len(ledger.postings) < 3 or not ledger.payouts:
            assert time.monotonic() < deadline, (ledger.postings, ledger.payouts)
            time.sleep(0.05)
        original = api.client.get(
            f"{api.base}/indbetalinger/{paid['IndbetalingId']}", headers=api.headers()
        ).json()
        assert set(original["Posteringer"]) == set(ledger.postings)
        assert [p["Beloeb"] for p in ledger.payouts.values()] == ["600.00"]
        assert ledger.balance("2950") == 60_000

"""The case worker's listing of a party's payable claims, over HTTP: kept current by pushed
messages through the fagsystem's real push receiver, refreshed (`opdater=true`) from the real
debitorsystem through the real gateway, and refused clearly when it must be."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.responses import Response

from besked_samples import SOURCE_SYSTEM, claim
from debitorsystem.conftest import CO_PART, CVR, OTHER_CVR, PART, make_world
from debitorsystem.wire_env import PROVIDER_BASE, WireEnv, live_server, wire_env
from indbetaling import webhooks
from indbetaling.besked import ObjectAction, build_envelope, modtag_besked_input, read_status_code
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID
from indbetaling.db import read
from indbetaling.fagsystem import app as fagsystem_app
from indbetaling.fagsystem import claims_store
from indbetaling.fagsystem.client import GatewayDebitorClient
from indbetaling.fordring import ClaimView, view_to_json
from indbetaling.sts_client import Credentials

__all__ = ["live_server", "make_world", "wire_env"]

TOKEN = "caseworker-token-a"
OTHER_TOKEN = "caseworker-token-b"


@dataclass
class Api:
    env: WireEnv
    engine: Engine
    fagsystem_id: uuid.UUID
    other_id: uuid.UUID
    push_secret: str

    def get(
        self,
        cvr: str = CVR,
        part: str = PART,
        *,
        token: str | None = TOKEN,
        fagsystem_id: uuid.UUID | None = None,
        query: str = "",
    ) -> httpx.Response:
        fagsystem = fagsystem_id or self.fagsystem_id
        url = (
            f"{self.env.base_url}/fagsystem/{fagsystem}/api/v1"
            f"/myndigheder/{cvr}/parter/{part}/fordringer{query}"
        )
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.get(url, headers=headers, timeout=30)

    def claims(self, cvr: str = CVR, part: str = PART, query: str = "") -> list[Any]:
        answer = self.get(cvr, part, query=query)
        assert answer.status_code == 200, answer.text
        assert set(answer.json()) == {"Fordringer"}
        return list(answer.json()["Fordringer"])

    def push(self, view: ClaimView, action: ObjectAction, created_at: datetime) -> str:
        """Push one message about `view`, signed, to the fagsystem's push receiver; its BeskedId."""
        besked_id = uuid.uuid4()
        xml = build_envelope(
            view,
            action=action,
            transaction_id=besked_id,
            source_system=SOURCE_SYSTEM,
            created_at=created_at,
        )
        self.push_raw(str(besked_id), xml)
        return str(besked_id)

    def push_raw(self, besked_id: str, envelope: bytes) -> None:
        body = modtag_besked_input(envelope)
        headers = webhooks.signed_headers(self.push_secret, besked_id, int(time.time()), body)
        answer = httpx.post(
            f"{self.env.base_url}/fagsystem/{self.fagsystem_id}/beskeder",
            content=body,
            headers={**headers, "Content-Type": "text/xml; charset=utf-8"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert read_status_code(answer.content) == 20

    def stored(self, claim_id: uuid.UUID) -> claims_store.StoredClaim | None:
        with read(self.engine) as conn:
            return claims_store.stored_claim(conn, self.fagsystem_id, claim_id)


def debitor_client(env: WireEnv, system: str) -> GatewayDebitorClient:
    s = env.systems[system]
    # no kept-alive connections: they would outlive the test on the server's event loop
    http = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
    return GatewayDebitorClient(Credentials(env.base_url, s.client_id, s.client_secret), http)


@pytest.fixture
def api(wire_env: WireEnv, part_engine: Any, backend: str) -> Api:
    world = wire_env.world
    engine = part_engine("fagsystem", backend)
    secret = webhooks.make_secret()
    part = fagsystem_app.build(
        engine,
        [
            fagsystem_app.HostedFagsystem(
                world.fagsystem, secret, caseworker_token=TOKEN, org_units={CVR: ()}
            ),
            fagsystem_app.HostedFagsystem(
                world.other_fagsystem,
                webhooks.make_secret(),
                caseworker_token=OTHER_TOKEN,
                org_units={CVR: (), OTHER_CVR: ()},
            ),
        ],
        platform_jwks=wire_env.platform.jwks(),
        payments=fagsystem_app.Payments(
            ports={
                world.fagsystem: debitor_client(wire_env, "fagsystem"),
                world.other_fagsystem: debitor_client(wire_env, "other_fagsystem"),
            }
        ),
    )
    for router in part.routers:
        wire_env.app.include_router(router)
    return Api(wire_env, engine, world.fagsystem, world.other_fagsystem, secret)


def sample(restance: int = 50_000) -> ClaimView:
    return claim(PART, cvr=CVR, restance=restance)


# --- pushed messages keep it current -------------------------------------------------------


def test_a_pushed_message_updates_the_overview_once_and_never_backwards(api: Api) -> None:
    t0 = datetime(2026, 11, 26, 10, tzinfo=UTC)
    created = sample(restance=50_000)
    assert api.claims() == []

    first = api.push(created, ObjectAction.OPRETTET, t0)
    assert api.claims() == [view_to_json(created)]
    kept = api.stored(created.claim_id)

    # the same message again (BeskedId and all) is received once: nothing changes
    api.push_raw(
        first,
        build_envelope(
            created,
            action=ObjectAction.OPRETTET,
            transaction_id=uuid.UUID(first),
            source_system=SOURCE_SYSTEM,
            created_at=t0,
        ),
    )
    assert api.stored(created.claim_id) == kept

    lower = replace(created, restance=20_000)
    api.push(lower, ObjectAction.AENDRET, t0 + timedelta(minutes=2))
    assert api.claims() == [view_to_json(lower)]

    stale = replace(created, restance=35_000)  # said in between, arrives last
    api.push(stale, ObjectAction.AENDRET, t0 + timedelta(minutes=1))
    assert api.claims() == [view_to_json(lower)]

    api.push(lower, ObjectAction.AFSLUTTET, t0 + timedelta(minutes=3))
    assert api.claims() == []
    stored = api.stored(created.claim_id)
    assert stored is not None
    assert (stored.view, stored.payable) == (lower, False)


def test_each_fagsystem_has_its_own_overview(api: Api) -> None:
    api.push(sample(), ObjectAction.OPRETTET, datetime.now(UTC))

    answer = api.get(token=OTHER_TOKEN, fagsystem_id=api.other_id)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"Fordringer": []}


# --- refusals ----------------------------------------------------------------------------


def problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert (body["status"], body["FejlKode"]) == (status, code)
    assert body["FejlTekst"]


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (None, 401, "IKKE_AUTENTIFICERET"),
        ("nobodys-token", 401, "IKKE_AUTENTIFICERET"),
        (OTHER_TOKEN, 403, "IKKE_ADGANG"),
    ],
    ids=["no-token", "unknown-token", "other-fagsystems-token"],
)
def test_only_the_fagsystems_own_case_workers_get_in(
    api: Api, token: str | None, status: int, code: str
) -> None:
    problem(api.get(token=token), status, code)
    problem(api.get(token=token, query="?opdater=true"), status, code)


def test_an_authority_without_agreement_is_refused(api: Api) -> None:
    problem(api.get(OTHER_CVR), 403, "IKKE_ADGANG")
    problem(api.get(OTHER_CVR, query="?opdater=true"), 403, "IKKE_ADGANG")


@pytest.mark.parametrize("cvr", ["1234567", "123456789", "abcdefgh", "2918984\uff16"])
def test_a_malformed_cvr_is_refused(api: Api, cvr: str) -> None:
    problem(api.get(cvr), 422, "MYNDIGHEDCVR_UGYLDIG")


@pytest.mark.parametrize(
    "part",
    [
        "0101801234",
        "urn:oio:cpr-nr:010180123",
        "urn:oio:cvr-nr:1234567x",
        "urn:oio:cpr-nr:",
        "urn:oio:cpr-nr:010180123\uff14",
    ],
)
def test_a_malformed_party_is_refused_and_nothing_is_searched(api: Api, part: str) -> None:
    before = len(api.env.platform.audit_log(limit=1000))

    problem(api.get(part=part, query="?opdater=true"), 422, "PARTID_UGYLDIG")

    assert len(api.env.platform.audit_log(limit=1000)) == before


def test_a_malformed_opdater_is_refused(api: Api) -> None:
    problem(api.get(query="?opdater=kanske"), 422, "UGYLDIG_FORESPOERGSEL")


# --- opdater=true against the running system -----------------------------------------------


def test_opdater_searches_the_debitorsystem_and_keeps_what_it_found(api: Api) -> None:
    world = api.env.world
    first, second = world.claim(principal=40_000), world.claim(principal=60_000)
    world.claim(cvr=OTHER_CVR)  # the party's claim in another authority

    found = api.claims(query="?opdater=true")

    expected = sorted(
        (world.service.claim(CVR, c).view() for c in (first, second)),
        key=lambda v: (v.due_date, str(v.claim_id)),
    )
    assert found == [view_to_json(v) for v in expected]
    assert api.claims() == found  # kept: the plain listing shows the same
    assert api.claims(part=CO_PART) == found  # the co-liable party's listing too

    world.pay(first, "400.00")  # paid in full: no longer payable
    assert [c["FordringId"] for c in api.claims(query="?opdater=true")] == [str(second)]
    closed = api.stored(first)
    assert closed is not None
    assert not closed.payable


def test_opdater_without_an_answer_is_503_and_the_overview_stays(api: Api) -> None:
    world = api.env.world
    claim_id = world.claim(principal=40_000)
    known = api.claims(query="?opdater=true")
    assert [c["FordringId"] for c in known] == [str(claim_id)]

    @api.env.app.post("/unavailable")
    async def unavailable() -> Response:
        return Response(b"Service Unavailable", status_code=503, media_type="text/plain")

    api.env.platform.set_endpoint(
        world.service.system_id, DEBITOR_INDBETALING_ENTITY_ID, f"{PROVIDER_BASE}/unavailable"
    )
    world.pay(claim_id, "400.00")

    problem(api.get(query="?opdater=true"), 503, "IKKE_TILGAENGELIG")
    assert api.claims() == known

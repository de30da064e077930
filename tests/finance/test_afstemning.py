"""The three-way reconciliation over the parts' APIs (`GET /finance/api/v1/afstemning`), on the
rig of `rig.py` (the real debitorsystem, finance and NemKonto; recording stand-ins for the
fagsystems' case-worker API), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from debitorsystem.conftest import code
from debitorsystem.test_staff_api import assert_problem
from indbetaling.debitorsystem.domain import ReversalReason
from indbetaling.debitorsystem.service import ReversalRequest

from .rig import AFSTEMNING, BASE, Rig, bearer, consistent_world
from .values import CVR, OTHER_CVR


def test_a_consistent_authority_agrees(rig: Rig) -> None:
    made = consistent_world(rig)
    result = rig.reconcile()
    assert result == {"MyndighedCVR": CVR, "Afstemt": True, "Antal": len(made), "Afvigelser": []}
    a, b = rig.fakes
    for fake in (a, b):
        assert {s.authorization for s in fake.seen} == {f"Bearer {fake.token}"}
        paths = [s.path for s in fake.seen]
        assert f"/fagsystem/{fake.id}/api/v1/myndigheder/{CVR}/indbetalinger" in paths
        reversal_asks = [s for s in fake.seen if s.path.endswith("/tilbagefoersler")]
        assert reversal_asks
        assert all(s.params.get("Tilstand") == "UDFOERT" for s in reversal_asks)
    # every page was fetched: a's six payments come two a page
    a_pages = [
        s.params.get("FortsaettelsesNoegle") for s in a.seen if s.path.endswith("/indbetalinger")
    ]
    assert a_pages == [None, "2", "4"]
    # the other authority: only the fagsystem serving it is asked, and nothing is there
    a.seen.clear()
    b.seen.clear()
    assert rig.reconcile(OTHER_CVR) == {
        "MyndighedCVR": OTHER_CVR,
        "Afstemt": True,
        "Antal": 0,
        "Afvigelser": [],
    }
    assert a.seen == []
    assert {s.path.split("/")[-2] for s in b.seen} == {OTHER_CVR}


def test_every_mismatch_is_named_with_its_payment(rig: Rig) -> None:
    made = consistent_world(rig)
    a, b = rig.fakes
    # booked twice (a resend under a new PosteringId)
    rig.book(made["plain"], "INDBETALING", "250.00", posting_id=uuid.uuid4())
    # a coverage the fagsystem does not know: paid in the debitorsystem behind its back
    claim = rig.world.claim(100_000)
    stranger = uuid.uuid4()
    paid = rig.world.pay(
        claim, "10.00", payment_id=stranger, fagsystem=b.id, org_unit=rig.world.other_org_unit
    )
    assert code(paid) == "ACCEPTERET"
    # reversed in the debitorsystem while the fagsystem still has it ACCEPTERET
    request = ReversalRequest(made["other"], ReversalReason.FEJLREGISTRERING)
    rig.world.service.reverse(b.id, CVR, str(uuid.uuid4()), request)
    # a pay-back that never reached NemKonto
    lost = rig.pay(a, claim, "60.00")
    (payment,) = [p for p in a.payments[CVR] if p["IndbetalingId"] == str(lost)]
    rig.world.service.reverse(
        a.id, CVR, str(uuid.uuid4()), ReversalRequest(lost, ReversalReason.ANDET)
    )
    payment["Tilstand"] = "TILBAGEFOERT"
    rig.book(lost, "TILBAGEFOERSEL", "60.00")
    rig.book(lost, "TILBAGEBETALING", "60.00")
    a.reversals[CVR].append(
        {
            "IndbetalingId": str(lost),
            "Tilstand": "UDFOERT",
            "Genindbetal": "0.00",
            "Tilbagebetal": "60.00",
        }
    )
    # a payment still waiting for its answer
    waiting = uuid.uuid4()
    a.payments[CVR].append(
        {**a.payments[CVR][0], "IndbetalingId": str(waiting), "Tilstand": "AFSENDT"}
    )

    result = rig.reconcile()
    assert result["Afstemt"] is False
    assert result["Antal"] == len(made) + 3
    found = {(d["IndbetalingId"], d["Beskrivelse"]) for d in result["Afvigelser"]}
    assert found == {
        (str(made["plain"]), "Bogført 2 gange (INDBETALING)"),
        (str(stranger), "Dækning fra en indbetaling, som intet fagsystem i afstemningen kender"),
        (
            str(made["other"]),
            "Tilstandene er forskellige: indbetalingen er ACCEPTERET i fagsystemet, "
            "men dækningen er tilbageført i debitorsystemet",
        ),
        (str(lost), "Tilbagebetalingen på 60.00 er ikke sendt til NemKonto"),
        (str(waiting), "Indbetalingen afventer stadig svar fra debitorsystemet (AFSENDT)"),
    }
    row = next(d for d in result["Afvigelser"] if d["IndbetalingId"] == str(stranger))
    assert row == {
        "IndbetalingId": str(stranger),
        "Fagsystem": "ukendt",
        "Debitorsystem": f"dækning 10.00 (fagsystem {b.id})",
        "Finans": "ingen postering",
        "Beskrivelse": "Dækning fra en indbetaling, som intet fagsystem i afstemningen kender",
    }


def test_a_fagsystem_without_a_payments_api_is_named_not_a_crash(rig: Rig) -> None:
    consistent_world(rig)
    a, b = rig.fakes
    nowhere = rig.source(a, base_url=f"{BASE}/fagsystem/{a.id}/findes-ikke")
    client = rig.serve(fagsystems=[nowhere, rig.source(b)])
    answer = client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
    text = answer.json()["FejlTekst"]
    assert (
        f"Fagsystemet {a.id} har intet betalings-API (404 på "
        f"{BASE}/fagsystem/{a.id}/findes-ikke/myndigheder/{CVR}/indbetalinger)" in text
    )
    assert f"Fagsystemet {a.id} har intet API for tilbageførsler" in text
    assert str(b.id) not in text


def test_parts_that_refuse_fail_or_answer_nonsense_are_named(rig: Rig) -> None:
    consistent_world(rig)
    a, b = rig.fakes
    wrong = rig.serve(
        fagsystems=[rig.source(a, token="forkert"), rig.source(b)], auditor="ikke-revisor"
    )
    answer = wrong.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
    text = answer.json()["FejlTekst"]
    assert f"Fagsystemet {a.id} svarede 401" in text
    assert "Debitorsystemet svarede 401" in text and "IKKE_AUTENTIFICERET Ukendt token" in text

    client = rig.serve()
    for broken, says in (
        (
            {
                "Indbetalinger": [
                    {"IndbetalingId": str(uuid.uuid4()), "Beloeb": "1e3", "Tilstand": "ACCEPTERET"}
                ]
            },
            "ugyldig indbetaling (nr. 1)",
        ),
        (
            {"Indbetalinger": [{"IndbetalingId": "x", "Beloeb": "1.00", "Tilstand": "ACCEPTERET"}]},
            "ugyldig indbetaling",
        ),
        (
            {
                "Indbetalinger": [
                    {"IndbetalingId": str(uuid.uuid4()), "Beloeb": "1.00", "Tilstand": "BETALT"}
                ]
            },
            "Tilstand 'BETALT' er ukendt",
        ),
        ({"Indbetalinger": "nej"}, "uden listen Indbetalinger"),
        ({"Indbetalinger": [], "FortsaettelsesNoegle": "samme"}, "gentog sin FortsaettelsesNoegle"),
    ):
        a.broken = broken
        answer = client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
        assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
        assert f"Fagsystemet {a.id}" in answer.json()["FejlTekst"]
        assert says in answer.json()["FejlTekst"]
    a.broken = None

    unreachable = rig.source(a, base_url="http://127.0.0.1:9/fagsystem")
    far = rig.serve(fagsystems=[unreachable], outside="http://127.0.0.1:9")
    answer = far.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 502, "KILDE_UTILGAENGELIG")
    assert (
        f"Fagsystemet {a.id} kunne ikke nås på http://127.0.0.1:9/fagsystem/myndigheder/{CVR}/indbetalinger"
        in answer.json()["FejlTekst"]
    )

    unknown = client.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": "99999999"})
    assert_problem(unknown, 502, "KILDE_UTILGAENGELIG")
    assert "Debitorsystemet kender ikke myndigheden 99999999" in unknown.json()["FejlTekst"]


def test_bad_questions_and_a_finance_without_sources(rig: Rig) -> None:
    client = rig.client
    assert client is not None
    for params in ({}, {"MyndighedCVR": "1234"}, {"MyndighedCVR": "abcdefgh"}):
        assert_problem(
            client.get(AFSTEMNING, headers=bearer(), params=params), 422, "UGYLDIG_FORESPOERGSEL"
        )
    alone = rig.serve(reconcile=False)
    answer = alone.get(AFSTEMNING, headers=bearer(), params={"MyndighedCVR": CVR})
    assert_problem(answer, 503, "AFSTEMNING_IKKE_OPSAT")

"""What DebitorIndbetalingAfsend promises, the same over SOAP and REST (CONTRACT §3, §5).

`WireScenarios` is collected through its subclasses in `test_wire_soap.py` and
`test_wire_rest.py`, each naming its wire; every scenario goes through the real gateway to the
real debitorsystem, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from debitorsystem.conftest import CO_PART, CVR, OTHER_CVR, PART, STRANGER
from debitorsystem.wire_env import Answer, Wire, WireEnv, code
from indbetaling.fordring import LiableParty

Scenario = Callable[[WireEnv, Wire], tuple[Answer, uuid.UUID | None]]
"""A scenario's answer and the claim it was about (None where it made none)."""


def _claim(env: WireEnv, principal: int = 100_000) -> uuid.UUID:
    return env.world.claim(principal)


def _unknown_claim(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    return wire.pay(env.payment(uuid.uuid4())), None


def _annulled_claim(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    env.world.service.annul(CVR, claim, "Oprettet ved en fejl")
    return wire.pay(env.payment(claim)), claim


def _three_decimals(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    return wire.pay(env.payment(claim, "10.001")), claim


def _above_restance(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    return wire.pay(env.payment(claim, "1000.01")), claim


def _payer_not_liable(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    return wire.pay(env.payment(claim, IndbetalerPartId=STRANGER)), claim


def _unit_not_in_assortment(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    unit = str(uuid.uuid4())
    return wire.pay(env.payment(claim, IndbetalendeOrganisationsenhedId=unit)), claim


def _unknown_payment(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    return wire.reverse(IndbetalingId=str(uuid.uuid4()), AarsagKode="FEJLREGISTRERING"), None


def _not_the_owner(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    payment = env.payment(claim)
    assert code(wire.pay(payment)) == "ACCEPTERET"
    answer = wire.reverse(
        system="other_fagsystem", IndbetalingId=payment["IndbetalingId"], AarsagKode="ANDET"
    )
    return answer, claim


def _payment_id_reused(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    payment = env.payment(claim)
    assert code(wire.pay(payment)) == "ACCEPTERET"
    return wire.pay({**payment, "Beloeb": "2.00"}), claim


def _transaction_reused(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim, key = _claim(env), str(uuid.uuid4())
    assert code(wire.pay(env.payment(claim), key)) == "ACCEPTERET"
    return wire.pay(env.payment(claim, "3.00"), key), claim


def _unknown_order(env: WireEnv, wire: Wire) -> tuple[Answer, uuid.UUID | None]:
    claim = _claim(env)
    payment = env.payment(claim)
    assert code(wire.pay(payment)) == "ACCEPTERET"
    answer = wire.reverse(
        IndbetalingId=payment["IndbetalingId"],
        AarsagKode="TILBAGEFOERSELSORDRE",
        TilbagefoerselsOrdreId=str(uuid.uuid4()),
    )
    return answer, claim


EVERY_CODE: dict[str, tuple[Scenario, str]] = {
    # FejlKode: (scenario, Restance of the first claim afterwards)
    "FORDRING_UKENDT": (_unknown_claim, ""),
    "FORDRING_IKKE_BETALBAR": (_annulled_claim, "0.00"),
    "BELOEB_UGYLDIGT": (_three_decimals, "1000.00"),
    "BELOEB_OVERSTIGER_RESTANCE": (_above_restance, "1000.00"),
    "PART_IKKE_HAEFTER": (_payer_not_liable, "1000.00"),
    "ORGANISATIONSENHED_UKENDT": (_unit_not_in_assortment, "1000.00"),
    "INDBETALING_UKENDT": (_unknown_payment, ""),
    "IKKE_EJER": (_not_the_owner, "900.00"),
    "INDBETALINGID_KONFLIKT": (_payment_id_reused, "900.00"),
    "TRANSAKTION_KONFLIKT": (_transaction_reused, "900.00"),
    "TILBAGEFOERSELSORDRE_UKENDT": (_unknown_order, "900.00"),
}


def _restance_text(env: WireEnv, claim: uuid.UUID) -> str:
    ore = env.restance(claim)
    return f"{ore // 100}.{ore % 100:02d}"


class WireScenarios:
    wire_name: str

    @pytest.fixture
    def wire(self, wire_env: WireEnv) -> Wire:
        return wire_env.soap if self.wire_name == "soap" else wire_env.rest

    def test_search_finds_the_calling_authoritys_payable_claims(
        self, wire_env: WireEnv, wire: Wire
    ) -> None:
        mine = _claim(wire_env)
        theirs = wire_env.world.claim(50_000, cvr=OTHER_CVR, parties=(LiableParty(PART, "P"),))
        answer = wire.search(PartId=PART)
        assert code(answer) == "ACCEPTERET"
        assert "FortsaettelsesNoegle" not in answer
        (claim,) = answer["FordringTilIndbetaling"]
        assert claim == {
            "FordringId": str(mine),
            "DebitorkontoId": str(wire_env.world.account),
            "MyndighedCVR": CVR,
            "DebitorkontoTypeKode": "KONTO.BORGER",
            "KravtypeKode": "KRAV.DAGTILBUD",
            "Hovedstol": "1000.00",
            "Restance": "1000.00",
            "Forfaldsdato": "2026-12-01",
            "SidsteRettidigeBetalingsdato": "2026-12-10",
            "Haefterkreds": {
                "Haefter": [
                    {"PartId": PART, "HaefterRolle": "PRIMAER"},
                    {"PartId": CO_PART, "HaefterRolle": "SOLIDARISK"},
                ]
            },
            "Status": "AKTIV",
        }
        # the other authority's claim is found by a fagsystem calling for that authority only
        assert wire.search(FordringId=str(theirs))["FordringTilIndbetaling"] == []
        other = wire.search("other_fagsystem", OTHER_CVR, PartId=PART)
        assert [c["FordringId"] for c in other["FordringTilIndbetaling"]] == [str(theirs)]

    def test_a_payment_is_accepted_and_lowers_restance(self, wire_env: WireEnv, wire: Wire) -> None:
        claim = _claim(wire_env)
        answer = wire.pay(wire_env.payment(claim, "250.5"))
        assert code(answer) == "ACCEPTERET"
        assert answer["Restance"] == "749.50"
        assert uuid.UUID(answer["DaekningId"])
        assert wire_env.restance(claim) == 74_950
        (claim_seen,) = wire.search(FordringId=str(claim))["FordringTilIndbetaling"]
        assert claim_seen["Restance"] == "749.50"

    def test_every_fejlkode(self, wire_env: WireEnv, wire: Wire) -> None:
        # one world for all codes keeps the suite fast; every scenario makes its own claim
        for fejlkode, (scenario, restance_after) in EVERY_CODE.items():
            answer, claim = scenario(wire_env, wire)
            assert code(answer) == fejlkode, answer
            assert "DaekningId" not in answer, fejlkode
            if claim is not None:  # nothing changed by the refusal
                assert _restance_text(wire_env, claim) == restance_after, fejlkode
            if fejlkode == "BELOEB_OVERSTIGER_RESTANCE":
                assert answer["Restance"] == "1000.00"  # so the fagsystem can pay less

    def test_wrong_amounts_are_a_business_answer(self, wire_env: WireEnv, wire: Wire) -> None:
        claim = _claim(wire_env)
        for amount in ("0", "0.00", "-5.00", "-0", "0.001", "+.005", "10000000000000"):
            answer = wire.pay(wire_env.payment(claim, amount))
            assert code(answer) == "BELOEB_UGYLDIGT", amount
            assert "Restance" not in answer
        assert wire_env.restance(claim) == 100_000
        assert wire_env.coverages(claim) == 0

    def test_a_replay_gets_the_first_answer_even_after_the_claim_moved(
        self, wire_env: WireEnv, wire: Wire
    ) -> None:
        claim, key = _claim(wire_env), str(uuid.uuid4())
        payment = wire_env.payment(claim, "100.00")
        first = wire.pay(payment, key)
        assert wire.pay(wire_env.payment(claim, "50.00"))["Restance"] == "850.00"
        assert wire.pay(payment, key) == first
        assert first["Restance"] == "900.00"
        assert wire_env.coverages(claim) == 2

    def test_the_same_payment_id_under_a_new_key_answers_the_original(
        self, wire_env: WireEnv, wire: Wire
    ) -> None:
        claim = _claim(wire_env)
        payment = wire_env.payment(claim, "100.00")
        first = wire.pay(payment)
        again = wire.pay({**payment, "Beloeb": "100"})  # the same amount, written otherwise
        assert again == first
        assert code(wire.pay({**payment, "Beloeb": "100.01"})) == "INDBETALINGID_KONFLIKT"
        assert wire_env.coverages(claim) == 1

    def test_a_rejected_payment_id_may_be_used_again(self, wire_env: WireEnv, wire: Wire) -> None:
        claim = _claim(wire_env)
        payment = wire_env.payment(claim, "2000.00")
        assert code(wire.pay(payment)) == "BELOEB_OVERSTIGER_RESTANCE"
        assert code(wire.pay({**payment, "Beloeb": "1000.00"})) == "ACCEPTERET"
        assert wire_env.restance(claim) == 0

    def test_concurrent_duplicates_make_one_payment(self, wire_env: WireEnv, wire: Wire) -> None:
        claim = _claim(wire_env)
        payment, key = wire_env.payment(claim, "100.00"), str(uuid.uuid4())
        with ThreadPoolExecutor(6) as pool:
            same_key = list(pool.map(lambda _: wire.pay(payment, key), range(6)))
            new_keys = list(pool.map(lambda _: wire.pay(payment), range(6)))
        assert all(a == same_key[0] for a in same_key + new_keys)
        assert code(same_key[0]) == "ACCEPTERET"
        assert wire_env.coverages(claim) == 1
        assert wire_env.restance(claim) == 90_000

    def test_concurrent_payers_never_exceed_restance(self, wire_env: WireEnv, wire: Wire) -> None:
        claim = _claim(wire_env)
        with ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(lambda _: wire.pay(wire_env.payment(claim, "300.00")), range(6))
            )
        assert (
            sorted(code(a) for a in answers)
            == ["ACCEPTERET"] * 3 + ["BELOEB_OVERSTIGER_RESTANCE"] * 3
        )
        assert {a["Restance"] for a in answers if code(a) != "ACCEPTERET"} == {"100.00"}
        assert wire_env.restance(claim) == 10_000

    def test_the_owner_reverses_in_full_and_a_repeat_changes_nothing(
        self, wire_env: WireEnv, wire: Wire
    ) -> None:
        claim = _claim(wire_env)
        payment = wire_env.payment(claim, "400.00")
        assert wire.pay(payment)["Restance"] == "600.00"
        fields = {"IndbetalingId": payment["IndbetalingId"], "AarsagKode": "FEJLREGISTRERING"}
        first = wire.reverse(**fields, Tekst="Forkert fordring")
        assert first == {
            "Forretningskvittering": {"ForretningsValideringsKode": "ACCEPTERET"},
            "Restance": "1000.00",
        }
        assert wire.reverse(**fields) == first
        assert wire_env.restance(claim) == 100_000
        (coverage,) = wire_env.world.service.claim(CVR, claim).coverages
        assert coverage.reversed

    def test_one_authority_can_neither_see_nor_pay_anothers_claims(
        self, wire_env: WireEnv, wire: Wire
    ) -> None:
        theirs = wire_env.world.claim(50_000, cvr=OTHER_CVR)
        assert wire.search(FordringId=str(theirs))["FordringTilIndbetaling"] == []
        assert code(wire.pay(wire_env.payment(theirs, "1.00"))) == "FORDRING_UKENDT"
        # nor over the other fagsystem, which has agreements with both authorities
        answer = wire.pay(
            wire_env.payment(
                theirs, "1.00", IndbetalendeOrganisationsenhedId=str(wire_env.world.other_org_unit)
            ),
            system="other_fagsystem",
        )
        assert code(answer) == "FORDRING_UKENDT"
        assert wire_env.restance(theirs, OTHER_CVR) == 50_000

    def test_a_payment_id_used_under_another_authority_reveals_nothing(
        self, wire_env: WireEnv, wire: Wire
    ) -> None:
        """R13 with "IndbetalingId is unique per owner forever": under authority B, a fagsystem
        repeating an IndbetalingId it used under A gets INDBETALINGID_KONFLIKT and none of A's
        data, whatever the request holds; nothing is paid or reversed."""
        unit = str(wire_env.world.other_org_unit)
        theirs = wire_env.world.claim(50_000, cvr=OTHER_CVR)
        payment = wire_env.payment(theirs, "10.00", IndbetalendeOrganisationsenhedId=unit)
        under_a = wire.pay(payment, system="other_fagsystem", cvr=OTHER_CVR)
        assert code(under_a) == "ACCEPTERET"
        mine = _claim(wire_env)
        for body in (payment, {**payment, "FordringId": str(mine)}):
            under_b = wire.pay(body, system="other_fagsystem", cvr=CVR)
            assert code(under_b) == "INDBETALINGID_KONFLIKT", under_b
            assert set(under_b) == {"Forretningskvittering"}, under_b
            assert under_a["DaekningId"] not in str(under_b)
        reversal = wire.reverse(
            system="other_fagsystem",
            cvr=CVR,
            IndbetalingId=payment["IndbetalingId"],
            AarsagKode="FEJLREGISTRERING",
        )
        assert code(reversal) == "INDBETALING_UKENDT"
        assert set(reversal) == {"Forretningskvittering"}
        assert wire_env.restance(theirs, OTHER_CVR) == 49_000
        assert wire_env.restance(mine) == 100_000
        # under A, the owner still gets its own answer
        assert wire.pay(payment, system="other_fagsystem", cvr=OTHER_CVR) == under_a

"""The case worker's story over HTTP against `indbetaling run`, as a client who read only
CONTRACT §9 (and §10 for the collections staff who write a claim down), on the embedded default
and on PostgreSQL: find a citizen's claims, pay part of one, overpay and be told the Restance;
staff write the claim down below what was paid; the reversal order reaches the fagsystem that
waits for its case worker, who reverses, pays part again and pays back the rest; the fagsystem
with the automatic policy does the same on its own; finance has one balanced posting per event,
NemKonto the pay-backs, and the three-way reconciliation agrees.

A slow test (tests/e2e): it runs `indbetaling run` in a process of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from e2e.caseworker import (
    CaseWorker,
    Finance,
    Json,
    Staff,
    bookings,
    half,
    money,
    postgres_databases,
    the_fagsystem,
    wait_until,
)
from e2e.test_run import free_port, sample_of, start, stop, wait_for_demo_json

CLAIMS = "60"
"""Demo claims: enough for the samples, few enough to start in a second or two."""


@pytest.fixture
def system(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Json]:
    """`indbetaling run`, fresh, on `backend` (conftest's: the embedded default's SQLite files,
    or PostgreSQL, which fails the test under CI=true when there is none); its demo.json."""
    with ExitStack() as stack:
        env = {"INDBETALING_DEMO_CLAIMS": CLAIMS}
        if backend == "postgres":
            admin_url = str(request.getfixturevalue("postgres_admin_url"))
            env |= stack.enter_context(postgres_databases(admin_url))
        data_dir = tmp_path / "run"
        proc = start(data_dir, free_port(), **env)
        stack.callback(stop, proc)  # stopped before its databases are dropped
        demo = wait_for_demo_json(data_dir, proc)
        if backend == "postgres":
            assert not list(data_dir.glob("*.sqlite")), "a part did not use PostgreSQL"
        yield demo


class Story:
    """One fagsystem's part of the story on one sample claim; what it made, for the checks at
    the end."""

    def __init__(
        self, client: httpx.Client, demo: Json, finance: Finance, policy: str, sample_no: int
    ) -> None:
        self.cvr: str = demo["authorities"][0]["cvr"]
        self.finance = finance
        self.sample = sample_of(demo, self.cvr, sample_no)
        self.worker = CaseWorker(client, the_fagsystem(demo, self.cvr, policy), self.cvr)
        self.staff = Staff(client, demo, self.cvr)
        self.claim_id = self.sample["fordring_id"]
        self.part_id = self.sample["part_id"]

    def find_and_pay(self) -> None:
        """Search the citizen's claims, pay half of the sample claim, and overpay."""
        found = {c["FordringId"]: c for c in self.worker.claims(self.part_id, opdater=True)}
        claim = found[self.claim_id]
        assert claim["MyndighedCVR"] == self.cvr
        assert claim["Restance"] == self.sample["restance"]
        assert self.part_id in [h["PartId"] for h in claim["Haefterkreds"]["Haefter"]]
        owed = money(claim["Restance"])
        self.paid = half(owed)
        self.owed_after = owed - self.paid

        key = str(uuid.uuid4())
        payment = self.worker.pay(self.claim_id, self.paid, self.part_id, key)
        assert payment["Tilstand"] == "ACCEPTERET", payment
        assert payment["FordringId"] == self.claim_id
        assert money(payment["Beloeb"]) == self.paid
        assert money(payment["Restance"]) == self.owed_after
        assert payment["DaekningId"]
        self.payment_id: str = payment["IndbetalingId"]
        again = self.worker.pay(self.claim_id, self.paid, self.part_id, key)
        assert again["IndbetalingId"] == self.payment_id  # the same key: the same payment

        too_much = self.owed_after + Decimal("0.01")
        refused = self.worker.pay(self.claim_id, too_much, self.part_id)
        assert refused["Tilstand"] == "AFVIST", refused
        assert refused["FejlKode"] == "BELOEB_OVERSTIGER_RESTANCE"
        assert money(refused["Restance"]) == self.owed_after
        assert refused["Posteringer"] == []
        self.refused_id: str = refused["IndbetalingId"]

    def write_down(self) -> None:
        """Staff write the claim down by more than it owes now: over-covered by half the
        payment, and the payment is ordered reversed."""
        self.overcovered = half(self.paid)
        answer = self.staff.write_down(self.claim_id, self.owed_after + self.overcovered)
        assert answer["Fordring"]["Restance"] == "0.00"
        (order,) = [
            o for o in answer["TilbagefoerselsOrdrer"] if o["IndbetalingId"] == self.payment_id
        ]
        assert money(order["Overdaekning"]) == self.overcovered
        self.order_id: str = order["TilbagefoerselsOrdreId"]
        # after the reversal the claim owes the rest of the payment, paid again; the
        # over-coverage goes back to the citizen
        self.repay = self.paid - self.overcovered
        self.payback = self.overcovered

    def check_reversal(self, reversal: Json) -> None:
        assert reversal["Tilstand"] == "UDFOERT", reversal
        assert reversal["Kilde"] == "ORDRE"
        assert reversal["TilbagefoerselsOrdreId"] == self.order_id
        assert money(reversal["Beloeb"]) == self.paid
        self.repay_id: str = reversal["GenindbetalingId"]
        self.payback_id: str = reversal["TilbagebetalingId"]
        assert self.worker.payment(self.payment_id)["Tilstand"] == "TILBAGEFOERT"
        repaid = wait_until(
            "the new payment of Genindbetal accepted",
            lambda: (p := self.worker.payment(self.repay_id))["Tilstand"] == "ACCEPTERET" and p,
        )
        assert money(repaid["Beloeb"]) == self.repay
        assert repaid["FordringId"] == self.claim_id
        assert repaid["Restance"] == "0.00"
        (payout,) = wait_until(
            "the pay-back at NemKonto", lambda: self.finance.payouts(self.payment_id)
        )
        assert payout["BetalingsanmodningId"] == self.payback_id
        assert payout["PartId"] == self.part_id
        assert money(payout["Beloeb"]) == self.payback
        coverages = {c["IndbetalingId"]: c for c in self.staff.payment_coverages(self.claim_id)}
        assert coverages[self.payment_id]["Tilbagefoert"] is True
        assert coverages[self.repay_id]["Tilbagefoert"] is False
        assert money(coverages[self.repay_id]["Beloeb"]) == self.repay
        assert self.refused_id not in coverages

    def check_postings(self) -> None:
        """One balanced posting per event: the payment, its reversal and its pay-back under the
        payment's IndbetalingId, the new payment under its own; none for the refused one."""
        expected = {
            self.payment_id: [
                ("INDBETALING", self.paid),
                ("TILBAGEBETALING", self.payback),
                ("TILBAGEFOERSEL", self.paid),
            ],
            self.repay_id: [("INDBETALING", self.repay)],
        }
        for reference, events in expected.items():
            postings = self.postings_once_there(reference, len(events))
            assert bookings(postings) == events
            assert {p["PosteringId"] for p in postings} == set(
                self.worker.payment(reference)["Posteringer"]
            )
        assert self.finance.postings(self.refused_id) == []

    def postings_once_there(self, reference: str, count: int) -> list[Json]:
        """The postings of `reference` once at least `count` have reached finance."""
        return wait_until(
            f"{count} postings of {reference}",
            lambda: (found := self.finance.postings(reference)) and len(found) >= count and found,
        )

    @property
    def payment_ids(self) -> set[str]:
        return {self.payment_id, self.refused_id, self.repay_id}


def test_the_case_workers_story_over_http(system: Json) -> None:
    demo = system
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        finance = Finance(client, demo)
        manual = Story(client, demo, finance, "SAGSBEHANDLER", 0)
        automatic = Story(client, demo, finance, "AUTOMATISK", 1)

        # The case worker of the fagsystem that waits for its case workers.
        manual.find_and_pay()
        manual.write_down()
        waiting = wait_until(
            "the reversal order in the fagsystem's list of reversals",
            lambda: manual.worker.reversal_of(manual.payment_id),
        )
        assert waiting["Kilde"] == "ORDRE"
        assert waiting["Tilstand"] == "AFVENTER"
        assert waiting["TilbagefoerselsOrdreId"] == manual.order_id
        assert money(waiting["Overdaekning"]) == manual.overcovered
        assert money(waiting["Beloeb"]) == manual.paid
        executed = manual.worker.execute_request(
            waiting["TilbagefoerselId"], manual.repay, manual.payback
        )
        assert executed.status_code == 200, executed.text
        assert executed.json()["Tilstand"] in {"UDFOERT", "AFVENTER"}
        manual.check_reversal(
            wait_until(
                "the reversal executed",
                lambda: (
                    (r := manual.worker.reversal(waiting["TilbagefoerselId"]))["Tilstand"]
                    == "UDFOERT"
                    and r
                ),
            )
        )

        # The fagsystem with the automatic policy, on its own payment of the same authority.
        automatic.find_and_pay()
        automatic.write_down()
        done = wait_until(
            "the automatic fagsystem executing the order by itself",
            lambda: (
                (r := automatic.worker.reversal_of(automatic.payment_id))
                and r["Tilstand"] == "UDFOERT"
                and r
            ),
        )
        assert money(done["Genindbetal"]) == automatic.repay
        assert money(done["Tilbagebetal"]) == automatic.payback
        automatic.check_reversal(done)

        for story in (manual, automatic):
            story.check_postings()

        ours = manual.payment_ids | automatic.payment_ids
        agreement = finance.reconciliation(manual.cvr)
        about_ours = [d for d in agreement["Afvigelser"] if d["IndbetalingId"] in ours]
        assert about_ours == []
        assert agreement["Afstemt"] is True, agreement["Afvigelser"]
        assert agreement["Afvigelser"] == []

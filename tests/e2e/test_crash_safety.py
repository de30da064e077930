"""Crash safety with real processes (R8, R11): `indbetaling run` is killed with SIGKILL where the
fagsystem has an answer or a hand-over it has not stored yet (`INDBETALING_CRASH_AT`), and
started again on the same data folder without. After the restart what was under way is finished
by itself, each thing exactly once: one coverage per payment in the debitorsystem, the payment
`ACCEPTERET`, the reversal `UDFOERT`, one posting per event in finance and one pay-back at
NemKonto. Everything is seen over HTTP, as the case worker, staff, finance and the platform's
operators see it.

A slow test (tests/e2e): it runs `indbetaling run` in processes of its own.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from e2e.caseworker import (
    CaseWorker,
    Finance,
    Json,
    Staff,
    bearer,
    bookings,
    half,
    money,
    the_fagsystem,
    wait_until,
)
from e2e.test_run import free_port, sample_of, start, stop, wait_for_demo_json

CLAIMS = "60"
"""Demo claims: enough for the samples, few enough to start in a second or two."""
RESEND_SECONDS = 30
"""After a restart, what is still unanswered is sent again within seconds (CONTRACT §9); this
is the generous bound a busy test machine gets for it."""


@dataclass
class Run:
    """`indbetaling run` on one data folder and port, started as often as the test needs."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self, **env: str) -> Json:
        (self.data_dir / "demo.json").unlink(missing_ok=True)
        self.proc = start(self.data_dir, self.port, INDBETALING_DEMO_CLAIMS=CLAIMS, **env)
        return wait_for_demo_json(self.data_dir, self.proc)

    def start_armed(self, crash_at: str) -> Json:
        """Start with the crash point `crash_at` set. A point of the booking relay would fire
        on the demo's own postings and pay-backs, which a first start delivers before it says
        it is ready; for those the data folder gets its first start without the point."""
        if crash_at.endswith(".delivered") and not (self.data_dir / "demo.json").exists():
            self.start()
            self.stop()
        return self.start(INDBETALING_CRASH_AT=crash_at)

    def killed(self) -> None:
        """It died, by SIGKILL: at its crash point, not of anything else."""
        assert self.proc is not None
        code = self.proc.wait(timeout=60)
        assert code == -signal.SIGKILL, f"indbetaling run ended with {code}, not by SIGKILL"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    the_run = Run(tmp_path / "run", free_port())
    yield the_run
    the_run.stop()


@contextmanager
def client_of(demo: Json) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo["base_url"], timeout=30) as client:
        yield client


def dies_or_answers(call: Callable[[], httpx.Response]) -> httpx.Response | None:
    """The answer of a call to a process that is about to die; None when it died first (on a
    busy machine the case worker's short wait for an answer may end before the crash)."""
    try:
        return call()
    except httpx.TransportError:
        return None


def sends(client: httpx.Client, demo: Json, fagsystem: Json, operation: str) -> Counter[str]:
    """How often the fagsystem called `operation` through the gateway, per TransactionUUID
    (the platform's audit log, its last 1000 calls)."""
    answer = client.get(
        "/serviceplatform/api/v1/audit",
        params={"it_system_id": fagsystem["id"], "limit": "1000"},
        headers=bearer(demo["operator_token"]),
    )
    assert answer.status_code == 200, answer.text
    return Counter(e["transaction_uuid"] for e in answer.json() if e["operation"] == operation)


@dataclass
class Claim:
    """A sample claim of the demo's first authority, paid from the fagsystem that waits for
    its case worker on a reversal order."""

    client: httpx.Client
    demo: Json

    def __post_init__(self) -> None:
        cvr: str = self.demo["authorities"][0]["cvr"]
        self.sample = sample_of(self.demo, cvr, 0)
        self.id = self.sample["fordring_id"]
        self.fagsystem = the_fagsystem(self.demo, cvr, "SAGSBEHANDLER")
        self.worker = CaseWorker(self.client, self.fagsystem, cvr)
        self.staff = Staff(self.client, self.demo, cvr)
        self.finance = Finance(self.client, self.demo)

    def payment_ids(self) -> set[str]:
        return {p["IndbetalingId"] for p in self.worker.payments_of_claim(self.id)}

    def only_new_payment(self, before: set[str]) -> Json:
        """The one payment on the claim that was not there `before`: the case worker's call
        died, so its IndbetalingId is found in the listing."""
        (payment,) = [
            p for p in self.worker.payments_of_claim(self.id) if p["IndbetalingId"] not in before
        ]
        return payment

    def new_payment_coverages(self, before: list[Json]) -> list[tuple[str, Decimal, bool]]:
        """(IndbetalingId, Beloeb, Tilbagefoert) of the claim's coverages by payments that were
        not there `before`, sorted."""
        known = {c["DaekningId"] for c in before}
        return sorted(
            (c["IndbetalingId"], money(c["Beloeb"]), c["Tilbagefoert"])
            for c in self.staff.payment_coverages(self.id)
            if c["DaekningId"] not in known
        )

    def postings(self, reference: str, count: int) -> list[Json]:
        """The postings of `reference` once `count` have reached finance."""
        return wait_until(
            f"{count} postings of {reference}",
            lambda: (found := self.finance.postings(reference)) and len(found) >= count and found,
        )


@pytest.mark.parametrize(
    "crash_at", ["fagsystem.payment.answered", "fagsystem.Oekonomipostering.delivered"]
)
def test_a_payment_is_made_and_booked_once_when_the_process_dies_under_it(
    run: Run, crash_at: str
) -> None:
    """Killed after the debitorsystem accepted the payment and before the fagsystem stored the
    answer, or after finance took its posting and before the outbox knew: after the restart
    the payment is sent again with its TransactionUUID and ends `ACCEPTERET`, with one coverage
    and one posting."""
    demo = run.start_armed(crash_at)
    with client_of(demo) as client:
        claim = Claim(client, demo)
        owed = money(claim.sample["restance"])
        paid = half(owed)
        covered_before = claim.staff.payment_coverages(claim.id)
        paid_before = claim.payment_ids()
        sent_before = sends(client, demo, claim.fagsystem, "ForetagIndbetaling")
        dies_or_answers(lambda: claim.worker.pay_request(claim.id, paid, claim.sample["part_id"]))
    run.killed()

    demo = run.start()
    with client_of(demo) as client:
        claim = Claim(client, demo)
        payment = wait_until(
            "the payment accepted after the restart",
            lambda: (p := claim.only_new_payment(paid_before))["Tilstand"] == "ACCEPTERET" and p,
            seconds=RESEND_SECONDS,
        )
        payment_id = payment["IndbetalingId"]
        assert money(payment["Beloeb"]) == paid
        assert money(payment["Restance"]) == owed - paid
        (posting,) = claim.postings(payment_id, 1)
        assert bookings([posting]) == [("INDBETALING", paid)]
        assert payment["Posteringer"] == [posting["PosteringId"]]
        assert claim.new_payment_coverages(covered_before) == [(payment_id, paid, False)]
        coverages = claim.staff.claim(claim.id)
        assert payment["DaekningId"] in {c["DaekningId"] for c in coverages["Daekninger"]}
        assert coverages["Fordring"]["Restance"] == str(owed - paid)
        calls = sends(client, demo, claim.fagsystem, "ForetagIndbetaling") - sent_before
        assert len(calls) == 1  # one payment, one TransactionUUID
        if crash_at == "fagsystem.payment.answered":  # answered, not stored: sent again
            assert next(iter(calls.values())) >= 2


@pytest.mark.parametrize(
    "crash_at",
    [
        "fagsystem.reversal.answered",
        "fagsystem.repayment.answered",
        "fagsystem.Betalingsanmodning.delivered",
    ],
)
def test_a_reversal_its_new_payment_and_its_pay_back_are_made_once_when_the_process_dies(
    run: Run, crash_at: str
) -> None:
    """The case worker executes a reversal order: reverse, pay part again, pay back the rest.
    Killed after the debitorsystem accepted the reversal, or the new payment, and before the
    fagsystem stored that; or after NemKonto took the pay-back and before the outbox knew.
    After the restart each of them is there once."""
    demo = run.start_armed(crash_at)
    with client_of(demo) as client:
        claim = Claim(client, demo)
        part_id = claim.sample["part_id"]
        owed = money(claim.sample["restance"])
        paid = half(owed)
        covered_before = claim.staff.payment_coverages(claim.id)
        paid_before = claim.payment_ids()
        payments_sent = sends(client, demo, claim.fagsystem, "ForetagIndbetaling")
        reversals_sent = sends(client, demo, claim.fagsystem, "ForetagIndbetalingNedregulering")
        payment = claim.worker.pay(claim.id, paid, part_id)
        assert payment["Tilstand"] == "ACCEPTERET", payment
        payment_id = payment["IndbetalingId"]
        overcovered = half(paid)
        claim.staff.write_down(claim.id, owed - paid + overcovered)
        reversal = wait_until(
            "the reversal order in the fagsystem's list of reversals",
            lambda: claim.worker.reversal_of(payment_id),
        )
        assert (reversal["Kilde"], reversal["Tilstand"]) == ("ORDRE", "AFVENTER")
        reversal_id = reversal["TilbagefoerselId"]
        repay, payback = paid - overcovered, overcovered
        dies_or_answers(lambda: claim.worker.execute_request(reversal_id, repay, payback))
    run.killed()

    demo = run.start()
    with client_of(demo) as client:
        claim = Claim(client, demo)
        done = wait_until(
            "the reversal executed after the restart",
            lambda: (r := claim.worker.reversal(reversal_id))["Tilstand"] == "UDFOERT" and r,
            seconds=RESEND_SECONDS,
        )
        repay_id, payback_id = done["GenindbetalingId"], done["TilbagebetalingId"]
        repaid = wait_until(
            "the new payment accepted after the restart",
            lambda: (p := claim.worker.payment(repay_id))["Tilstand"] == "ACCEPTERET" and p,
            seconds=RESEND_SECONDS,
        )
        assert money(repaid["Beloeb"]) == repay
        assert claim.worker.payment(payment_id)["Tilstand"] == "TILBAGEFOERT"
        assert claim.payment_ids() - paid_before == {payment_id, repay_id}

        # finance: the payment, its reversal and its pay-back; the new payment; once each
        assert bookings(claim.postings(payment_id, 3)) == [
            ("INDBETALING", paid),
            ("TILBAGEBETALING", payback),
            ("TILBAGEFOERSEL", paid),
        ]
        assert bookings(claim.postings(repay_id, 1)) == [("INDBETALING", repay)]
        # NemKonto: one pay-back
        (payout,) = wait_until(
            "the pay-back at NemKonto", lambda: claim.finance.payouts(payment_id)
        )
        assert payout["BetalingsanmodningId"] == payback_id
        assert (payout["PartId"], money(payout["Beloeb"])) == (part_id, payback)
        # the debitorsystem: the payment's coverage reversed once, the new payment's made once
        assert claim.new_payment_coverages(covered_before) == sorted(
            [(payment_id, paid, True), (repay_id, repay, False)]
        )
        # each call went with one TransactionUUID, however often it was sent
        reversals = sends(client, demo, claim.fagsystem, "ForetagIndbetalingNedregulering")
        reversals -= reversals_sent
        payments = sends(client, demo, claim.fagsystem, "ForetagIndbetaling") - payments_sent
        assert (len(reversals), len(payments)) == (1, 2)
        # what was answered but not stored was sent again
        if crash_at == "fagsystem.reversal.answered":
            assert max(reversals.values()) >= 2
        if crash_at == "fagsystem.repayment.answered":
            assert max(payments.values()) >= 2

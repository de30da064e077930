"""The whole system under random histories (issue 9's property): payments by case workers of
both reversal policies (some above the Restance), staff write-downs, annulments and other
coverages, the reversal orders they cause, reversals by hand, and their execution with random
Genindbetal/Tilbagebetal splits.

Every part runs as `indbetaling run` composes it (`app.build`, `demo_setup.ensure_demo`), on a
fresh SQLite data folder and a real uvicorn server on a free port, so the debitorsystem's relay
reaches the fagsystems through the gateway over real HTTP. The test only speaks HTTP, as a
client who read CONTRACT §9 and §10 (it looks into nothing but the fagsystems' outbox, to
know when the booking relay has delivered everything): each example makes its own debitor
account, party and claims through the staff API, so the demo's data stays out of its sums.

After every step the system is left to settle (polled until no reversal order is on its way, no
payment waits for its answer and no executed reversal waits for the debitorsystem), then:

- a claim's Restance is never negative and is max(0, Hovedstol − write-downs − active
  coverages); over-coverage is always answered by open reversal orders, or caused by other
  coverages, which no fagsystem can reverse;
- the debitorsystem's coverages from payments are exactly the fagsystems' accepted payments
  (active) and reversed ones (reversed), amount for amount;
- an executed reversal splits exactly the payment's amount; its new payment is of Genindbetal
  on the same claim and is accepted exactly when the claim still owed that much after the
  reversal, and when it is refused, its amount is paid back with the rest; under AUTOMATISK
  Genindbetal is the smaller of the payment and that Restance;
- money is kept: what the case workers paid equals what still covers the claims plus what was
  paid back (never more than was freed).

At the end of each example, once the booking relays have delivered: one balanced posting per
event in finance (§7) and one NemKonto request per pay-back, and the three-way reconciliation
agrees about every payment of the example.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from indbetaling import app as composition
from indbetaling import composition as wiring
from indbetaling import db
from indbetaling.debitorsystem.relay import RelaySettings
from indbetaling.demo_plan import SAMPLES_PER_AUTHORITY, make_plan
from indbetaling.demo_setup import ensure_demo
from indbetaling.fagsystem import payments_store, sender
from indbetaling.money import format_ore, parse_ore
from indbetaling.settings import PARTS, Settings

SETTLE_SECONDS = 60.0
OPEN_ORDER = {"OPRETTET", "AFSENDT", "MODTAGET", "MANUEL"}
IN_FLIGHT_ORDER = {"OPRETTET", "AFSENDT"}
SETTLEMENT, PAYOUT = "6010", "2950"
"""The chart's debtor settlement and NemKonto payout accounts (CONTRACT §7 defaults)."""


def ore(text: str) -> int:
    return parse_ore(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Fagsystem:
    key: str
    """"S" (SAGSBEHANDLER) or "A" (AUTOMATISK)."""
    id: str
    token: str
    org_unit: str

    def url(self, cvr: str, path: str) -> str:
        return f"/fagsystem/{self.id}/api/v1/myndigheder/{cvr}{path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Whole:
    """The running system and what a client of it knows (from demo.json)."""

    http: httpx.Client
    cvr: str
    staff: dict[str, str]
    finance: dict[str, str]
    fagsystems: dict[str, Fagsystem]
    outbox: Callable[[], list[str]]
    """What the fagsystems' booking relay has yet to deliver (ids of its outbox messages)."""
    examples: int = 0

    def staff_url(self, path: str) -> str:
        return f"/debitorsystem/api/v1/myndigheder/{self.cvr}{path}"


@contextlib.contextmanager
def quick_background_loops() -> Iterator[None]:
    """While the system is built: the debitorsystem's relay looks for reversal orders every
    50 ms and the booking relay for postings every 100 ms (instead of every 5 s and 1 s), so
    that settling takes milliseconds. Nothing else changes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wiring, "RelaySettings", functools.partial(RelaySettings, poll_seconds=0.05))
        patch.setattr(
            sender, "RelayTiming", functools.partial(sender.RelayTiming, sweep_seconds=0.1)
        )
        yield


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Whole]:
    data_dir: Path = tmp_path_factory.mktemp("whole")
    port = free_port()
    urls: dict[str, Any] = {f"{part}_database_url": None for part in PARTS}
    config = Settings(
        data_dir=data_dir,
        port=port,
        demo_claims=SAMPLES_PER_AUTHORITY * 3,  # the smallest demo: 3 authorities
        sqlite_synchronous="NORMAL",
        amqp_url=None,
        **urls,
    )
    with quick_background_loops():
        system = composition.build(config)
    demo = ensure_demo(system)
    server = uvicorn.Server(
        uvicorn.Config(system.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    plan = make_plan(config.demo_seed, config.demo_claims)
    cvr = demo["authorities"][0]["cvr"]
    fagsystems = {}
    for entry in demo["fagsystemer"]:
        if cvr not in entry["authorities"]:
            continue
        key = "S" if entry["reversal_policy"] == "SAGSBEHANDLER" else "A"
        (planned,) = [f for f in plan.fagsystems if str(f.id) == entry["id"]]
        fagsystems.setdefault(
            key,
            Fagsystem(key, entry["id"], entry["caseworker_token"], str(planned.org_units[cvr][0])),
        )
    assert set(fagsystems) == {"S", "A"}, "the demo's first authority has both policies"
    try:
        with httpx.Client(base_url=demo["base_url"], timeout=60) as http:
            yield Whole(
                http=http,
                cvr=cvr,
                staff={"Authorization": f"Bearer {demo['staff_tokens'][cvr]}"},
                finance={"Authorization": f"Bearer {demo['finance_token']}"},
                fagsystems=fagsystems,
                outbox=lambda: undelivered(system.engines["fagsystem"]),
            )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        for engine in system.engines.values():
            engine.dispose()


def undelivered(engine: Engine) -> list[str]:
    with db.read(engine) as conn:
        return [str(m.message_id) for m in payments_store.undelivered(conn, 100)]


# --- what the system says, read over HTTP ---------------------------------------------------


@dataclass
class Snapshot:
    claims: dict[str, dict[str, Any]]
    """The staff's view of each claim (`GET …/fordringer/{id}`) by FordringId."""
    payments: dict[str, dict[str, Any]]
    """Every payment on the claims, of either fagsystem, by IndbetalingId (`_fs`: which)."""
    reversals: dict[str, dict[str, Any]]
    """Every reversal of those payments, by TilbagefoerselId (`_fs`: which)."""

    def unsettled(self) -> list[str]:
        """What is still on its way; empty once the system is at rest."""
        waiting = [
            f"ordre {o['TilbagefoerselsOrdreId']} {o['Tilstand']}"
            for ledger in self.claims.values()
            for o in ledger["TilbagefoerselsOrdrer"]
            if o["Tilstand"] in IN_FLIGHT_ORDER
        ]
        waiting += [
            f"indbetaling {p['IndbetalingId']} AFSENDT"
            for p in self.payments.values()
            if p["Tilstand"] == "AFSENDT"
        ]
        waiting += [
            f"tilbageførsel {r['TilbagefoerselId']} udføres"
            for r in self.reversals.values()
            if r["Tilstand"] == "AFVENTER" and ("Genindbetal" in r or r.get("Automatisk"))
        ]
        return waiting

    def ledger(self, claim: str) -> Ledger:
        return Ledger(self.claims[claim])


@dataclass(frozen=True)
class Ledger:
    """A claim as the staff API shows it, and what follows from it."""

    data: dict[str, Any]

    @property
    def restance(self) -> int:
        """The Restance shown (never negative)."""
        return ore(self.data["Fordring"]["Restance"])

    @property
    def status(self) -> str:
        return str(self.data["Fordring"]["Status"])

    @property
    def owed(self) -> int:
        written = sum(ore(n["Beloeb"]) for n in self.data["Nedreguleringer"])
        return ore(self.data["Fordring"]["Hovedstol"]) - written

    @property
    def active(self) -> list[dict[str, Any]]:
        return [d for d in self.data["Daekninger"] if not d["Tilbagefoert"]]

    @property
    def balance(self) -> int:
        """Hovedstol − write-downs − active coverages: negative when over-covered."""
        return self.owed - sum(ore(d["Beloeb"]) for d in self.active)


# --- one example ------------------------------------------------------------------------------


@dataclass
class Claim:
    id: str
    annulled: bool = False


class History:
    """One example: its claims, and what the test has seen of them (`snap`, the state at
    rest after the last step)."""

    def __init__(self, whole: Whole) -> None:
        self.w = whole
        self.http = whole.http
        self.claims: list[Claim] = []
        self.known_reversals: dict[str, str] = {}
        """TilbagefoerselId → fagsystem key, of reversals made by hand (orders' are found)."""
        self.executed: dict[str, dict[str, Any]] = {}
        self.snap = Snapshot({}, {}, {})
        whole.examples += 1
        self.part_id = f"urn:oio:cvr-nr:{10_000_000 + whole.examples}"
        """The party liable for the example's claims, who pays them."""

    # -- helpers

    def fs(self, key: str) -> Fagsystem:
        return self.w.fagsystems[key]

    def read_claims(self) -> dict[str, dict[str, Any]]:
        claims = {}
        for claim in self.claims:
            url = self.w.staff_url(f"/fordringer/{claim.id}")
            answer = self.http.get(url, headers=self.w.staff)
            assert answer.status_code == 200, answer.text
            claims[claim.id] = answer.json()
        return claims

    def read_fagsystems(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every payment of the example's party (both claims, both fagsystems) and every
        reversal of them; an executed reversal never changes, so it is read once."""
        payments: dict[str, dict[str, Any]] = {}
        reversal_ids = dict(self.known_reversals)
        for fs in self.w.fagsystems.values():
            for p in self.pages(fs, "/indbetalinger", "Indbetalinger", PartId=self.part_id):
                payments[p["IndbetalingId"]] = {**p, "_fs": fs.key}
                if "TilbagefoerselId" in p:
                    reversal_ids[p["TilbagefoerselId"]] = fs.key
        reversals = {}
        for reversal_id, key in reversal_ids.items():
            if reversal_id in self.executed:
                reversals[reversal_id] = self.executed[reversal_id]
                continue
            fs = self.fs(key)
            url = fs.url(self.w.cvr, f"/tilbagefoersler/{reversal_id}")
            answer = self.http.get(url, headers=fs.headers)
            assert answer.status_code == 200, answer.text
            reversals[reversal_id] = {**answer.json(), "_fs": key}
            if reversals[reversal_id]["Tilstand"] == "UDFOERT":
                self.executed[reversal_id] = reversals[reversal_id]
        return payments, reversals

    def pages(self, fs: Fagsystem, path: str, plural: str, **query: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params = dict(query)
        while True:
            answer = self.http.get(fs.url(self.w.cvr, path), headers=fs.headers, params=params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            found += body[plural]
            if "FortsaettelsesNoegle" not in body:
                return found
            params = {**query, "FortsaettelsesNoegle": body["FortsaettelsesNoegle"]}

    def settle(self) -> Snapshot:
        """Poll until nothing is on its way (no sleeping on a guess of how long it takes).

        The parts are read one after the other, so a read might catch the debitorsystem
        before and a fagsystem after a change. Every change the debitorsystem makes on its own
        is a reversal order, seen on its way in the claim until the fagsystem has it; every
        other is a fagsystem's call, whose payment or reversal is seen waiting in the fagsystem
        until answered. So the fagsystems read alike before and after the claims, with nothing
        on its way, are the state at rest."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            payments, reversals = self.read_fagsystems()
            snap = Snapshot(self.read_claims(), payments, reversals)
            waiting = snap.unsettled()
            if not waiting and self.read_fagsystems() == (payments, reversals):
                self.snap = snap
                return snap
            assert time.monotonic() < deadline, f"not settled in {SETTLE_SECONDS} s: {waiting}"
            if waiting:
                time.sleep(0.02)

    def payments_of(self, key: str, *states: str) -> list[dict[str, Any]]:
        return sorted(
            (p for p in self.snap.payments.values() if p["_fs"] == key and p["Tilstand"] in states),
            key=lambda p: str(p["IndbetalingId"]),
        )

    def waiting_reversals(self) -> list[dict[str, Any]]:
        return sorted(
            (r for r in self.snap.reversals.values() if r["Tilstand"] == "AFVENTER"),
            key=lambda r: str(r["TilbagefoerselId"]),
        )

    # -- the claims of this example

    def make_claims(self, data: st.DataObject) -> None:
        """A debitor account with two claims of random principals, the party liable for both."""
        principals = data.draw(
            st.lists(st.integers(1, 500_000), min_size=2, max_size=2), label="Hovedstol (øre)"
        )
        account_type = data.draw(
            st.sampled_from(["KONTO.BORGER", "KONTO.EJENDOM"]), label="DebitorkontoTypeKode"
        )
        account = self.http.post(
            self.w.staff_url("/debitorkonti"),
            headers=self.w.staff,
            json={"DebitorkontoTypeKode": account_type},
        )
        assert account.status_code == 201, account.text
        today = date.today()
        for principal in principals:
            made = self.http.post(
                self.w.staff_url("/fordringer"),
                headers=self.w.staff,
                json={
                    "DebitorkontoId": account.json()["DebitorkontoId"],
                    "KravtypeKode": "KRAV.RENOVATION",
                    "Hovedstol": format_ore(principal),
                    "Forfaldsdato": (today + timedelta(days=20)).isoformat(),
                    "SidsteRettidigeBetalingsdato": (today + timedelta(days=30)).isoformat(),
                    "Haefterkreds": [{"PartId": self.part_id, "HaefterRolle": "PRIMAER"}],
                },
            )
            assert made.status_code == 201, made.text
            self.claims.append(Claim(made.json()["Fordring"]["FordringId"]))
        self.settle()

    # -- case workers

    def pay(self, data: st.DataObject) -> None:
        """A payment by either fagsystem of a random amount, now and then more than the
        Restance."""
        fs = data.draw(st.sampled_from(["S", "A"]), label="fagsystem")
        claim = data.draw(st.sampled_from(self.claims), label="claim")
        before = self.snap.ledger(claim.id)
        r = before.restance
        within = st.integers(1, max(1, r))
        amount = data.draw(
            st.one_of(within, within, within, st.integers(r + 1, r + 100_000)),
            label="Beloeb (øre)",
        )
        system = self.fs(fs)
        answer = self.http.post(
            system.url(self.w.cvr, "/indbetalinger"),
            headers={**system.headers, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "FordringId": claim.id,
                "Beloeb": format_ore(amount),
                "IndbetalerPartId": self.part_id,
                "OrganisationsenhedId": system.org_unit,
            },
        )
        assert answer.status_code == 201, answer.text
        payment_id = answer.json()["IndbetalingId"]
        p = self.settle().payments[payment_id]
        if before.status == "AKTIV" and amount <= r:
            assert p["Tilstand"] == "ACCEPTERET", p
            assert ore(p["Restance"]) == r - amount, p
        elif before.status != "AKTIV":
            assert (p["Tilstand"], p.get("FejlKode")) == ("AFVIST", "FORDRING_IKKE_BETALBAR"), p
        else:  # refused with the Restance as it is, so that a smaller amount can be tried
            assert (p["Tilstand"], p["FejlKode"]) == ("AFVIST", "BELOEB_OVERSTIGER_RESTANCE"), p
            assert ore(p["Restance"]) == r, p

    def reversible(self) -> list[dict[str, Any]]:
        return [
            p
            for key in self.w.fagsystems
            for p in self.payments_of(key, "ACCEPTERET")
            if "TilbagefoerselId" not in p
        ]

    def reverse_by_hand(self, data: st.DataObject) -> None:
        """A case worker puts a reversal of an accepted payment in motion (it waits)."""
        kilde = data.draw(st.sampled_from(["SAGSBEHANDLER", "MANUEL_ADVIS"]), label="Kilde")
        payment = data.draw(st.sampled_from(self.reversible()), label="payment")
        system = self.fs(payment["_fs"])
        refused = self.payments_of(payment["_fs"], "AFVIST")
        if refused:  # only an accepted payment can be reversed
            answer = self.http.post(
                system.url(self.w.cvr, "/tilbagefoersler"),
                headers=system.headers,
                json={"IndbetalingId": refused[0]["IndbetalingId"], "Kilde": kilde},
            )
            assert answer.status_code == 409, answer.text
            assert answer.json()["FejlKode"] == "INDBETALING_IKKE_ACCEPTERET"
        answer = self.http.post(
            system.url(self.w.cvr, "/tilbagefoersler"),
            headers=system.headers,
            json={"IndbetalingId": payment["IndbetalingId"], "Kilde": kilde, "Tekst": "Fejl"},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["Tilstand"], body["Kilde"]) == ("AFVENTER", kilde), body
        self.known_reversals[body["TilbagefoerselId"]] = payment["_fs"]
        self.settle()

    def execute(self, data: st.DataObject) -> None:
        """`udfoer` of a waiting reversal (an order's, or one made by hand) with a random split
        of the payment's amount; a split that does not add up changes nothing."""
        reversal = data.draw(st.sampled_from(self.waiting_reversals()), label="reversal")
        system = self.fs(reversal["_fs"])
        url = system.url(self.w.cvr, f"/tilbagefoersler/{reversal['TilbagefoerselId']}/udfoer")
        amount = ore(reversal["Beloeb"])
        if data.draw(st.booleans(), label="first a split that does not add up"):
            off = data.draw(st.integers(1, 10_000), label="off by (øre)")
            over = data.draw(st.booleans(), label="over (else under)")
            again, back = (amount, off) if over else (max(0, amount - off), 0)
            before = self.snap
            wrong = {"Genindbetal": format_ore(again), "Tilbagebetal": format_ore(back)}
            answer = self.http.post(url, headers=system.headers, json=wrong)
            assert answer.status_code == 422, answer.text
            assert answer.json()["FejlKode"] == "BELOEB_SUM_UGYLDIG"
            assert self.settle() == before
        repay = data.draw(
            st.one_of(st.sampled_from([0, amount]), st.integers(0, amount)),
            label="Genindbetal (øre)",
        )
        payment = self.snap.payments[reversal["IndbetalingId"]]
        after = self.snap.ledger(payment["FordringId"]).balance + amount
        claim = next(c for c in self.claims if c.id == payment["FordringId"])
        split = {"Genindbetal": format_ore(repay), "Tilbagebetal": format_ore(amount - repay)}
        answer = self.http.post(url, headers=system.headers, json=split)
        assert answer.status_code == 200, answer.text
        assert answer.json()["Tilstand"] in {"UDFOERT", "AFVENTER"}, answer.text
        snap = self.settle()
        done = snap.reversals[reversal["TilbagefoerselId"]]
        assert done["Tilstand"] == "UDFOERT", done
        assert ore(done["Restance"]) == max(0, after), (done, after)
        if repay:  # paid again exactly when the claim still owes that much
            again = snap.payments[done["GenindbetalingId"]]
            payable = not claim.annulled and after > 0
            accepted = again["Tilstand"] == "ACCEPTERET"
            assert accepted == (payable and repay <= after), (again, after)
            # a Genindbetal the claim no longer owes is paid back with the rest
            assert ore(done["Tilbagebetal"]) == amount - (repay if accepted else 0), done
            assert done.get("GenindbetalingAfvist", False) is not accepted, done
        # the same again changes nothing (R4); another split is refused
        same = self.http.post(url, headers=system.headers, json=split)
        assert same.status_code == 200, same.text
        other = {"Genindbetal": split["Tilbagebetal"], "Tilbagebetal": split["Genindbetal"]}
        if other != split:
            conflict = self.http.post(url, headers=system.headers, json=other)
            assert conflict.status_code == 409, conflict.text
            assert conflict.json()["FejlKode"] == "TILBAGEFOERSEL_KONFLIKT"
        assert self.settle() == snap

    # -- collections staff

    def staff_change(self, data: st.DataObject) -> None:
        """A write-down, another coverage or an annulment: the first and last may over-cover
        the claim, and the reversal orders they make reach the fagsystems."""
        claim = data.draw(st.sampled_from(self.claims), label="claim")
        change = data.draw(
            st.sampled_from(["write-down"] * 4 + ["other coverage"] * 2 + ["annulment"]),
            label="staff change",
        )
        if change == "write-down":
            self.write_down(claim, data)
        elif change == "other coverage":
            self.other_coverage(claim, data)
        else:
            self.annul(claim)
        self.settle()

    def write_down(self, claim: Claim, data: st.DataObject) -> None:
        ledger = self.snap.ledger(claim.id)
        owed = ledger.owed
        over_covering = st.integers(min(max(1, owed), ledger.restance + 1), max(1, owed))
        amount = data.draw(
            st.one_of(
                st.integers(1, max(1, owed)),
                over_covering,
                over_covering,
                st.integers(owed + 1, owed + 10_000),
            ),
            label="write-down (øre)",
        )
        answer = self.http.post(
            self.w.staff_url(f"/fordringer/{claim.id}/nedreguleringer"),
            headers=self.w.staff,
            json={"Beloeb": format_ore(amount)},
        )
        if claim.annulled:
            assert answer.status_code == 409, answer.text
            assert answer.json()["FejlKode"] == "FORDRING_IKKE_BETALBAR"
        elif amount > owed:
            assert answer.status_code == 422, answer.text
            assert answer.json()["FejlKode"] == "BELOEB_UGYLDIGT"
        else:
            assert answer.status_code == 200, answer.text

    def annul(self, claim: Claim) -> None:
        answer = self.http.post(
            self.w.staff_url(f"/fordringer/{claim.id}/annullering"),
            headers=self.w.staff,
            json={"Tekst": "Annulleret"},
        )
        if claim.annulled:
            assert answer.status_code == 409, answer.text
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()["Fordring"]["Status"] == "ANNULLERET"
            claim.annulled = True

    def other_coverage(self, claim: Claim, data: st.DataObject) -> None:
        balance = self.snap.ledger(claim.id).balance
        amount = data.draw(
            st.one_of(st.integers(1, max(1, balance)), st.integers(max(1, balance + 1), 10**6)),
            label="other coverage (øre)",
        )
        answer = self.http.post(
            self.w.staff_url(f"/fordringer/{claim.id}/daekninger"),
            headers=self.w.staff,
            json={"Beloeb": format_ore(amount)},
        )
        if claim.annulled:
            assert answer.status_code == 409, answer.text
            assert answer.json()["FejlKode"] == "FORDRING_IKKE_BETALBAR"
        elif amount > balance:
            assert answer.status_code == 409, answer.text
            assert answer.json()["FejlKode"] == "BELOEB_OVERSTIGER_RESTANCE"
        else:
            assert answer.status_code == 201, answer.text

    # -- what holds after every step

    def check(self) -> None:
        self.restance_is_never_negative_and_over_coverage_is_answered()
        self.every_order_becomes_its_reversal()
        self.coverages_are_the_fagsystems_payments()
        self.reversals_never_pay_more_than_they_freed()
        self.money_is_kept()

    def restance_is_never_negative_and_over_coverage_is_answered(self) -> None:
        for claim in self.claims:
            ledger = self.snap.ledger(claim.id)
            assert ledger.restance >= 0, ledger.data
            assert ledger.restance == max(0, ledger.balance), ledger.data
            assert (ledger.status == "AKTIV") == (not claim.annulled and ledger.balance > 0)
            orders = ledger.data["TilbagefoerselsOrdrer"]
            if ledger.balance < 0:
                ordered = {o["IndbetalingId"] for o in orders if o["Tilstand"] in OPEN_ORDER}
                answered = sum(
                    ore(d["Beloeb"]) for d in ledger.active if d["IndbetalingId"] in ordered
                )
                others = sum(ore(d["Beloeb"]) for d in ledger.active if d["Kilde"] == "ANDEN")
                assert -ledger.balance - answered <= others, ledger.data

    def every_order_becomes_its_reversal(self) -> None:
        """A reversal order reaches the owner of its payment: while open, as that payment's
        waiting reversal; once done, as its executed reversal; never for manual handling."""
        reversal_of_order = {
            r["TilbagefoerselsOrdreId"]: r
            for r in self.snap.reversals.values()
            if "TilbagefoerselsOrdreId" in r
        }
        for claim in self.claims:
            for order in self.snap.ledger(claim.id).data["TilbagefoerselsOrdrer"]:
                payment = self.snap.payments[order["IndbetalingId"]]
                assert order["FagsystemId"] == self.fs(payment["_fs"]).id, (order, payment)
                assert ore(order["Beloeb"]) == ore(payment["Beloeb"]), (order, payment)
                assert order["Tilstand"] in {"MODTAGET", "UDFOERT"}, order
                reversal = reversal_of_order.get(order["TilbagefoerselsOrdreId"])
                assert reversal is not None, (order, payment)
                assert reversal["IndbetalingId"] == order["IndbetalingId"], (order, reversal)
                assert payment.get("TilbagefoerselId") == reversal["TilbagefoerselId"]
                done = {"MODTAGET": "AFVENTER", "UDFOERT": "UDFOERT"}[order["Tilstand"]]
                assert reversal["Tilstand"] == done, (order, reversal)

    def coverages_are_the_fagsystems_payments(self) -> None:
        for claim in self.claims:
            ledger = self.snap.ledger(claim.id)
            covered = {
                d["IndbetalingId"]: d
                for d in ledger.data["Daekninger"]
                if d["Kilde"] == "INDBETALING"
            }
            payments = {
                pid: p for pid, p in self.snap.payments.items() if p["FordringId"] == claim.id
            }
            assert set(covered) <= set(payments), (covered, payments)
            for pid, p in payments.items():
                if p["Tilstand"] == "AFVIST":
                    assert pid not in covered, (p, covered)
                    continue
                assert pid in covered, (p, ledger.data)
                c = covered[pid]
                assert c["FagsystemId"] == self.fs(p["_fs"]).id
                assert c["DaekningId"] == p["DaekningId"]
                assert ore(c["Beloeb"]) == ore(p["Beloeb"])
                assert c["Tilbagefoert"] == (p["Tilstand"] == "TILBAGEFOERT"), (c, p)
            accepted = sum(
                ore(p["Beloeb"]) for p in payments.values() if p["Tilstand"] == "ACCEPTERET"
            )
            active = sum(ore(d["Beloeb"]) for d in ledger.active if d["Kilde"] == "INDBETALING")
            assert accepted == active

    def reversals_never_pay_more_than_they_freed(self) -> None:
        snap = self.snap
        for r in snap.reversals.values():
            p = snap.payments[r["IndbetalingId"]]
            amount = ore(p["Beloeb"])
            assert ore(r["Beloeb"]) == amount
            assert r["Tilstand"] != "AFVIST", r
            if r["Tilstand"] == "AFVENTER":
                assert p["Tilstand"] == "ACCEPTERET", (r, p)
                continue
            assert p["Tilstand"] == "TILBAGEFOERT", (r, p)
            repay, back = ore(r["Genindbetal"]), ore(r["Tilbagebetal"])
            assert repay >= 0 and back >= 0 and repay + back == amount, r
            assert ("TilbagebetalingId" in r) == (back > 0), r
            if r.get("Automatisk"):
                assert repay == min(amount, ore(r["Restance"])), r
            if "GenindbetalingId" not in r:
                assert repay == 0, r
                continue
            again = snap.payments[r["GenindbetalingId"]]
            assert again["FordringId"] == p["FordringId"]
            assert again["GenindbetalingAfTilbagefoersel"] == r["TilbagefoerselId"]
            if r.get("GenindbetalingAfvist"):  # refused: all of it was paid back
                assert (again["Tilstand"], repay, back) == ("AFVIST", 0, amount), (r, again)
                assert not r.get("Automatisk"), (r, again)
                assert again["FejlKode"] in {
                    "BELOEB_OVERSTIGER_RESTANCE",
                    "FORDRING_IKKE_BETALBAR",
                }, again
            else:  # taken, and maybe reversed itself since
                assert again["Tilstand"] in {"ACCEPTERET", "TILBAGEFOERT"}, (r, again)
                assert ore(again["Beloeb"]) == repay, (r, again)
        for p in snap.payments.values():
            if p["Tilstand"] == "TILBAGEFOERT":
                r = snap.reversals[p["TilbagefoerselId"]]
                assert r["Tilstand"] == "UDFOERT", (p, r)

    def money_is_kept(self) -> None:
        """What the case workers paid (and the debitorsystem took) is still on the claims or was
        paid back: nothing more, nothing less."""
        snap = self.snap
        for key in self.w.fagsystems:
            mine = [p for p in snap.payments.values() if p["_fs"] == key]
            paid = sum(
                ore(p["Beloeb"])
                for p in mine
                if "GenindbetalingAfTilbagefoersel" not in p
                and p["Tilstand"] in {"ACCEPTERET", "TILBAGEFOERT"}
            )
            on_claims = sum(ore(p["Beloeb"]) for p in mine if p["Tilstand"] == "ACCEPTERET")
            executed = [
                r for r in snap.reversals.values() if r["_fs"] == key and r["Tilstand"] == "UDFOERT"
            ]
            paid_back = sum(ore(r["Tilbagebetal"]) for r in executed)
            assert paid == on_claims + paid_back

    # -- at the end: the bookings and the reconciliation

    def finish(self) -> None:
        snap = self.settle()
        self.wait_until_booked()
        for p in snap.payments.values():
            self.check_postings(p)
            self.check_payback(p)
        self.check_reconciliation(snap)

    def wait_until_booked(self) -> None:
        """Until the fagsystems' booking relay has delivered every posting and pay-back of its
        outbox (what finance or NemKonto refuses stays there)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            waiting = self.w.outbox()
            if not waiting:
                return
            assert time.monotonic() < deadline, f"bookings finance never took: {waiting}"
            time.sleep(0.05)

    def expected_bookings(self, p: dict[str, Any]) -> dict[str, int]:
        """One posting per event (CONTRACT §7): the amount each puts on its account."""
        amount = ore(p["Beloeb"])
        if p["Tilstand"] == "ACCEPTERET":
            return {"INDBETALING": amount}
        if p["Tilstand"] != "TILBAGEFOERT":
            return {}
        back = self.paid_back(p)
        events = {"INDBETALING": amount, "TILBAGEFOERSEL": -amount}
        return events | ({"TILBAGEBETALING": back} if back else {})

    def paid_back(self, p: dict[str, Any]) -> int:
        if p["Tilstand"] != "TILBAGEFOERT":
            return 0
        return ore(self.snap.reversals[p["TilbagefoerselId"]]["Tilbagebetal"])

    def check_postings(self, p: dict[str, Any]) -> None:
        """One balanced posting per event of the payment, as the fagsystem lists them."""
        answer = self.http.get(
            "/finance/api/v1/posteringer",
            headers=self.w.finance,
            params={"Reference": p["IndbetalingId"]},
        )
        assert answer.status_code == 200, answer.text
        postings = answer.json()["Posteringer"]
        expected = self.expected_bookings(p)
        assert sorted(b["Posteringstype"] for b in postings) == sorted(expected), (p, postings)
        assert {b["PosteringId"] for b in postings} == set(p["Posteringer"]), (p, postings)
        for b in postings:
            lines = {line["Kontonummer"]: ore(line["Beloeb"]) for line in b["Posteringslinjer"]}
            assert sum(ore(line["Beloeb"]) for line in b["Posteringslinjer"]) == 0, b
            account = PAYOUT if b["Posteringstype"] == "TILBAGEBETALING" else SETTLEMENT
            assert lines[account] == expected[b["Posteringstype"]], (b, expected)

    def check_payback(self, p: dict[str, Any]) -> None:
        """One NemKonto payment request per pay-back, to the party paid for."""
        answer = self.http.get(
            "/nemkonto/api/v1/betalingsanmodninger",
            headers=self.w.finance,
            params={"Reference": p["IndbetalingId"]},
        )
        assert answer.status_code == 200, answer.text
        requests = answer.json()["Betalingsanmodninger"]
        back = self.paid_back(p)
        if not back:
            assert requests == [], (p, requests)
            return
        (request,) = requests
        assert ore(request["Beloeb"]) == back, (p, request)
        assert request["PartId"] == p["IndbetalerPartId"]

    def check_reconciliation(self, snap: Snapshot) -> None:
        answer = self.http.get(
            "/finance/api/v1/afstemning",
            headers=self.w.finance,
            params={"MyndighedCVR": self.w.cvr},
        )
        assert answer.status_code == 200, answer.text
        deviations = [d for d in answer.json()["Afvigelser"] if d["IndbetalingId"] in snap.payments]
        assert deviations == []


STEPS = ["pay"] * 8 + ["staff"] * 5 + ["reverse"] * 2 + ["execute"] * 5
"""How often each kind of step is drawn: payments most, then staff changes and executions."""


@settings(
    max_examples=15,
    deadline=None,
    # each example takes about a second: shrinking one would take minutes, so a failure is
    # reported as found, every draw of it listed by its label
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_histories_keep_the_whole_system_consistent(
    whole: Whole, data: st.DataObject
) -> None:
    history = History(whole)
    history.make_claims(data)
    for _ in range(data.draw(st.integers(10, 20), label="steps")):
        step = data.draw(st.sampled_from(STEPS), label="step")
        if step == "execute" and history.waiting_reversals():
            history.execute(data)
        elif step == "reverse" and history.reversible():
            history.reverse_by_hand(data)
        elif step == "staff":
            history.staff_change(data)
        else:
            history.pay(data)
        history.check()
    history.finish()

"""Synthetic demo data for the debitorsystem: deterministic, realistic, fast to load.

`make_plan` is pure: from a seed it picks the authorities (real municipality names, made-up CVR
numbers of valid form) and the fagsystemer with their sortiment (ORG units per authority). The
composition root hands the same plan to the serviceplatform and the fagsystem, so that their
agreements and ORG units match the debitorsystem's. `generate` then writes the plan's claims in
bulk: accounts, liable parties, claims in every state, payments, other coverages, reversed
payments, write-downs, annulments and executed reversal orders. Same seed, size and `today` give
the same rows, UUIDs included (every UUID is drawn from the seeded generator).

The rows are written with Core `insert()` statements, executemany in batches, one transaction
per batch, not through the per-claim use cases: demo data has no history to announce, so no
outbox messages are written. Every row still respects the ledger's rules: amounts > 0, no
coverage beyond what is owed, every reversed payment has its reversal (and, when a write-down or
annulment caused it, its executed reversal order), one `IndbetalingId` per owner.

Fake CPR numbers: a party id is `urn:oio:cpr-nr:DDMMYYSSSS` with a day of month from 32 to 39.
No CPR number has such a day (substitute numbers add 60 to the day, giving 61–91), so none of
them can belong to a person; month, year and serial are ordinary.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from random import Random
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Connection, Engine, Table, func, select

from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.domain import (
    CoverageSource,
    OrderState,
    ReversalReason,
    WriteDownKind,
)
from indbetaling.fordring import ClaimStatus
from indbetaling.ids import CPR_PREFIX
from indbetaling.money import format_ore

SAMPLES_PER_AUTHORITY = 12
"""Payable claims with one liable party and Restance ≥ 100.00 at the start of each authority."""
DEFAULT_BATCH = 10_000
FAKE_CPR_DAYS = range(32, 40)
"""Days of month a fake CPR number uses; no real CPR number has them."""

MUNICIPALITIES = (
    "Aarhus Kommune",
    "Odense Kommune",
    "Aalborg Kommune",
    "Vejle Kommune",
    "Esbjerg Kommune",
    "Randers Kommune",
    "Viborg Kommune",
    "Horsens Kommune",
    "Holbæk Kommune",
    "Næstved Kommune",
    "Svendborg Kommune",
    "Hjørring Kommune",
)
FAGSYSTEM_NAMES = (
    "Borgerservice Opkrævning",
    "Dagtilbud og Pladsanvisning",
    "Ejendomsskat og Forsyning",
)

# Account types and, per type, its claim types with principal ranges in øre.
ClaimType = tuple[str, int, int, str]
CLAIM_TYPES: Mapping[str, tuple[ClaimType, ...]] = {
    "KONTO.BORGER": (
        ("KRAV.DAGTILBUD", 150_000, 420_000, "Forældrebetaling dagtilbud"),
        ("KRAV.SFO", 100_000, 260_000, "Forældrebetaling SFO"),
        ("KRAV.MADORDNING", 40_000, 90_000, "Frokostordning"),
        ("KRAV.PARKERINGSAFGIFT", 51_000, 79_000, "Parkeringsafgift"),
        ("KRAV.TILBAGEBETALING", 200_000, 2_500_000, "Tilbagebetaling af ydelse"),
        ("KRAV.BIBLIOTEK", 10_000, 60_000, "Erstatning for materialer"),
    ),
    "KONTO.EJENDOM": (
        ("KRAV.EJENDOMSSKAT", 500_000, 3_500_000, "Ejendomsskat, rate"),
        ("KRAV.RENOVATION", 80_000, 450_000, "Renovation"),
        ("KRAV.ROTTEBEKAEMPELSE", 5_000, 30_000, "Rottebekæmpelse"),
    ),
    "KONTO.LAAN": (
        ("KRAV.INDSKUDSLAAN", 30_000, 250_000, "Afdrag på beboerindskudslån"),
        ("KRAV.LAAN_EJENDOMSSKAT", 300_000, 1_200_000, "Lån til betaling af ejendomsskat"),
    ),
}
ACCOUNT_TYPES = tuple(CLAIM_TYPES)
ACCOUNT_TYPE_WEIGHTS = (0.6, 0.3, 0.1)


class Kind(StrEnum):
    """What happened to a demo claim."""

    SAMPLE = "sample"
    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    WRITTEN_DOWN = "written_down"
    ANNULLED = "annulled"


KIND_WEIGHTS: tuple[tuple[Kind, float], ...] = (
    (Kind.OPEN, 0.40),
    (Kind.PARTLY_PAID, 0.20),
    (Kind.PAID, 0.18),
    (Kind.WRITTEN_DOWN, 0.12),
    (Kind.ANNULLED, 0.10),
)


class DemoError(RuntimeError):
    """The demo data cannot be made as asked (e.g. the database already holds data)."""


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAuthority:
    cvr: str
    name: str


@dataclass(frozen=True)
class DemoFagsystem:
    """A fagsystem and its sortiment: the ORG units it pays from, per authority CVR."""

    id: UUID
    name: str
    org_units: Mapping[str, tuple[UUID, ...]]
    accepts_reversal_orders: bool = True

    @property
    def authorities(self) -> tuple[str, ...]:
        return tuple(self.org_units)

    @property
    def all_org_units(self) -> tuple[UUID, ...]:
        return tuple(dict.fromkeys(u for units in self.org_units.values() for u in units))


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    claims: int
    today: date
    authorities: tuple[DemoAuthority, ...]
    fagsystems: tuple[DemoFagsystem, ...]

    def fagsystems_of(self, cvr: str) -> tuple[DemoFagsystem, ...]:
        return tuple(f for f in self.fagsystems if cvr in f.org_units)


def uuid_int(rng: Random) -> int:
    """The integer of `uuid.UUID(int=rng.getrandbits(128), version=4)`, without the object."""
    n = rng.getrandbits(128)
    n &= ~(0xC000 << 48)
    n |= 0x8000 << 48
    n &= ~(0xF000 << 64)
    n |= 4 << 76
    return n


def fake_cvr(rng: Random) -> str:
    """Eight digits that pass the CVR modulus-11 check; made up, not looked up."""
    weights = (2, 7, 6, 5, 4, 3, 2)
    while True:
        digits = [rng.randrange(1, 10), *(rng.randrange(10) for _ in range(6))]
        check = -sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def copenhagen_today() -> date:
    return datetime.now(ZoneInfo("Europe/Copenhagen")).date()


def make_plan(
    seed: int,
    claims: int,
    *,
    today: date | None = None,
    authorities: int = 3,
    fagsystems: Sequence[DemoFagsystem] | None = None,
) -> DemoPlan:
    """The authorities and fagsystemer of a demo dataset; pure (for a given `today`).

    Without `fagsystems`, three are made: the first two both have the first authority, the
    first has every authority. Given ones are used as they are (their CVRs must be the plan's).
    `today` (default: today in Copenhagen) anchors due dates and payment periods.
    """
    if not 2 <= authorities <= len(MUNICIPALITIES):
        raise ValueError(f"authorities must be between 2 and {len(MUNICIPALITIES)}")
    if claims < SAMPLES_PER_AUTHORITY * authorities:
        raise ValueError(f"claims must be at least {SAMPLES_PER_AUTHORITY * authorities}")
    rng = Random(f"indbetaling-demo-plan-{seed}")  # noqa: S311 - reproducible, not secret
    cvrs: list[str] = []
    while len(cvrs) < authorities:
        cvr = fake_cvr(rng)
        if cvr not in cvrs:
            cvrs.append(cvr)
    names = rng.sample(MUNICIPALITIES, authorities)
    auths = tuple(DemoAuthority(c, n) for c, n in zip(cvrs, names, strict=True))
    if fagsystems is None:
        reach = (cvrs, cvrs[:2], cvrs[1:])
        fagsystems = tuple(
            DemoFagsystem(
                id=UUID(int=uuid_int(rng)),
                name=name,
                org_units={
                    c: tuple(UUID(int=uuid_int(rng)) for _ in range(rng.randint(1, 2)))
                    for c in covered
                },
            )
            for name, covered in zip(FAGSYSTEM_NAMES, reach, strict=True)
        )
    unknown = {c for f in fagsystems for c in f.org_units} - set(cvrs)
    if unknown:
        raise ValueError(f"fagsystem sortiment names authorities outside the plan: {unknown}")
    plan = DemoPlan(seed, claims, today or copenhagen_today(), auths, tuple(fagsystems))
    for a in auths:
        if not plan.fagsystems_of(a.cvr):
            raise ValueError(f"no fagsystem has an agreement with {a.cvr}")
    return plan


# --- the result ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleClaim:
    """A payable claim for `demo.json`: one liable party, Restance ≥ 100.00."""

    cvr: str
    claim_id: UUID
    part_id: str
    restance: int

    def as_json(self) -> dict[str, str]:
        return {
            "cvr": self.cvr,
            "fordring_id": str(self.claim_id),
            "part_id": self.part_id,
            "restance": format_ore(self.restance),
        }


@dataclass(frozen=True)
class DemoSummary:
    plan: DemoPlan
    by_status: Mapping[str, int]
    by_kind: Mapping[str, int]
    rows: Mapping[str, int]
    """Rows written per table."""
    elapsed: float
    sample_claims: tuple[SampleClaim, ...]

    @property
    def claims(self) -> int:
        return self.plan.claims

    @property
    def claims_per_second(self) -> float:
        return self.claims / self.elapsed if self.elapsed > 0 else float("inf")

    def demo_json(self) -> dict[str, Any]:
        """The debitorsystem's share of `demo.json` (CONTRACT §8)."""
        return {
            "authorities": [{"cvr": a.cvr, "name": a.name} for a in self.plan.authorities],
            "fagsystemer": [
                {
                    "id": str(f.id),
                    "name": f.name,
                    "authorities": list(f.authorities),
                    "org_units": [str(u) for u in f.all_org_units],
                }
                for f in self.plan.fagsystems
            ],
            "sample_claims": [s.as_json() for s in self.sample_claims],
        }


# --- encoding values the way the tables store them -------------------------------------------


class _Memo(dict[int, Any]):
    def __init__(self, make: Callable[[int], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: int) -> Any:
        value = self.make(key)
        self[key] = value
        return value


class _Encoder:
    """UUIDs arrive as integers, days as offsets from `today`, times as minutes from its start.

    On SQLite they are turned into exactly what the columns' SQLAlchemy types store (through
    those types' own bind processors), so the rows can go to the driver's executemany as they
    are; elsewhere they become Python values for a plain Core executemany.
    """

    def __init__(self, conn: Connection, today: date) -> None:
        self.raw = conn.dialect.name == "sqlite"
        start = datetime(today.year, today.month, today.day, 8, tzinfo=UTC)

        def day(k: int) -> date:
            return today + timedelta(days=k)

        def minute(m: int) -> datetime:
            return start + timedelta(minutes=m)

        if self.raw:
            dialect = conn.dialect
            as_date = store.claims.c.due_date.type.dialect_impl(dialect).bind_processor(dialect)
            as_time = store.claims.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
            assert as_date is not None  # noqa: S101 - SQLite stores dates as text
            assert as_time is not None  # noqa: S101
            self.uuid: Callable[[int], Any] = "{:032x}".format
            self.day = _Memo(lambda k: as_date(day(k)))
            self.time = _Memo(lambda m: as_time(minute(m)))
        else:
            self.uuid = lambda n: UUID(int=n)
            self.day = _Memo(day)
            self.time = _Memo(minute)


# --- generating --------------------------------------------------------------------------------

Row = tuple[Any, ...]

COLUMNS: dict[Table, tuple[str, ...]] = {
    store.accounts: ("id", "authority_cvr", "type_code", "owner_fagsystem_id", "created_at"),
    store.claims: (
        "id",
        "account_id",
        "authority_cvr",
        "claim_type_code",
        "principal_ore",
        "due_date",
        "last_timely_payment_date",
        "payment_period_from",
        "payment_period_to",
        "annulled_at",
        "created_at",
    ),
    store.liable_parties: ("claim_id", "part_id", "role"),
    store.coverages: (
        "id",
        "claim_id",
        "amount_ore",
        "source",
        "owner_id",
        "payment_id",
        "payment_date",
        "payer_part_id",
        "org_unit_id",
        "text",
        "restance_after_ore",
        "created_at",
    ),
    store.write_downs: ("id", "claim_id", "amount_ore", "kind", "text", "created_at"),
    store.reversal_orders: (
        "id",
        "claim_id",
        "coverage_id",
        "payment_id",
        "owner_id",
        "authority_cvr",
        "amount_ore",
        "overcoverage_ore",
        "reason",
        "text",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "updated_at",
    ),
    store.reversals: ("coverage_id", "reason", "order_id", "text", "created_at"),
}
"""Tables in the order a batch is written (parents first)."""

DAY = 1440
PAYMENT = CoverageSource.PAYMENT.value
OTHER = CoverageSource.OTHER.value


@dataclass
class _Account:
    id: Any
    type_code: str
    parties: tuple[str, ...]
    created: int


_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)
SLOT = 15
"""Event times fall on quarter hours (minutes from midnight UTC of `today`)."""


class _Generator:
    """Draws the claims one after another from one seeded stream; batches do not change it.

    Hot path: it draws with `random()` and `getrandbits()` only (the C methods), since the
    Python-level helpers (`randrange`, `choice`) would cost more than writing the rows.
    """

    def __init__(self, plan: DemoPlan, enc: _Encoder) -> None:
        self.plan = plan
        self.enc = enc
        self.rng = Random(f"indbetaling-demo-data-{plan.seed}")  # noqa: S311 - reproducible
        self.cvrs = [a.cvr for a in plan.authorities]
        weights = [len(self.cvrs) - k for k in range(len(self.cvrs))]
        self.auth_cum = _cumulative(weights)
        self.kind_cum = _cumulative([w for _, w in KIND_WEIGHTS])
        self.kinds = [k for k, _ in KIND_WEIGHTS]
        self.acc_cum = _cumulative(ACCOUNT_TYPE_WEIGHTS)
        # Payers per authority: (fagsystem, its ORG units), encoded.
        self.payers = {
            cvr: [
                (enc.uuid(f.id.int), [enc.uuid(u.int) for u in f.org_units[cvr]])
                for f in plan.fagsystems_of(cvr)
            ]
            for cvr in self.cvrs
        }
        self.accounts: dict[str, _Account | None] = dict.fromkeys(self.cvrs)
        # Fake CPR numbers: an affine permutation of 0..M-1 onto day/month/year/serial.
        self.cpr_space = len(FAKE_CPR_DAYS) * 12 * 100 * 10_000
        self.cpr_mul = self._coprime_multiplier()
        self.cpr_add = self.rng.randrange(self.cpr_space)
        self.parties = 0
        self.index = 0
        self.by_status: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.samples: list[SampleClaim] = []
        self.n_samples = SAMPLES_PER_AUTHORITY * len(self.cvrs)
        self.rows: dict[Table, list[Row]] = {t: [] for t in COLUMNS}

    def _coprime_multiplier(self) -> int:
        while True:
            a = self.rng.randrange(1_000_003, self.cpr_space)
            if a % 2 and a % 3 and a % 5:
                return a

    def uuid(self) -> int:
        return (self.rng.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET

    def below(self, n: int) -> int:
        """0 ≤ k < n."""
        return int(self.rng.random() * n)

    def new_cpr(self) -> str:
        if self.parties >= self.cpr_space:
            raise DemoError("too many parties for the fake CPR space")
        j = (self.parties * self.cpr_mul + self.cpr_add) % self.cpr_space
        self.parties += 1
        j, day = divmod(j, len(FAKE_CPR_DAYS))
        j, month = divmod(j, 12)
        serial, year = divmod(j, 100)
        return f"{CPR_PREFIX}{FAKE_CPR_DAYS[day]:02d}{month + 1:02d}{year:02d}{serial:04d}"

    def batch(self, size: int) -> dict[Table, list[Row]]:
        """The next `size` claims (fewer at the end) with their rows, by table."""
        self.rows = {t: [] for t in COLUMNS}
        end = min(self.index + size, self.plan.claims)
        while self.index < end:
            self.claim()
            self.index += 1
        return self.rows

    def account(self, cvr: str, created: int, sample: bool) -> _Account:
        rnd = self.rng.random
        current = self.accounts[cvr]
        if current is not None and not sample and rnd() >= 0.2:
            return current
        type_code = ACCOUNT_TYPES[bisect.bisect(self.acc_cum, rnd())]
        parties: tuple[str, ...] = (self.new_cpr(),)
        if not sample and rnd() < 0.3:
            parties = (*parties, self.new_cpr())
        payers = self.payers[cvr]
        owner = None if rnd() < 0.2 else payers[self.below(len(payers))][0]
        acc = _Account(self.enc.uuid(self.uuid()), type_code, parties, created)
        self.rows[store.accounts].append((acc.id, cvr, type_code, owner, self.enc.time[created]))
        self.accounts[cvr] = acc
        return acc

    def claim(self) -> None:  # noqa: PLR0915
        rnd = self.rng.random
        below = self.below
        i = self.index
        if i < self.n_samples:
            cvr = self.cvrs[i // SAMPLES_PER_AUTHORITY]
            kind = Kind.SAMPLE
        else:
            cvr = self.cvrs[bisect.bisect(self.auth_cum, rnd())]
            kind = self.kinds[bisect.bisect(self.kind_cum, rnd())]
        created_day = -15 - below(525)
        acc = self.account(cvr, created_day * DAY + SLOT * below(40), kind is Kind.SAMPLE)
        types = CLAIM_TYPES[acc.type_code]
        code, lo, hi, text = types[below(len(types))]
        principal = (lo // 100 + below((hi - lo) // 100)) * 100 + 25 * below(4) * (rnd() < 0.3)
        period_from = period_to = None
        day = self.enc.day
        if kind is Kind.SAMPLE:
            principal = max(principal, 15_000)
        elif kind is Kind.OPEN or kind is Kind.PARTLY_PAID:
            r = rnd()
            if r < 0.12:
                period_from, period_to = day[created_day], day[1 + below(180)]
            elif r < 0.17 and kind is Kind.OPEN:
                start = 7 + below(83)
                period_from, period_to = day[start], day[start + 14 + below(106)]
        parties = acc.parties
        if len(parties) == 2 and rnd() >= 0.5:
            parties = parties[:1]
        claim_int = self.uuid()
        c = _Claim(
            self,
            cvr=cvr,
            claim_id=self.enc.uuid(claim_int),
            principal=principal,
            parties=parties,
            text=text,
            created_day=created_day,
        )

        status = ClaimStatus.AKTIV
        if kind is Kind.PARTLY_PAID:
            if rnd() < 0.1:  # a payment made by mistake and reversed by its owner
                c.mistaken_payment(c.part(principal))
            for _ in range(1 + below(3)):
                rest = c.restance
                if rest < 2:
                    break
                c.cover(c.part(rest), rnd() < 0.75)
        elif kind is Kind.PAID:
            for _ in range(below(3)):
                if c.restance < 2:
                    break
                c.cover(c.part(c.restance), rnd() < 0.8)
            c.cover(c.restance, rnd() < 0.85)
            status = ClaimStatus.AFSLUTTET
        elif kind is Kind.WRITTEN_DOWN:
            r = rnd()
            if r < 0.5:
                c.write_down(c.part(principal), WriteDownKind.NEDREGULERING, "Delvis eftergivelse")
            elif r < 0.75:
                c.cover(c.part(principal), True)
                if rnd() < 0.5:
                    c.write_down(c.restance, WriteDownKind.NEDREGULERING, "Restbeløb eftergivet")
                    status = ClaimStatus.AFSLUTTET
                else:
                    c.write_down(
                        c.part(c.restance), WriteDownKind.NEDREGULERING, "Delvis eftergivelse"
                    )
            else:  # paid, then written down below what was paid: the payment is ordered back
                amount = principal - c.part(principal)
                payment = c.cover(amount, True)
                c.write_down(
                    principal - amount + 1 + below(amount - 1),
                    WriteDownKind.NEDREGULERING,
                    "Fejlagtigt opkrævet beløb",
                )
                c.order_back(payment, amount, WriteDownKind.NEDREGULERING)
        elif kind is Kind.ANNULLED:
            r = rnd()
            payment = None
            if r < 0.25:
                payment = c.cover(c.part(principal), True)
            elif r < 0.4:
                c.write_down(c.part(principal), WriteDownKind.NEDREGULERING, "Delvis eftergivelse")
            c.write_down(principal - c.written, WriteDownKind.ANNULLERING, "Fordringen annulleret")
            if payment is not None:
                c.order_back(payment, c.covered, WriteDownKind.ANNULLERING)
            c.t += SLOT
            c.annulled_at = self.enc.time[c.t]
            status = ClaimStatus.ANNULLERET

        rows = self.rows
        due = created_day + 30
        rows[store.claims].append(
            (
                c.id,
                acc.id,
                cvr,
                code,
                principal,
                day[due],
                day[due + 7 * below(3)],
                period_from,
                period_to,
                c.annulled_at,
                self.enc.time[created_day * DAY],
            )
        )
        lps = rows[store.liable_parties]
        lps.append((c.id, parties[0], "PRIMAER"))
        if len(parties) > 1:
            lps.append((c.id, parties[1], "SOLIDARISK"))
            self.by_kind["two_liable_parties"] += 1
        self.by_status[status.value] += 1
        self.by_kind[kind.value] += 1
        if period_from is not None:
            future = period_from > day[0]
            self.by_kind["payment_period_future" if future else "payment_period_open"] += 1
        if kind is Kind.SAMPLE:
            self.samples.append(SampleClaim(cvr, UUID(int=claim_int), parties[0], principal))


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [sum(weights[: k + 1]) / total for k in range(len(weights))]


class _Claim:
    """One claim's ledger while it is drawn: coverages, write-downs, executed reversal orders."""

    def __init__(
        self,
        gen: _Generator,
        *,
        cvr: str,
        claim_id: Any,
        principal: int,
        parties: tuple[str, ...],
        text: str,
        created_day: int,
    ) -> None:
        self.gen = gen
        self.cvr = cvr
        self.id = claim_id
        self.principal = principal
        self.parties = parties
        self.text = text
        self.t = created_day * DAY + SLOT * gen.below(40)
        self.written = 0
        self.covered = 0
        self.annulled_at: Any = None

    @property
    def restance(self) -> int:
        return self.principal - self.written - self.covered

    def part(self, of: int) -> int:
        """Some whole kroner of `of` øre, at least 1 øre and less than `of` (for `of` ≥ 2)."""
        return max(1, min(of - 1, of * (10 + self.gen.below(60)) // 10_000 * 100))

    def later(self) -> int:
        self.t += SLOT * (4 + self.gen.below(280))
        return self.t

    def cover(self, amount: int, by_payment: bool) -> tuple[Any, Any, Any]:
        """A fagsystem's payment (id, owner, IndbetalingId) or another coverage (id only)."""
        gen, enc = self.gen, self.gen.enc
        t = self.later()
        self.covered += amount
        coverage_id = enc.uuid(gen.uuid())
        if by_payment:
            payers = gen.payers[self.cvr]
            owner, units = payers[gen.below(len(payers))]
            payment_id = enc.uuid(gen.uuid())
            row: Row = (
                coverage_id,
                self.id,
                amount,
                PAYMENT,
                owner,
                payment_id,
                enc.day[t // DAY],
                self.parties[gen.below(len(self.parties))],
                units[gen.below(len(units))],
                self.text,
                self.restance,
                enc.time[t],
            )
            gen.rows[store.coverages].append(row)
            return coverage_id, owner, payment_id
        gen.rows[store.coverages].append(
            (
                coverage_id,
                self.id,
                amount,
                OTHER,
                None,
                None,
                None,
                None,
                None,
                "Bankindbetaling",
                self.restance,
                enc.time[t],
            )
        )
        return coverage_id, None, None

    def mistaken_payment(self, amount: int) -> None:
        coverage_id, _, _ = self.cover(amount, True)
        self.covered -= amount
        t = self.later()
        self.gen.rows[store.reversals].append(
            (coverage_id, ReversalReason.FEJLREGISTRERING.value, None, None, self.gen.enc.time[t])
        )

    def write_down(self, amount: int, kind: WriteDownKind, note: str) -> None:
        gen = self.gen
        t = self.later()
        self.written += amount
        gen.rows[store.write_downs].append(
            (gen.enc.uuid(gen.uuid()), self.id, amount, kind.value, note, gen.enc.time[t])
        )

    def order_back(self, payment: tuple[Any, Any, Any], amount: int, reason: WriteDownKind) -> None:
        """R6 done: the over-coverage the write-down made, ordered back and reversed."""
        gen, enc = self.gen, self.gen.enc
        coverage_id, owner, payment_id = payment
        order_id = enc.uuid(gen.uuid())
        ordered = enc.time[self.t]
        done = enc.time[self.later()]
        gen.rows[store.reversal_orders].append(
            (
                order_id,
                self.id,
                coverage_id,
                payment_id,
                owner,
                self.cvr,
                amount,
                -self.restance,
                reason.value,
                None,
                OrderState.UDFOERT.value,
                1,
                None,
                None,
                ordered,
                done,
            )
        )
        self.covered -= amount
        gen.rows[store.reversals].append(
            (coverage_id, ReversalReason.TILBAGEFOERSELSORDRE.value, order_id, None, done)
        )


# --- writing -----------------------------------------------------------------------------------


@contextmanager
def _bulk_load(conn: Connection) -> Iterator[None]:
    """On SQLite, no syncs, foreign keys unchecked and a large cache while loading; restored after.

    The generator makes every reference itself (parents before children in each batch); the
    tests read the data back and check it.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101
    before = {
        name: raw.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("synchronous", "cache_size", "foreign_keys")
    }
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA cache_size=-262144")
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        for name, value in before.items():
            raw.execute(f"PRAGMA {name}={int(value)}")


def _write(
    conn: Connection, enc: _Encoder, batch: dict[Table, list[Row]], counts: Counter[str]
) -> None:
    for table, cols in COLUMNS.items():
        rows = batch[table]
        if not rows:
            continue
        if enc.raw:
            conn.exec_driver_sql(_insert_sql(conn, table), rows)
        else:
            conn.execute(table.insert(), [dict(zip(cols, r, strict=True)) for r in rows])
        counts[table.name] += len(rows)


_SQL: dict[tuple[str, str], str] = {}


def _insert_sql(conn: Connection, table: Table) -> str:
    """The Core insert of the table's demo columns, compiled once for the driver."""
    key = (conn.dialect.name, table.name)
    if key not in _SQL:
        stmt = table.insert().compile(dialect=conn.dialect, column_keys=list(COLUMNS[table]))
        _SQL[key] = str(stmt)
    return _SQL[key]


def _write_parties(conn: Connection, plan: DemoPlan) -> None:
    if conn.execute(select(func.count()).select_from(store.claims)).scalar_one():
        raise DemoError("the database already holds claims; demo data needs an empty one")
    known = set(conn.execute(select(store.authorities.c.cvr)).scalars())
    if known & {a.cvr for a in plan.authorities}:
        raise DemoError("the database already holds the demo authorities")
    conn.execute(
        store.authorities.insert(), [{"cvr": a.cvr, "name": a.name} for a in plan.authorities]
    )
    conn.execute(
        store.fagsystems.insert(),
        [
            {"id": f.id, "name": f.name, "accepts_reversal_orders": int(f.accepts_reversal_orders)}
            for f in plan.fagsystems
        ],
    )
    conn.execute(
        store.assortment.insert(),
        [
            {"fagsystem_id": f.id, "authority_cvr": cvr, "org_unit_id": unit}
            for f in plan.fagsystems
            for cvr, units in f.org_units.items()
            for unit in units
        ],
    )


def generate(
    engine: Engine,
    plan: DemoPlan,
    *,
    progress: bool = False,
    batch_size: int = DEFAULT_BATCH,
    console: Console | None = None,
) -> DemoSummary:
    """Write the plan's demo data into a migrated, empty debitorsystem database."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    bar = Progress(
        TextColumn("[bold]Demodata"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("fordringer"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    with engine.connect() as conn, _bulk_load(conn), bar:
        task = bar.add_task("demo", total=plan.claims)
        with conn.begin():
            _write_parties(conn, plan)
        enc = _Encoder(conn, plan.today)
        gen = _Generator(plan, enc)
        while gen.index < plan.claims:
            batch = gen.batch(batch_size)
            with conn.begin():
                _write(conn, enc, batch, counts)
            bar.update(task, completed=gen.index)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA optimize")
            conn.commit()
    return DemoSummary(
        plan=plan,
        by_status=dict(gen.by_status),
        by_kind=dict(gen.by_kind),
        rows=dict(counts),
        elapsed=time.perf_counter() - started,
        sample_claims=tuple(gen.samples),
    )

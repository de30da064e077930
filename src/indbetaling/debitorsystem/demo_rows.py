"""Drawing the debitorsystem's demo claims: deterministic rows in every state, fast.

From a plan (`indbetaling.demo_plan`) the generator draws accounts, liable parties, claims in
every state, payments, other coverages, reversed payments, write-downs, annulments and executed
reversal orders, as rows in the tables' column order. Same seed, size and `today` give the same
rows, UUIDs included (every UUID is drawn from the seeded generator), however the claims are
batched and whichever process draws them.

Every row respects the ledger's rules: amounts > 0, no coverage beyond what is owed, every
reversed payment has its reversal (and, when a write-down or annulment caused it, its executed
reversal order), one `IndbetalingId` per owner. A claim's Restance and status are the domain's
own rules (`restance_of`, `status_of`) applied to the sums the generator keeps; that the rows
are what the domain's use cases make of the same events is a property test
(tests/debitorsystem/test_demo_rows.py).

Fake CPR numbers: a party id is `urn:oio:cpr-nr:DDMMYYSSSS` with a day of month from 32 to 39.
No CPR number has such a day (substitute numbers add 60 to the day, giving 61–91), so none of
them can belong to a person; month, year and serial are ordinary.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import chain
from random import Random
from typing import Any
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite as sqlite_dialect

from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.domain import (
    CoverageSource,
    OrderState,
    ReversalReason,
    WriteDownKind,
    restance_of,
    status_of,
)
from indbetaling.demo_plan import SAMPLES_PER_AUTHORITY, DemoPlan
from indbetaling.ids import CPR_PREFIX
from indbetaling.money import format_ore

FAKE_CPR_DAYS = range(32, 40)
"""Days of month a fake CPR number uses; no real CPR number has them."""

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
DEMO_TYPES = (*ACCOUNT_TYPES, *(c[0] for types in CLAIM_TYPES.values() for c in types))
"""Every type the demo uses (KLA classes of `indbetaling.kla`): each demo fagsystem's sortiment
names them for each of its authorities."""
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


# --- drawn claims ------------------------------------------------------------------------------


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
    """UUIDs arrive as 32 hex digits, days as offsets from `today`, times as minutes from 08:00.

    For SQLite (`raw`) they are turned into exactly what the columns' SQLAlchemy types store
    (through those types' own bind processors), so the rows can go to the driver's executemany
    as they are; otherwise they become Python values for a plain Core executemany.
    """

    def __init__(self, raw: bool, today: date) -> None:
        self.raw = raw
        start = datetime(today.year, today.month, today.day, 8, tzinfo=UTC)

        def day(k: int) -> date:
            return today + timedelta(days=k)

        def minute(m: int) -> datetime:
            return start + timedelta(minutes=m)

        if raw:
            dialect = sqlite_dialect.dialect()
            as_date = store.claims.c.due_date.type.dialect_impl(dialect).bind_processor(dialect)
            as_time = store.claims.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
            assert as_date is not None  # noqa: S101 - SQLite stores dates as text
            assert as_time is not None  # noqa: S101
            self.uuid: Callable[[str], Any] = str
            self.day = _Memo(lambda k: as_date(day(k)))
            # Few times repeat, so their text is put together from the day's text and the
            # clock's (`as_time` turns a UTC time into the same text; a test holds them equal).
            clock = [as_time(datetime(2000, 1, 1, h, m))[10:] for h in range(24) for m in range(60)]
            offset = 8 * 60
            self.time = _Memo(lambda m: self.day[(m + offset) // DAY] + clock[(m + offset) % DAY])
        else:
            self.uuid = UUID
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

DRAWN_COLUMNS: dict[Table, tuple[str, ...]] = {
    table: (*cols, "party", "joint_party") if table is store.claims else cols
    for table, cols in COLUMNS.items()
    if table is not store.liable_parties
}
"""The columns a batch is drawn with: a claim's row carries its liable parties (the second
only when there are two), which become its `liable_parties` rows as the batch is written."""
PRIMARY = "PRIMAER"
JOINT = "SOLIDARISK"

DAY = 1440
PAYMENT = CoverageSource.PAYMENT.value
OTHER = CoverageSource.OTHER.value
_SAMPLE, _OPEN, _PARTLY_PAID, _PAID, _WRITTEN_DOWN, _ANNULLED = (
    Kind.SAMPLE,
    Kind.OPEN,
    Kind.PARTLY_PAID,
    Kind.PAID,
    Kind.WRITTEN_DOWN,
    Kind.ANNULLED,
)
"""The kinds as plain names: an enum's members are slow to look up on its class (hot path)."""
NEDREGULERING = WriteDownKind.NEDREGULERING.value
ANNULLERING = WriteDownKind.ANNULLERING.value
FEJLREGISTRERING = ReversalReason.FEJLREGISTRERING.value
TILBAGEFOERSELSORDRE = ReversalReason.TILBAGEFOERSELSORDRE.value
UDFOERT = OrderState.UDFOERT.value


@dataclass
class _Account:
    id: Any
    type_code: str
    parties: tuple[str, ...]
    created: int


_VARIANT = {f"{k:x}": "89ab"[k % 4] for k in range(16)}
"""A hex digit onto the digit that carries the RFC 4122 variant (10xx) and two drawn bits."""
SLOT = 15
"""Event times fall on quarter hours (minutes from midnight UTC of `today`)."""
STREAM = 1000
"""Claims per seeded stream. Claim k is drawn from stream k // STREAM, which starts afresh (its
own generator, no accounts carried over), so any batch of claims can be drawn on its own, in any
process, and the rows never depend on how the claims were batched."""
PARTIES_PER_STREAM = 2 * STREAM
"""A stream opens at most one account per claim, with at most two parties each."""
CPR_SPACE = len(FAKE_CPR_DAYS) * 12 * 100 * 10_000
MAX_CLAIMS = CPR_SPACE // PARTIES_PER_STREAM * STREAM
"""So many claims fit in the fake CPR space (each stream has its own share of it)."""


class _Generator:
    """Draws claims from their seeded streams; `batch(start, end)` gives claims start..end-1.

    Ids are v4 UUIDs whose first 32 bits are the claim's number followed by drawn bits, and
    whose other free bits are drawn: every id a claim's rows get sorts after those of the
    claims before it, so the bulk load appends at the end of every id index instead of
    splitting pages all over it, and the ids still look random. The drawn hex digits come from
    the stream in blocks (`randbytes`), which is much cheaper than formatting an integer per id.

    Hot path: it draws with `random()` and `getrandbits()` only (the C methods), since the
    Python-level helpers (`randrange`, `choice`) would cost more than writing the rows.
    """

    def __init__(self, plan: DemoPlan, enc: _Encoder) -> None:
        if plan.claims > MAX_CLAIMS:
            raise DemoError(f"at most {MAX_CLAIMS:,} claims fit in the fake CPR space")
        self.plan = plan
        self.enc = enc
        # A new id as the rows take it (the 32 hex digits themselves on SQLite).
        self.new_id: Callable[[], Any] = self.uuid if enc.raw else lambda: enc.uuid(self.uuid())
        setup = Random(f"indbetaling-demo-data-{plan.seed}")  # noqa: S311 - reproducible
        self.rng = setup
        self.cvrs = [a.cvr for a in plan.authorities]
        weights = [len(self.cvrs) - k for k in range(len(self.cvrs))]
        self.auth_cum = _cumulative(weights)
        self.kind_cum = _cumulative([w for _, w in KIND_WEIGHTS])
        self.kinds = [k for k, _ in KIND_WEIGHTS]
        self.acc_cum = _cumulative(ACCOUNT_TYPE_WEIGHTS)
        # Payers per authority: (fagsystem, its ORG units), encoded.
        self.payers = {
            cvr: [
                (enc.uuid(f.id.hex), [enc.uuid(u.hex) for u in f.org_units[cvr]])
                for f in plan.fagsystems_of(cvr)
            ]
            for cvr in self.cvrs
        }
        self.accounts: dict[str, _Account | None] = dict.fromkeys(self.cvrs)
        # Fake CPR numbers: an affine permutation of 0..M-1 onto day/month/year/serial.
        self.cpr_mul = self._coprime_multiplier(setup)
        self.cpr_add = setup.randrange(CPR_SPACE)
        self.prefix_bits = 32 - plan.claims.bit_length()
        self.prefix = ""
        self.suffix: Callable[[], str] = chain.from_iterable(
            iter(self._suffix_block, None)
        ).__next__
        self.parties = 0
        self.index = 0
        self.n_samples = SAMPLES_PER_AUTHORITY * len(self.cvrs)
        self.by_status: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.samples: list[SampleClaim] = []
        self.rows: dict[Table, list[Row]] = {t: [] for t in DRAWN_COLUMNS}

    @staticmethod
    def _coprime_multiplier(rng: Random) -> int:
        while True:
            a = rng.randrange(1_000_003, CPR_SPACE)
            if a % 2 and a % 3 and a % 5:
                return a

    def _stream(self, index: int) -> None:
        """Start the stream of claim `index` (a multiple of STREAM)."""
        n = index // STREAM
        self.rng = Random(f"indbetaling-demo-data-{self.plan.seed}-{n}")  # noqa: S311
        self.accounts = dict.fromkeys(self.cvrs)
        self.parties = n * PARTIES_PER_STREAM
        self.suffix = chain.from_iterable(iter(self._suffix_block, None)).__next__

    def _clear(self) -> None:
        self.rows = {t: [] for t in DRAWN_COLUMNS}
        self.by_status = Counter()
        self.by_kind = Counter()
        self.samples = []

    def _suffix_block(self) -> list[str]:
        """The last 24 hex digits of the next ids: a block of the stream, version and variant
        set (drawn when the block before is used up, so the ids follow the stream's order)."""
        h = self.rng.randbytes(4096).hex()
        return [
            f"{h[at : at + 4]}4{h[at + 5 : at + 8]}{_VARIANT[h[at + 8]]}{h[at + 9 : at + 24]}"
            for at in range(0, len(h) - 23, 24)
        ]

    def uuid(self) -> str:
        """A v4 UUID as 32 hex digits: the claim's prefix, then drawn digits."""
        return self.prefix + self.suffix()

    def below(self, n: int) -> int:
        """0 ≤ k < n."""
        return int(self.rng.random() * n)

    def new_cpr(self) -> str:
        j = (self.parties * self.cpr_mul + self.cpr_add) % CPR_SPACE
        self.parties += 1
        j, day = divmod(j, len(FAKE_CPR_DAYS))
        j, month = divmod(j, 12)
        serial, year = divmod(j, 100)
        return f"{CPR_PREFIX}{FAKE_CPR_DAYS[day]:02d}{month + 1:02d}{year:02d}{serial:04d}"

    def batch(self, start: int, end: int) -> dict[Table, list[Row]]:
        """Claims start..end-1 with their rows, by table (their stream is replayed up to start)."""
        end = min(end, self.plan.claims)
        self._clear()
        for index in range(start - start % STREAM, end):
            if index % STREAM == 0:
                self._stream(index)
            if index == start:
                self._clear()
            self.index = index
            self.claim()
        return self.rows

    def new_account(self, cvr: str, created: int, sample: bool) -> _Account:
        """The authority's next account (`claim` keeps the current one four times in five)."""
        rnd = self.rng.random
        type_code = ACCOUNT_TYPES[bisect.bisect(self.acc_cum, rnd())]
        parties: tuple[str, ...] = (self.new_cpr(),)
        if not sample and rnd() < 0.3:
            parties = (*parties, self.new_cpr())
        payers = self.payers[cvr]
        owner = None if rnd() < 0.2 else payers[int(rnd() * len(payers))][0]
        acc = _Account(self.new_id(), type_code, parties, created)
        self.rows[store.accounts].append((acc.id, cvr, type_code, owner, self.enc.time[created]))
        self.accounts[cvr] = acc
        return acc

    def claim(self) -> None:  # noqa: PLR0915
        rnd = self.rng.random
        i = self.index
        self.prefix = f"{(i << self.prefix_bits) | self.rng.getrandbits(self.prefix_bits):08x}"
        if i < self.n_samples:
            cvr = self.cvrs[i // SAMPLES_PER_AUTHORITY]
            kind = _SAMPLE
        else:
            cvr = self.cvrs[bisect.bisect(self.auth_cum, rnd())]
            kind = self.kinds[bisect.bisect(self.kind_cum, rnd())]
        created_day = -15 - int(rnd() * 525)
        created = created_day * DAY + SLOT * int(rnd() * 40)
        acc = self.accounts[cvr]
        if acc is None or kind is _SAMPLE or rnd() < 0.2:
            acc = self.new_account(cvr, created, kind is _SAMPLE)
        types = CLAIM_TYPES[acc.type_code]
        code, lo, hi, text = types[int(rnd() * len(types))]
        principal = (lo // 100 + int(rnd() * ((hi - lo) // 100))) * 100
        if rnd() < 0.3:
            principal += 25 * int(rnd() * 4)
        period_from = period_to = None
        day = self.enc.day
        if kind is _SAMPLE:
            principal = max(principal, 15_000)
        elif kind is _OPEN or kind is _PARTLY_PAID:
            r = rnd()
            if r < 0.12:
                period_from, period_to = day[created_day], day[1 + int(rnd() * 180)]
            elif r < 0.17 and kind is _OPEN:
                start = 7 + int(rnd() * 83)
                period_from, period_to = day[start], day[start + 14 + int(rnd() * 106)]
        parties = acc.parties
        if len(parties) == 2 and rnd() >= 0.5:
            parties = parties[:1]
        claim_hex = self.uuid()
        c = _Claim(
            self,
            cvr=cvr,
            claim_id=self.enc.uuid(claim_hex),
            principal=principal,
            parties=parties,
            text=text,
            created_day=created_day,
        )

        if kind is _PARTLY_PAID:
            if rnd() < 0.1:  # a payment made by mistake and reversed by its owner
                c.mistaken_payment(c.part(principal))
            for _ in range(1 + int(rnd() * 3)):
                rest = c.restance()
                if rest < 2:
                    break
                c.cover(c.part(rest), rnd() < 0.75)
        elif kind is _PAID:
            for _ in range(int(rnd() * 3)):
                rest = c.restance()
                if rest < 2:
                    break
                c.cover(c.part(rest), rnd() < 0.8)
            c.cover(c.restance(), rnd() < 0.85)
        elif kind is _WRITTEN_DOWN:
            r = rnd()
            if r < 0.5:
                c.write_down(c.part(principal), NEDREGULERING, "Delvis eftergivelse")
            elif r < 0.75:
                c.cover(c.part(principal), True)
                if rnd() < 0.5:
                    c.write_down(c.restance(), NEDREGULERING, "Restbeløb eftergivet")
                else:
                    c.write_down(c.part(c.restance()), NEDREGULERING, "Delvis eftergivelse")
            else:  # paid, then written down below what was paid: the payment is ordered back
                amount = principal - c.part(principal)
                payment = c.cover(amount, True)
                c.write_down(
                    principal - amount + 1 + int(rnd() * (amount - 1)),
                    NEDREGULERING,
                    "Fejlagtigt opkrævet beløb",
                )
                c.order_back(payment, amount, NEDREGULERING)
        elif kind is _ANNULLED:
            r = rnd()
            payment = None
            if r < 0.25:
                payment = c.cover(c.part(principal), True)
            elif r < 0.4:
                c.write_down(c.part(principal), NEDREGULERING, "Delvis eftergivelse")
            c.write_down(principal - c.written, ANNULLERING, "Fordringen annulleret")
            if payment is not None:
                c.order_back(payment, c.covered, ANNULLERING)
            c.t += SLOT
            c.annulled_at = self.enc.time[c.t]

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
                day[due + 7 * int(rnd() * 3)],
                period_from,
                period_to,
                c.annulled_at,
                self.enc.time[created_day * DAY],
                parties[0],
                parties[1] if len(parties) > 1 else None,
            )
        )
        by_kind = self.by_kind
        if len(parties) > 1:
            by_kind["two_liable_parties"] += 1
        status = status_of(annulled=c.annulled_at is not None, restance=c.restance())
        self.by_status[status.value] += 1
        by_kind[kind] += 1
        if period_from is not None:
            future = period_from > day[0]
            by_kind["payment_period_future" if future else "payment_period_open"] += 1
        if kind is _SAMPLE:
            self.samples.append(SampleClaim(cvr, UUID(claim_hex), parties[0], principal))


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [sum(weights[: k + 1]) / total for k in range(len(weights))]


class _Claim:
    """One claim's ledger while it is drawn: coverages, write-downs, executed reversal orders."""

    __slots__ = (
        "annulled_at",
        "covered",
        "cvr",
        "gen",
        "id",
        "parties",
        "principal",
        "t",
        "text",
        "written",
    )

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
        self.t = created_day * DAY + SLOT * int(gen.rng.random() * 40)
        self.written = 0
        self.covered = 0
        self.annulled_at: Any = None

    def restance(self) -> int:
        return restance_of(self.principal, self.written, self.covered)

    def part(self, of: int) -> int:
        """Some whole kroner of `of` øre, at least 1 øre and less than `of` (for `of` ≥ 2)."""
        return max(1, min(of - 1, of * (10 + int(self.gen.rng.random() * 60)) // 10_000 * 100))

    def later(self) -> int:
        self.t += SLOT * (4 + int(self.gen.rng.random() * 280))
        return self.t

    def cover(self, amount: int, by_payment: bool) -> tuple[Any, Any, Any]:
        """A fagsystem's payment (id, owner, IndbetalingId) or another coverage (id only)."""
        gen = self.gen
        enc = gen.enc
        rnd = gen.rng.random
        t = self.later()
        self.covered += amount
        coverage_id = gen.new_id()
        if by_payment:
            payers = gen.payers[self.cvr]
            owner, units = payers[int(rnd() * len(payers))]
            payment_id = gen.new_id()
            parties = self.parties
            gen.rows[store.coverages].append(
                (
                    coverage_id,
                    self.id,
                    amount,
                    PAYMENT,
                    owner,
                    payment_id,
                    enc.day[t // DAY],
                    parties[int(rnd() * len(parties))],
                    units[int(rnd() * len(units))],
                    self.text,
                    self.restance(),
                    enc.time[t],
                )
            )
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
                self.restance(),
                enc.time[t],
            )
        )
        return coverage_id, None, None

    def mistaken_payment(self, amount: int) -> None:
        coverage_id, _, _ = self.cover(amount, True)
        self.covered -= amount
        t = self.later()
        self.gen.rows[store.reversals].append(
            (coverage_id, FEJLREGISTRERING, None, None, self.gen.enc.time[t])
        )

    def write_down(self, amount: int, kind: str, note: str) -> None:
        gen = self.gen
        t = self.later()
        self.written += amount
        gen.rows[store.write_downs].append(
            (gen.new_id(), self.id, amount, kind, note, gen.enc.time[t])
        )

    def order_back(self, payment: tuple[Any, Any, Any], amount: int, reason: str) -> None:
        """R6 done: the over-coverage the write-down made, ordered back and reversed."""
        gen, enc = self.gen, self.gen.enc
        coverage_id, owner, payment_id = payment
        order_id = gen.new_id()
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
                -self.restance(),
                reason,
                None,
                UDFOERT,
                1,
                None,
                None,
                ordered,
                done,
            )
        )
        self.covered -= amount
        gen.rows[store.reversals].append((coverage_id, TILBAGEFOERSELSORDRE, order_id, None, done))

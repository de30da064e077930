"""The demo plan that every part of a demo installation shares: pure, no database.

From a seed, `make_plan` picks the authorities (real municipality names, made-up CVR numbers of
valid form) and the fagsystemer with their sortiment (ORG units per authority), and says how
many claims the debitorsystem's demo data has and which day they are anchored to. The
composition root hands the same plan to the debitorsystem (which writes the claims), the
serviceplatform and the fagsystem, so that their agreements and ORG units match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from random import Random
from uuid import UUID
from zoneinfo import ZoneInfo

SAMPLES_PER_AUTHORITY = 12
"""Payable claims with one liable party and Restance ≥ 100.00 at the start of each authority."""

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
    reversal_policy: str = "SAGSBEHANDLER"
    """How it meets a reversal order: SAGSBEHANDLER (waits for a case worker) or AUTOMATISK."""

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
    first has every authority; the first waits for a case worker on a reversal order, the
    second executes it at once (CONTRACT §9). Given ones are used as they are (their CVRs must
    be the plan's).
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
        policies = ("SAGSBEHANDLER", "AUTOMATISK", "SAGSBEHANDLER")
        fagsystems = tuple(
            DemoFagsystem(
                id=UUID(int=uuid_int(rng)),
                name=name,
                org_units={
                    c: tuple(UUID(int=uuid_int(rng)) for _ in range(rng.randint(1, 2)))
                    for c in covered
                },
                reversal_policy=policy,
            )
            for name, covered, policy in zip(FAGSYSTEM_NAMES, reach, policies, strict=True)
        )
    unknown = {c for f in fagsystems for c in f.org_units} - set(cvrs)
    if unknown:
        raise ValueError(f"fagsystem sortiment names authorities outside the plan: {unknown}")
    plan = DemoPlan(seed, claims, today or copenhagen_today(), auths, tuple(fagsystems))
    for a in auths:
        if not plan.fagsystems_of(a.cvr):
            raise ValueError(f"no fagsystem has an agreement with {a.cvr}")
    return plan

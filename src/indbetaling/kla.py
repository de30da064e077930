"""The KLA classes the project ships: account types (DEBITORKONTOTYPE) and claim types
(KRAVTYPE) of debtor registrations (seed §1.3, §2.3.3; CONTRACT R10).

Types on the wire (`DebitorkontoTypeKode`, `KravtypeKode`) are classes of the Fælleskommunalt
Klassifikationssystem (KLA). Real classes are maintained by KOMBIT and read from the
Serviceplatform's Klassifikation service, each with a UUID and a user key (BrugervendtNoegle) in a
facet. The project ships a small excerpt (`contracts/kla_klasser.csv`) with keys of its own that
stand in for those user keys; a production debitorsystem would load its facets' classes from KLA
instead. A fagsystem's sortiment (per authority) names which of these classes it may use.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files

LIST_FILE = "kla_klasser.csv"


class Facet(StrEnum):
    ACCOUNT_TYPE = "DEBITORKONTOTYPE"
    CLAIM_TYPE = "KRAVTYPE"


@dataclass(frozen=True)
class KlaClass:
    key: str
    """The class's user key, the code on the wire."""
    facet: Facet
    title: str


@cache
def classes() -> dict[str, KlaClass]:
    """Every shipped class, by key."""
    text = files("indbetaling.contracts").joinpath(LIST_FILE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    found: dict[str, KlaClass] = {}
    for row in csv.DictReader(lines):
        found[row["BrugervendtNoegle"]] = KlaClass(
            row["BrugervendtNoegle"], Facet(row["Facet"]), row["Titel"]
        )
    return found


def is_class(key: str, facet: Facet | None = None) -> bool:
    """Whether `key` is a shipped class (of `facet`, if given)."""
    found = classes().get(key)
    return found is not None and (facet is None or found.facet is facet)


def keys(facet: Facet) -> tuple[str, ...]:
    return tuple(k for k, c in classes().items() if c.facet is facet)

"""The finance ledger's rules (SF1590_A "Afsend økonomipostering", CONTRACT §7): a posting is a
set of signed lines in øre that sum to zero, or it is refused; a `PosteringId` names one posting
forever, so the same posting sent again is the same posting and another one under its id is a
conflict. Pure: no I/O, no framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from indbetaling.money import InvalidAmount, format_ore, parse_ore
from indbetaling.refusal import Refused

MIN_LINES = 2
MAX_LINES = 100


class PostingType(StrEnum):
    """What a posting books (§7): an accepted payment, its reversal, a pay-back."""

    INDBETALING = "INDBETALING"
    TILBAGEFOERSEL = "TILBAGEFOERSEL"
    TILBAGEBETALING = "TILBAGEBETALING"


class FejlKode(StrEnum):
    POSTERING_UBALANCE = "POSTERING_UBALANCE"
    POSTERINGID_KONFLIKT = "POSTERINGID_KONFLIKT"
    BELOEB_UGYLDIGT = "BELOEB_UGYLDIGT"
    UGYLDIG_FORESPOERGSEL = "UGYLDIG_FORESPOERGSEL"


@dataclass(frozen=True)
class Line:
    account: str
    amount: int
    """Signed øre, never 0."""
    text: str


@dataclass(frozen=True)
class Posting:
    id: UUID
    posting_date: date
    authority_cvr: str
    reference: UUID
    """The IndbetalingId the posting is about (of the reversed payment for a reversal or a
    pay-back)."""
    type: PostingType
    lines: tuple[Line, ...]

    def amount_on(self, account: str) -> int:
        """The posting's net amount on `account` (øre, signed)."""
        return sum(line.amount for line in self.lines if line.account == account)


def new_posting(
    *,
    posting_id: UUID,
    posting_date: date,
    authority_cvr: str,
    reference: UUID,
    type: PostingType,
    lines: Iterable[tuple[str, str, str]],
) -> Posting:
    """A posting from the wire's lines (`Kontonummer`, `Beloeb` as signed decimal text,
    `Tekst`); `Refused` when an amount is not a decimal of at most two places, is zero, there
    are fewer than two lines, or the lines do not sum to zero."""
    parsed = tuple(_line(n, *line) for n, line in enumerate(lines, start=1))
    if len(parsed) < MIN_LINES:
        raise Refused(
            FejlKode.UGYLDIG_FORESPOERGSEL,
            f"En postering skal have mindst {MIN_LINES} posteringslinjer, ikke {len(parsed)}",
        )
    if len(parsed) > MAX_LINES:
        raise Refused(
            FejlKode.UGYLDIG_FORESPOERGSEL,
            f"En postering må højst have {MAX_LINES} posteringslinjer",
        )
    check_balance(parsed)
    return Posting(posting_id, posting_date, authority_cvr, reference, type, parsed)


def _line(number: int, account: str, amount: str, text: str) -> Line:
    try:
        ore = parse_ore(amount)
    except InvalidAmount as exc:
        raise Refused(FejlKode.BELOEB_UGYLDIGT, f"Posteringslinje {number}: {exc}") from None
    if ore == 0:
        raise Refused(FejlKode.BELOEB_UGYLDIGT, f"Posteringslinje {number}: beløbet må ikke være 0")
    return Line(account, ore, text)


def check_balance(lines: Sequence[Line]) -> None:
    """`Refused` POSTERING_UBALANCE unless the lines sum to zero."""
    total = sum(line.amount for line in lines)
    if total != 0:
        raise Refused(
            FejlKode.POSTERING_UBALANCE,
            f"Posteringslinjerne summerer til {format_ore(total)}, ikke 0.00",
        )


def check_same(new: Posting, stored: Posting) -> None:
    """`new` came under the id of `stored`: it is the same posting again, or `Refused`
    POSTERINGID_KONFLIKT."""
    if stored != new:
        raise Refused(
            FejlKode.POSTERINGID_KONFLIKT,
            f"PosteringId {new.id} er allerede brugt til en anden postering",
        )

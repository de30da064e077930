"""CPR numbers as people type and read them."""

from __future__ import annotations

import pytest

from indbetaling.ui.cpr import InvalidCpr, cpr_text, masked_cpr, parse_cpr


@pytest.mark.parametrize("typed", ["3306777585", "330677-7585", " 330677 7585 "])
def test_a_typed_cpr_number_is_the_party_urn(typed: str) -> None:
    assert parse_cpr(typed) == "urn:oio:cpr-nr:3306777585"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Skriv et CPR-nummer"),
        ("abc", "10 cifre"),
        ("12345", "10 cifre"),
        ("１２３４５６７８９０", "10 cifre"),
    ],
)
def test_what_is_not_a_cpr_number_is_refused(typed: str, message: str) -> None:
    with pytest.raises(InvalidCpr, match=message):
        parse_cpr(typed)


def test_cpr_is_shown_in_full_or_masked() -> None:
    part = "urn:oio:cpr-nr:3306777585"
    assert cpr_text(part) == "330677-7585"
    assert masked_cpr(part) == "330677-XXXX"
    assert masked_cpr("urn:oio:cvr-nr:12345678") == "urn:oio:cvr-nr:12345678"

"""Credentials of the embedded default: not derivable from the (public) demo seed, stable for a
data folder across restarts, and taken from the settings (environment or files) when given."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from indbetaling.demo_identity import (
    KEY_FILE,
    auditor_token,
    caseworker_token,
    debitorsystem_secret,
    demo_secret,
    finance_token,
    operator_token,
)
from indbetaling.settings import Settings


def test_demo_credentials_are_random_per_data_folder_and_stable_in_it(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one", demo_seed=1590)
    other = Settings(data_dir=tmp_path / "other", demo_seed=1590)
    assert operator_token(one) != operator_token(other)
    assert debitorsystem_secret(one) != debitorsystem_secret(other)
    assert demo_secret(one, "x") != demo_secret(other, "x")
    again = Settings(data_dir=tmp_path / "one", demo_seed=1590)
    assert operator_token(again) == operator_token(one)
    assert demo_secret(again, "x") == demo_secret(one, "x") != demo_secret(one, "y")
    mode = stat.S_IMODE((tmp_path / "one" / KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_settings_name_the_operator_token_and_the_debitorsystem_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "operator-token"
    token_file.write_text("  from-a-file\n")
    monkeypatch.setenv("INDBETALING_OPERATOR_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("INDBETALING_DEBITORSYSTEM_CLIENT_SECRET", "from-the-environment")
    settings = Settings(data_dir=tmp_path)
    assert operator_token(settings) == "from-a-file"
    assert debitorsystem_secret(settings) == "from-the-environment"
    assert "from-the-environment" not in repr(settings)
    token_file.write_text("")
    with pytest.raises(ValueError, match="empty"):
        operator_token(Settings(data_dir=tmp_path))


def test_settings_name_the_finance_and_auditor_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = Settings(data_dir=tmp_path)
    made = {finance_token(demo), auditor_token(demo), operator_token(demo)}
    assert len(made) == 3  # every role its own demo token
    assert finance_token(Settings(data_dir=tmp_path)) == finance_token(demo)
    fagsystem_a, fagsystem_b = uuid.uuid4(), uuid.uuid4()
    assert caseworker_token(demo, fagsystem_a) != caseworker_token(demo, fagsystem_b)
    assert caseworker_token(demo, fagsystem_a) not in made
    token_file = tmp_path / "auditor-token"
    token_file.write_text("revisor-fra-fil\n")
    monkeypatch.setenv("INDBETALING_DEBITORSYSTEM_AUDITOR_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("INDBETALING_FINANCE_TOKEN", "finans-fra-miljoeet")
    settings = Settings(data_dir=tmp_path)
    assert auditor_token(settings) == "revisor-fra-fil"
    assert finance_token(settings) == "finans-fra-miljoeet"
    assert "finans-fra-miljoeet" not in repr(settings)

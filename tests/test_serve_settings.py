"""`indbetaling serve PART` checks, before any worker starts, what the part needs: the settings
that name the others and its secrets, and the hosted fagsystems' file; each refusal names the
setting or file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indbetaling.composition import MissingSetting, load_fagsystems
from indbetaling.db import make_engine, migrate
from indbetaling.production import prepare
from indbetaling.settings import Settings, stored_part


def migrated(tmp_path: Path, part: str) -> Settings:
    stored = stored_part(part)  # type: ignore[arg-type]
    url = f"sqlite:///{tmp_path / stored}.sqlite"
    engine = make_engine(url)
    migrate(engine, stored)
    engine.dispose()
    return Settings(_env_file=None, data_dir=tmp_path, **{f"{stored}_database_url": url})  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ("debitorsystem", "INDBETALING_GATEWAY_URL"),
        ("fagsystem", "INDBETALING_GATEWAY_URL"),
        ("finance", "INDBETALING_DEBITORSYSTEM_URL"),
        ("nemkonto", "INDBETALING_FINANCE_TOKEN"),
    ],
)
def test_a_missing_setting_is_named(tmp_path: Path, part: str, named: str) -> None:
    with pytest.raises(MissingSetting, match=named):
        prepare(part, migrated(tmp_path, part))  # type: ignore[arg-type]


def test_the_gateway_needs_only_its_database(tmp_path: Path) -> None:
    env = prepare("gateway", migrated(tmp_path, "gateway"))
    assert env["INDBETALING_SERVE_PART"] == "gateway"


def fagsystems_file(tmp_path: Path, entry: dict[str, object]) -> Path:
    path = tmp_path / "fagsystems.json"
    path.write_text(json.dumps({"fagsystemer": [entry]}))
    return path


ENTRY = {
    "id": "0b6f3b8e-7d1c-4e7a-9d37-6b1f1f9a2c11",
    "client_id": "fagsystem-1",
    "client_secret": "s",
    "caseworker_token": "t",
    "push_secret_file": "push",
    "org_units": {"29189846": ["6a1f3c8e-2d1c-4e7a-9d37-6b1f1f9a2c12"]},
}


def test_the_fagsystems_file_reads_secrets_from_files_beside_it(tmp_path: Path) -> None:
    (tmp_path / "push").write_text("whsec_c2VjcmV0\n")
    (hosted,) = load_fagsystems(fagsystems_file(tmp_path, ENTRY))
    assert hosted.push_secret == "whsec_c2VjcmV0"
    assert hosted.authorities == ("29189846",)
    assert hosted.reversal_policy.value == "SAGSBEHANDLER"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({}, "push"),  # the push secret's file is missing
        ({"push_secret": "x"}, "exactly one of push_secret"),
        ({"org_units": {"123": []}}, "not a CVR"),
        ({"reversal_policy": "ALTID"}, "reversal_policy"),
    ],
)
def test_a_bad_fagsystems_file_is_named(
    tmp_path: Path, change: dict[str, object], said: str
) -> None:
    with pytest.raises(MissingSetting, match=said):
        load_fagsystems(fagsystems_file(tmp_path, {**ENTRY, **change}))

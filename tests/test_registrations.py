"""The registrations file, applied by each part's operator command to its own database: the
gateway's it-systems, endpoints, agreements and routes; the debitorsystem's authorities and
fagsystems with their sortiment; the Beskedfordeler's publishers and mailboxes. Applying twice
changes nothing more; a bad file changes nothing and says why."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler import store as bf_store
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler, mailboxes_of
from indbetaling.cli import app
from indbetaling.contracts import DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID
from indbetaling.db import make_engine, migrate, read
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.serviceplatform import KNOWN_ENTITY_IDS
from indbetaling.serviceplatform.domain import Role
from indbetaling.serviceplatform.service import Serviceplatform

CVR = "29189846"
DEBITOR = uuid.uuid4()
FAGSYSTEM = uuid.uuid4()
BESKEDFORDELER = uuid.uuid4()
MAILBOX = uuid.uuid4()
UNIT = uuid.uuid4()


def registrations() -> dict[str, Any]:
    return {
        "gateway": {
            "it_systems": [
                {
                    "id": str(DEBITOR),
                    "name": "Debitorsystem",
                    "client_id": "debitorsystem",
                    "client_secret_file": "secrets/debitor",
                    "endpoints": [
                        {
                            "service": "DebitorIndbetalingAfsend",
                            "soap_url": "http://d/debitorsystem/service/OIR/DebitorIndbetalingAfsend/1",
                            "rest_url": "http://d/debitorsystem/api/v1/debitorindbetaling",
                        }
                    ],
                    "agreements": [
                        {"cvr": CVR, "service": "DebitorIndbetalingAfsend", "role": "provider"}
                    ],
                },
                {
                    "id": str(FAGSYSTEM),
                    "name": "Fagsystem",
                    "client_id": "fagsystem",
                    "client_secret": "hemmelig",
                    "agreements": [
                        {"cvr": CVR, "service": DEBITOR_INDBETALING_ENTITY_ID, "role": "consumer"},
                        {
                            "cvr": CVR,
                            "service": "IndbetalingTilbagefoerOrdreAfsend",
                            "role": "provider",
                        },
                    ],
                },
            ],
            "routes": [
                {"cvr": CVR, "service": "DebitorIndbetalingAfsend", "provider": str(DEBITOR)}
            ],
        },
        "debitorsystem": {
            "authorities": [{"cvr": CVR, "name": "Andeby"}],
            "fagsystems": [
                {
                    "id": str(FAGSYSTEM),
                    "name": "Fagsystem",
                    "sortiment": {CVR: {"org_units": [str(UNIT)], "types": ["KRAV.DAGTILBUD"]}},
                }
            ],
        },
        "beskedfordeler": {
            "publishers": [
                {"it_system": str(DEBITOR), "message_types": ["FordringTilIndbetaling"]}
            ],
            "mailboxes": [
                {
                    "id": str(MAILBOX),
                    "subscriber": str(FAGSYSTEM),
                    "push_url": "http://f/beskeder",
                    "push_secret": "whsec_c2VjcmV0",
                    "subscriptions": [{"message_type": "FordringTilIndbetaling", "cvr": CVR}],
                }
            ],
        },
    }


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    (tmp_path / "secrets").mkdir(exist_ok=True)
    (tmp_path / "secrets" / "debitor").write_text("debitor-hemmelighed\n")
    path = tmp_path / "registrations.json"
    path.write_text(json.dumps(data))
    return path


def database(tmp_path: Path, part: str) -> str:
    url = f"sqlite:///{tmp_path / part}.sqlite"
    engine = make_engine(url)
    migrate(engine, part)
    engine.dispose()
    return url


def register(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_each_part_applies_its_section_and_again_changes_nothing(tmp_path: Path) -> None:
    file = str(write(tmp_path, registrations()))
    gateway = database(tmp_path, "serviceplatform")
    debitor = database(tmp_path, "debitorsystem")
    bf_url = database(tmp_path, "beskedfordeler")
    for _ in range(2):
        register("gateway", "register", "--file", file, "--database-url", gateway)
        register("debitorsystem", "register", "--file", file, "--database-url", debitor)
        register("beskedfordeler", "register", "--file", file, "--database-url", bf_url)

    platform = Serviceplatform(make_engine(gateway), KNOWN_ENTITY_IDS)
    route = platform.provider_for_authority(CVR, DEBITOR_INDBETALING_ENTITY_ID)
    assert route is not None
    assert route.it_system_id == DEBITOR
    assert route.rest_url == "http://d/debitorsystem/api/v1/debitorindbetaling"
    assert platform.has_agreement(FAGSYSTEM, CVR, DEBITOR_INDBETALING_ENTITY_ID, Role.CONSUMER)
    assert platform.has_agreement(FAGSYSTEM, CVR, TILBAGEFOER_ORDRE_ENTITY_ID, Role.PROVIDER)
    scope = f"entityid:{DEBITOR_INDBETALING_ENTITY_ID},anvenderkontekst:{CVR}"
    token = platform.issue_token(
        {
            "grant_type": "client_credentials",
            "client_id": "fagsystem",
            "client_secret": "hemmelig",
            "scope": scope,
        },
        "http://gateway/sts/token",
    )
    assert token["access_token"]

    service = DebitorService(make_engine(debitor), system_id=DEBITOR)
    assert service.has_authority(CVR)
    assert service.assortment(CVR, FAGSYSTEM) == ([UNIT], ["KRAV.DAGTILBUD"])

    bf = Beskedfordeler(make_engine(bf_url))
    (mailbox,) = mailboxes_of(bf, str(FAGSYSTEM))
    assert mailbox.mailbox_id == str(MAILBOX)
    assert mailbox.push_url == "http://f/beskeder"
    with read(bf.engine) as conn:
        (subscription,) = bf_store.subscriptions_of(conn, str(MAILBOX))
        assert bf_store.may_publish(conn, str(DEBITOR), BESKEDTYPE_FORDRING_TIL_INDBETALING)
    assert subscription.filter == Filter(
        message_type=BESKEDTYPE_FORDRING_TIL_INDBETALING, authority_cvr=CVR
    )


def refused(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda r: r["gateway"]["routes"][0].update(service="Ukendt"), "unknown service"),
        (lambda r: r["gateway"]["routes"][0].update(cvr="123"), "otte cifre"),
        (lambda r: r["gateway"]["it_systems"][0].update(client_secret="x"), "not both"),
        (lambda r: r.pop("gateway"), "no section 'gateway'"),
    ],
)
def test_a_bad_gateway_section_changes_nothing(tmp_path: Path, change: Any, said: str) -> None:
    data = registrations()
    change(data)
    file = str(write(tmp_path, data))
    gateway = database(tmp_path, "serviceplatform")
    assert said in refused("gateway", "register", "--file", file, "--database-url", gateway)
    platform = Serviceplatform(make_engine(gateway), KNOWN_ENTITY_IDS)
    assert platform.endpoint_of(DEBITOR, DEBITOR_INDBETALING_ENTITY_ID) is None


def test_an_unknown_kla_class_and_an_unmigrated_database_are_refused(tmp_path: Path) -> None:
    data = registrations()
    data["debitorsystem"]["fagsystems"][0]["sortiment"][CVR]["types"] = ["KRAV.FINDES_IKKE"]
    file = str(write(tmp_path, data))
    debitor = database(tmp_path, "debitorsystem")
    said = refused("debitorsystem", "register", "--file", file, "--database-url", debitor)
    assert "KRAV.FINDES_IKKE" in said
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    said = refused("beskedfordeler", "register", "--file", file, "--database-url", empty)
    assert "no schema" in said


def test_staff_tokens_are_issued_for_known_authorities(tmp_path: Path) -> None:
    file = str(write(tmp_path, registrations()))
    debitor = database(tmp_path, "debitorsystem")
    assert "keeps no authority" in refused(
        "debitorsystem", "staff-token", CVR, "Opkrævningen", "--database-url", debitor
    )
    register("debitorsystem", "register", "--file", file, "--database-url", debitor)
    token = register(
        "debitorsystem", "staff-token", CVR, "Opkrævningen", "--database-url", debitor
    ).strip()
    service = DebitorService(make_engine(debitor), system_id=DEBITOR)
    assert service.staff_authority(token) == CVR
    assert service.staff_name(token) == "Opkrævningen"

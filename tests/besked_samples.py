"""Claims and envelopes for the message tests (synthetic CPR numbers only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine

from indbetaling.besked import ObjectAction, build_envelope
from indbetaling.db import write
from indbetaling.debitorsystem import store as debitor_store
from indbetaling.debitorsystem.service import MESSAGE_TOPIC
from indbetaling.fordring import ClaimStatus, ClaimView, LiableParty, view_to_json
from indbetaling.idempotency import canonical_json

KOMBIT_SAMPLES = Path(__file__).resolve().parent / "kombit_examples"
RESTDELIVERY_MESSAGE = (
    KOMBIT_SAMPLES
    / "restdelivery-example-app"
    / "src"
    / "main"
    / "resources"
    / "test"
    / "message.xml"
)
EXTERN_TEST_BESKED = (
    KOMBIT_SAMPLES
    / "bf-client-example-app"
    / "src"
    / "main"
    / "resources"
    / "example_messages"
    / "externTestBesked.xml"
)
VAERDILISTE_EXAMPLES = EXTERN_TEST_BESKED.parent

SOURCE_SYSTEM = uuid.UUID("5f1e0c8a-0000-4000-8000-000000000001")


def claim(
    *parties: str,
    cvr: str = "12345678",
    restance: int = 123450,
    status: ClaimStatus = ClaimStatus.AKTIV,
) -> ClaimView:
    return ClaimView(
        claim_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        authority_cvr=cvr,
        account_type_code="BORGER",
        claim_type_code="DAGINST",
        principal=max(restance, 150000),
        restance=restance,
        due_date=date(2025, 1, 1),
        last_timely_payment_date=date(2025, 1, 15),
        payment_period_from=date(2025, 1, 1),
        payment_period_to=None,
        liable_parties=tuple(LiableParty(p, "PRIMAER") for p in parties)
        or (LiableParty("urn:oio:cpr-nr:0101800001", "PRIMAER"),),
        status=status,
    )


def envelope(
    view: ClaimView, action: ObjectAction = ObjectAction.OPRETTET
) -> tuple[uuid.UUID, bytes]:
    transaction = uuid.uuid4()
    return transaction, build_envelope(
        view, action=action, transaction_id=transaction, source_system=SOURCE_SYSTEM
    )


def outbox_payload(
    view: ClaimView,
    action: ObjectAction = ObjectAction.OPRETTET,
    *,
    besked_id: uuid.UUID | None = None,
) -> tuple[str, bytes]:
    """(BeskedId, payload) of a debitorsystem outbox message, in the shape it writes them."""
    message_id = besked_id or uuid.uuid4()
    payload = {
        "BeskedId": str(message_id),
        "TransaktionsId": str(uuid.uuid4()),
        "ObjektHandling": action.value,
        "Dannelsestidspunkt": datetime(2026, 11, 26, 10, tzinfo=UTC).isoformat(),
        "Kildesystem": str(SOURCE_SYSTEM),
        "FordringTilIndbetaling": view_to_json(view),
    }
    return str(message_id), canonical_json(payload)


def fill_outbox(engine: Engine, views: Iterable[ClaimView]) -> list[str]:
    """Write one Oprettet message per claim to the debitorsystem's outbox; their BeskedIds."""
    rows = []
    for view in views:
        besked_id, payload = outbox_payload(view)
        rows.append(
            {
                "message_id": besked_id,
                "topic": MESSAGE_TOPIC,
                "payload": payload,
                "created_at": datetime.now(UTC),
                "attempts": 0,
            }
        )
    with write(engine) as conn:
        conn.execute(debitor_store.outbox.insert(), rows)
    return [str(r["message_id"]) for r in rows]

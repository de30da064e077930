"""A debitorsystem with one authority, two fagsystems and a claim factory, on either backend."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from indbetaling import kla
from indbetaling.debitorsystem.service import DebitorService, NewClaim, PaymentRequest
from indbetaling.fordring import LiableParty

CVR = "29189846"
OTHER_CVR = "55133018"
PART = "urn:oio:cpr-nr:0101801234"
CO_PART = "urn:oio:cpr-nr:0202802345"
STRANGER = "urn:oio:cpr-nr:0303803456"


@dataclass
class World:
    service: DebitorService
    fagsystem: UUID
    other_fagsystem: UUID
    org_unit: UUID
    other_org_unit: UUID
    account: UUID
    other_account: UUID
    clock: list[datetime] = field(default_factory=lambda: [datetime(2026, 11, 26, 10, tzinfo=UTC)])
    keys: itertools.count[int] = field(default_factory=itertools.count)

    def claim(self, principal: int = 100_000, cvr: str = CVR, **kw: Any) -> UUID:
        account = self.account if cvr == CVR else self.other_account
        new = NewClaim(
            account_id=account,
            claim_type_code=kw.pop("claim_type_code", "KRAV.DAGTILBUD"),
            principal=principal,
            due_date=date(2026, 12, 1),
            last_timely_payment_date=date(2026, 12, 10),
            liable_parties=kw.pop(
                "parties", (LiableParty(PART, "PRIMAER"), LiableParty(CO_PART, "SOLIDARISK"))
            ),
            **kw,
        )
        return self.service.create_claim(cvr, new).claim.id

    def pay(
        self,
        claim_id: UUID,
        amount: str,
        *,
        payment_id: UUID | None = None,
        fagsystem: UUID | None = None,
        key: str | None = None,
        payer: str = PART,
        org_unit: UUID | None = None,
        cvr: str = CVR,
    ) -> dict[str, Any]:
        request = PaymentRequest(
            payment_id=payment_id or uuid.uuid4(),
            claim_id=claim_id,
            amount=amount,
            payment_date=date(2026, 11, 26),
            payer_part_id=payer,
            org_unit_id=org_unit or self.org_unit,
            text="Betaling af daginstitution",
        )
        raw = self.service.pay(fagsystem or self.fagsystem, cvr, key or str(uuid.uuid4()), request)
        result: dict[str, Any] = json.loads(raw)
        return result


def code(answer: dict[str, Any]) -> str:
    receipt = answer["Forretningskvittering"]
    if receipt["ForretningsValideringsKode"] == "ACCEPTERET":
        return "ACCEPTERET"
    return str(receipt["FejlListe"]["Fejl"][0]["FejlKode"])


WorldFactory = Callable[[str], World]


@pytest.fixture
def make_world(part_engine: Callable[[str, str], Any]) -> WorldFactory:
    def factory(backend: str) -> World:
        engine = part_engine("debitorsystem", backend)
        clock = [datetime(2026, 11, 26, 10, tzinfo=UTC)]
        service = DebitorService(engine, system_id=uuid.uuid4(), clock=lambda: clock[0])
        service.create_authority(CVR, "Testrup Kommune")
        service.create_authority(OTHER_CVR, "Andeby Kommune")
        fagsystem, other = uuid.uuid4(), uuid.uuid4()
        org_unit, other_unit = uuid.uuid4(), uuid.uuid4()
        every_type = list(kla.classes())  # both may use every shipped KLA class
        service.register_fagsystem(
            fagsystem, "Økonomisk Forvaltning", {CVR: [org_unit]}, types={CVR: every_type}
        )
        service.register_fagsystem(
            other,
            "Borgerservice",
            {CVR: [other_unit], OTHER_CVR: [other_unit]},
            types={CVR: every_type, OTHER_CVR: every_type},
        )
        account = service.create_account(CVR, "KONTO.BORGER")
        other_account = service.create_account(OTHER_CVR, "KONTO.BORGER")
        return World(service, fagsystem, other, org_unit, other_unit, account, other_account, clock)

    return factory


@pytest.fixture
def world(make_world: WorldFactory, backend: str) -> World:
    return make_world(backend)

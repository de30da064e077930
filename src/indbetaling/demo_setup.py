"""The demo of the embedded default: the dataset made on first start, the demo it-systems
registered with the platform, their subscriptions, and `demo.json` (CONTRACT §8).

Ids are derived from the seed and credentials from the data folder's key (`demo_identity`),
so `demo.json` stays valid across restarts.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import (
    create_mailbox,
    grant_publish,
    mailboxes_of,
    subscribe,
)
from indbetaling.contracts import (
    BESKEDFORDELER_ENTITY_ID,
    DEBITOR_INDBETALING_ENTITY_ID,
    TILBAGEFOER_ORDRE_ENTITY_ID,
)
from indbetaling.debitorsystem import demo
from indbetaling.demo_adoption import adopt_demo_payments
from indbetaling.demo_identity import (
    auditor_token,
    caseworker_token,
    debitorsystem_secret,
    demo_secret,
    demo_uuid,
    fagsystem_client_id,
    finance_token,
    operator_token,
    push_secret,
)
from indbetaling.demo_plan import DemoPlan, make_plan
from indbetaling.demo_users import web_users_json
from indbetaling.serviceplatform import registrations as gateway_registrations
from indbetaling.serviceplatform.api import DEBITOR_PATH, TILBAGEFOER_PATH
from indbetaling.serviceplatform.registrations import (
    AgreementIn,
    EndpointIn,
    GatewayRegistrations,
    ItSystemIn,
    RouteIn,
)
from indbetaling.settings import Settings

if TYPE_CHECKING:
    from indbetaling.app import System


def ensure_demo(system: System, *, progress: bool = False) -> dict[str, Any]:
    """Make the demo dataset on first start (an empty debitorsystem), its payments taken over
    by their fagsystems; return demo.json's data."""
    settings = system.settings
    plan = make_plan(settings.demo_seed, settings.demo_claims)
    _register_demo_it_systems(system, plan)  # idempotent: also brings older data up to date
    if system.debitor.is_empty():
        summary = demo.generate(system.engines["debitorsystem"], plan, progress=progress)
        demo_data = summary.demo_json()
        _subscribe_demo_fagsystems(system, plan)
        for authority in plan.authorities:
            token = system.debitor.issue_staff_token(authority.cvr, f"Opkrævning {authority.name}")
            demo_data.setdefault("staff_tokens", {})[authority.cvr] = token
        (settings.data_dir / "demo-data.json").write_text(json.dumps(demo_data, indent=2))
    adopt_demo_payments(
        system.debitor, system.fagsystems.services, [a.cvr for a in plan.authorities]
    )
    stored: dict[str, Any] = json.loads((settings.data_dir / "demo-data.json").read_text())
    return _demo_json(system, plan, stored)


def _register_demo_it_systems(system: System, plan: DemoPlan) -> None:
    """The demo's it-systems at the platform, as an operator registers them
    (`indbetaling gateway register`)."""
    registrations = demo_gateway_registrations(system.settings, plan, system.debitorsystem_id)
    gateway_registrations.apply(system.platform, registrations, system.settings.data_dir)


def demo_gateway_registrations(
    settings: Settings, plan: DemoPlan, debitor_id: uuid.UUID
) -> GatewayRegistrations:
    """The debitorsystem provides DebitorIndbetalingAfsend to every authority and publishes
    to the Beskedfordeler, which serves every authority; each fagsystem consumes
    DebitorIndbetalingAfsend and the Beskedfordeler, and provides IndbetalingTilbagefoerOrdre,
    for the authorities it has agreements with."""
    base = settings.base_url
    cvrs = [a.cvr for a in plan.authorities]
    beskedfordeler_id = demo_uuid(settings, "beskedfordeler")

    def agreements(
        roles: list[tuple[str, Literal["consumer", "provider"]]], authorities: list[str]
    ) -> list[AgreementIn]:
        return [
            AgreementIn(cvr=cvr, service=service, role=role)
            for cvr in authorities
            for service, role in roles
        ]

    systems = [
        ItSystemIn(
            id=debitor_id,
            name="Debitorsystem",
            client_id=settings.debitorsystem_client_id,
            client_secret=debitorsystem_secret(settings),
            endpoints=[
                EndpointIn(
                    service=DEBITOR_INDBETALING_ENTITY_ID,
                    soap_url=f"{base}/debitorsystem{DEBITOR_PATH}",
                    rest_url=f"{base}/debitorsystem/api/v1/debitorindbetaling",
                )
            ],
            agreements=agreements(
                [
                    (DEBITOR_INDBETALING_ENTITY_ID, "provider"),
                    (TILBAGEFOER_ORDRE_ENTITY_ID, "consumer"),
                    (BESKEDFORDELER_ENTITY_ID, "consumer"),
                ],
                cvrs,
            ),
        ),
        ItSystemIn(
            id=beskedfordeler_id,
            name="Beskedfordeler",
            client_id="beskedfordeler",
            endpoints=[
                EndpointIn(service=BESKEDFORDELER_ENTITY_ID, rest_url=f"{base}/beskedfordeler")
            ],
            agreements=agreements([(BESKEDFORDELER_ENTITY_ID, "provider")], cvrs),
        ),
    ]
    for fagsystem in plan.fagsystems:
        systems.append(
            ItSystemIn(
                id=fagsystem.id,
                name=fagsystem.name,
                client_id=fagsystem_client_id(fagsystem.id),
                client_secret=demo_secret(settings, str(fagsystem.id)),
                endpoints=[
                    EndpointIn(
                        service=TILBAGEFOER_ORDRE_ENTITY_ID,
                        soap_url=f"{base}/fagsystem/{fagsystem.id}{TILBAGEFOER_PATH}",
                    )
                ],
                agreements=agreements(
                    [
                        (DEBITOR_INDBETALING_ENTITY_ID, "consumer"),
                        (TILBAGEFOER_ORDRE_ENTITY_ID, "provider"),
                        (BESKEDFORDELER_ENTITY_ID, "consumer"),
                    ],
                    list(fagsystem.authorities),
                ),
            )
        )
    routes = [
        RouteIn(cvr=cvr, service=service, provider=provider)
        for cvr in cvrs
        for service, provider in (
            (DEBITOR_INDBETALING_ENTITY_ID, debitor_id),
            (BESKEDFORDELER_ENTITY_ID, beskedfordeler_id),
        )
    ]
    return GatewayRegistrations(it_systems=systems, routes=routes)


def _subscribe_demo_fagsystems(system: System, plan: DemoPlan) -> None:
    """The debitorsystem may publish claims; each fagsystem gets its claims pushed (§6)."""
    bf = system.beskedfordeler
    grant_publish(bf, str(system.debitorsystem_id), BESKEDTYPE_FORDRING_TIL_INDBETALING)
    base = system.settings.base_url
    for fagsystem in plan.fagsystems:
        mailbox = create_mailbox(
            bf,
            str(fagsystem.id),
            name=f"{fagsystem.name}: fordringer til indbetaling",
            push_url=f"{base}/fagsystem/{fagsystem.id}/beskeder",
            push_secret=push_secret(system.settings, fagsystem.id),
        )
        for cvr in fagsystem.authorities:
            subscribe(
                bf,
                mailbox.mailbox_id,
                Filter(message_type=BESKEDTYPE_FORDRING_TIL_INDBETALING, authority_cvr=cvr),
            )


def _demo_json(system: System, plan: DemoPlan, stored: dict[str, Any]) -> dict[str, Any]:
    settings = system.settings
    base = settings.base_url
    policies = {str(f.id): f.reversal_policy for f in plan.fagsystems}
    sortiment = {
        str(f.id): {cvr: [str(u) for u in units] for cvr, units in f.org_units.items()}
        for f in plan.fagsystems
    }
    fagsystemer = []
    for f in stored["fagsystemer"]:
        fagsystemer.append(
            {
                **f,
                "client_id": fagsystem_client_id(uuid.UUID(f["id"])),
                "client_secret": demo_secret(settings, f["id"]),
                "push_url": f"{base}/fagsystem/{f['id']}/beskeder",
                "push_secret": push_secret(settings, uuid.UUID(f["id"])),
                "caseworker_token": caseworker_token(settings, uuid.UUID(f["id"])),
                "reversal_policy": policies[f["id"]],
                "org_units_by_authority": sortiment[f["id"]],
                "dueslag": [m.mailbox_id for m in mailboxes_of(system.beskedfordeler, f["id"])],
            }
        )
    return {
        "base_url": base,
        "authorities": stored["authorities"],
        "fagsystemer": fagsystemer,
        "debitorsystemer": [
            {
                "id": str(system.debitorsystem_id),
                "client_id": settings.debitorsystem_client_id,
                "client_secret": debitorsystem_secret(settings),
                "authorities": [a.cvr for a in plan.authorities],
                "auditor_token": auditor_token(settings),
            }
        ],
        "sample_claims": stored["sample_claims"],
        "staff_tokens": stored.get("staff_tokens", {}),
        "operator_token": operator_token(settings),
        "finance_token": finance_token(settings),
        "web_users": web_users_json(system.web_accounts, base),
    }


def write_demo_json(data_dir: Path, data: dict[str, Any]) -> Path:
    path = data_dir / "demo.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    tmp.replace(path)
    return path

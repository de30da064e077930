"""One fagsystem's pages, for the composition of its part (`fagsystem/app.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import APIRouter

from indbetaling.fagsystem.service import PaymentService
from indbetaling.fagsystem.ui.citizen_pages import citizen_router
from indbetaling.fagsystem.ui.pay_pages import pay_router
from indbetaling.fagsystem.ui.payment_pages import payment_router
from indbetaling.fagsystem.ui.reversal_inbox_pages import inbox_router
from indbetaling.fagsystem.ui.reversal_pages import reversal_router
from indbetaling.fagsystem.ui.site import FagsystemSite
from indbetaling.ui.access import WebAccess
from indbetaling.ui.pages import Pages

TEMPLATES = Path(__file__).parent / "templates"


def fagsystem_pages(
    service: PaymentService,
    access: WebAccess,
    *,
    name: str,
    authority_names: Mapping[str, str],
) -> APIRouter:
    """The case worker's pages of the fagsystem that `service` serves, under
    `/fagsystem/<its id>/`, for that fagsystem's case workers only."""
    pages = Pages(access, [TEMPLATES], f"Fagsystem: {name}" if name else "Fagsystem")
    site = FagsystemSite(service, pages, name, authority_names)
    router = APIRouter()
    for part in (
        citizen_router(site),
        pay_router(site),
        payment_router(site),
        inbox_router(site),
        reversal_router(site),
    ):
        router.include_router(part)
    return router

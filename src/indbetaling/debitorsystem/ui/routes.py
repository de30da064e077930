"""The collections staff's pages, for the composition of the debitorsystem (`app.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import APIRouter

from indbetaling.debitorsystem.service import DebitorService
from indbetaling.debitorsystem.ui.claim_pages import claim_router, search_router
from indbetaling.debitorsystem.ui.order_pages import order_router
from indbetaling.debitorsystem.ui.site import StaffSite
from indbetaling.ui.access import WebAccess
from indbetaling.ui.pages import Pages

TEMPLATES = Path(__file__).parent / "templates"


def debitorsystem_pages(
    service: DebitorService, access: WebAccess, authority_names: Mapping[str, str]
) -> APIRouter:
    """The pages of collections staff under `/debitorsystem/`, each authority's for its staff
    only."""
    pages = Pages(access, [TEMPLATES], "Debitorsystem: opkrævning")
    site = StaffSite(service, pages, authority_names)
    router = APIRouter()
    router.include_router(search_router(site))
    router.include_router(claim_router(site))
    router.include_router(order_router(site))
    return router

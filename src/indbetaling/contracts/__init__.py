"""The wire contract: WSDL and XSD files, the source of truth for every SOAP service."""

from __future__ import annotations

from pathlib import Path

CONTRACTS_DIR = Path(__file__).parent

DEBITOR_INDBETALING_WSDL = "DebitorIndbetalingAfsend.wsdl"
TILBAGEFOER_ORDRE_WSDL = "IndbetalingTilbagefoerOrdreAfsend.wsdl"
DEBITOR_INDBETALING_XSD = "DebitorIndbetaling.xsd"

DEBITOR_INDBETALING_ENTITY_ID = "http://oir.serviceplatformen.dk/service/debitorindbetalingafsend/1"
TILBAGEFOER_ORDRE_ENTITY_ID = (
    "http://oir.serviceplatformen.dk/service/indbetalingtilbagefoerordreafsend/1"
)
BESKEDFORDELER_ENTITY_ID = "http://entityid.kombit.dk/service/beskedfordeler/1"
"""The Beskedfordeler as a service of the platform: publishers and subscribers reach it through
the gateway, which names this audience when it forwards their calls."""


def contract_path(name: str) -> Path:
    """The path of a contract file shipped with the package."""
    return CONTRACTS_DIR / name

"""The Serviceplatform: token service, service agreements, routing and audit of every call.

platform = Serviceplatform(engine, KNOWN_ENTITY_IDS)
gateway = Gateway(platform)            # or Gateway(platform, httpx.AsyncClient(...))
app.include_router(gateway.router())   # or serviceplatform.app.build(...)
"""

from indbetaling.contracts import (
    BESKEDFORDELER_ENTITY_ID,
    DEBITOR_INDBETALING_ENTITY_ID,
    TILBAGEFOER_ORDRE_ENTITY_ID,
)

KNOWN_ENTITY_IDS = frozenset(
    {DEBITOR_INDBETALING_ENTITY_ID, TILBAGEFOER_ORDRE_ENTITY_ID, BESKEDFORDELER_ENTITY_ID}
)

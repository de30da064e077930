"""The Danish words the pages use for the fagsystem's codes. The codes themselves (ACCEPTERET,
ORDRE, ...) are shown too: they are what the API, the logs and the contract say."""

from __future__ import annotations

from uuid import UUID

from indbetaling.fagsystem.domain import (
    PaymentState,
    PostingKind,
    ReversalSource,
    ReversalState,
    posting_id,
)

PAYMENT_STATE = {
    PaymentState.AFSENDT: "sendt, venter på svar fra debitorsystemet",
    PaymentState.ACCEPTERET: "modtaget af debitorsystemet",
    PaymentState.AFVIST: "afvist af debitorsystemet",
    PaymentState.TILBAGEFOERT: "tilbageført",
}
REVERSAL_STATE = {
    ReversalState.AFVENTER: "venter",
    ReversalState.UDFOERT: "udført",
    ReversalState.AFVIST: "afvist af debitorsystemet",
}
SOURCE = {
    ReversalSource.ORDRE: "tilbageførselsordre fra debitorsystemet",
    ReversalSource.MANUEL_ADVIS: "manuelt advis",
    ReversalSource.SAGSBEHANDLER: "sagsbehandlerens egen",
}
POSTING = {
    PostingKind.INDBETALING: "Indbetaling",
    PostingKind.TILBAGEFOERSEL: "Tilbageførsel",
    PostingKind.TILBAGEBETALING: "Tilbagebetaling til NemKonto",
}


def posting_kind(payment_id: UUID, posting: UUID) -> str:
    """What a posting of this payment is for (its id is made from the event and the payment)."""
    for kind, text in POSTING.items():
        if posting_id(kind, payment_id) == posting:
            return text
    return "Postering"

"""Delivery of reversal orders to the fagsystems that own the payments (CONTRACT §4, R7).

Every order the ledger makes (`write_down`/`annul`, R6) is stored in state OPRETTET in the same
transaction as the change. The relay sends it to its owner's IndbetalingTilbagefoerOrdreAfsend
through the Serviceplatform gateway (`<gateway>/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1/
<owner UUID>`, operation `AfsendTilbagefoerOrdre`) and retries with exponential backoff until
the owner answers:

- `MODTAGET` → state MODTAGET; the owner now reverses the payment (→ UDFOERT, `service.reverse`);
- `AFVIST` (e.g. `INDBETALING_UKENDT`) → state MANUEL with the owner's reason;
- no endpoint on record (the fagsystem is registered with `accepts_reversal_orders` false, or
  the gateway answers that it knows no endpoint for it) → state MANUEL, for manual advice; the
  staff API lists them (`…/tilbagefoerselsordrer?Tilstand=MANUEL`) and closes each after its
  manual handling (`…/tilbagefoerselsordrer/{id}/lukning`, with who and why: LUKKET);
- anything else (no answer, HTTP 5xx, a refused token, `FEJLET`) → tried again later.

Restart safety: an order is claimed in a short transaction (AFSENDT, with a short lease until
`next_attempt_at`), sent with no transaction open, and its outcome recorded in another short
transaction, only if the claim is still the newest (`attempts` is the fencing token). While a
relay works on its batch a heartbeat renews the lease of every order of the batch it has not yet
recorded, again only under its own claim; a slow fagsystem therefore keeps its order with the
relay that is calling it, while a relay that dies (a crash, SIGKILL, power loss) stops renewing,
so its orders are due again within one lease (`lease_seconds`, 15 s by default) and any relay
sends them again. Nothing depends on knowing which relay is gone, so it holds with any number of
relay processes.
Every send of one order carries the same TransactionUUID (derived from the order id), and the
fagsystem keys orders by TilbagefoerselsOrdreId, so a repeat is received once in effect.
Several relay processes may run at once (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's single
writer).

The relay is synchronous (httpx's sync client): run `run_relay` in a thread of its own.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import Engine

from indbetaling import db
from indbetaling.contracts import TILBAGEFOER_ORDRE_ENTITY_ID, TILBAGEFOER_ORDRE_WSDL
from indbetaling.debitorsystem import store
from indbetaling.debitorsystem.domain import OrderState, ReversalOrder
from indbetaling.money import format_ore
from indbetaling.soap import (
    FaultAnswer,
    KombitHeaders,
    UnreadableAnswer,
    http_headers,
    load_contract,
    read_answer,
    request_envelope,
)
from indbetaling.sts_client import Credentials, TokenClient, TokenRefused

log = logging.getLogger(__name__)

SERVICE_PATH = "/service/OIR/IndbetalingTilbagefoerOrdreAfsend/1"
OPERATION = "AfsendTilbagefoerOrdre"
TRANSACTION_NAMESPACE = uuid.UUID("5d1f3a52-4c0e-4f57-8d6e-1590b0300004")
NO_ENDPOINT_TEXT = (
    "Fagsystemet har ingen modtager af tilbageførselsordrer; ordren skal håndteres manuelt"
)


@dataclass(frozen=True)
class RelaySettings:
    gateway_url: str
    """The Serviceplatform's base URL (it serves `/sts/token` and the routed services)."""
    client_id: str
    client_secret: str
    """The debitorsystem's client credentials at the platform's token service."""
    lease_seconds: float = 15.0
    """How long a claimed order is left alone before another relay may send it again, unless
    its relay renews the lease (every `heartbeat_seconds` while it works on the batch)."""
    heartbeat_seconds: float = 3.0
    """How often a working relay renews the leases of the orders it holds; at most a third of
    `lease_seconds`, so one late renewal does not lose an order that is being sent."""
    http_timeout_seconds: float = 60.0
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 3600.0
    batch_size: int = 20
    poll_seconds: float = 5.0
    """How often an idle `run_relay` looks for due orders."""

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_seconds * 3 <= self.lease_seconds:
            raise ValueError("heartbeat_seconds must be positive and at most lease_seconds / 3")
        if self.http_timeout_seconds <= 0:
            raise ValueError("http_timeout_seconds must be positive")
        if not 0 < self.backoff_base_seconds <= self.backoff_cap_seconds:
            raise ValueError("backoff needs 0 < backoff_base_seconds <= backoff_cap_seconds")
        if self.batch_size < 1 or self.poll_seconds <= 0:
            raise ValueError("batch_size and poll_seconds must be positive")


def backoff_seconds(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """The wait after failed attempt number `attempt` (1, 2, …): "equal jitter" backoff.

    The ceiling doubles from `base` with every attempt up to `cap`; the wait is the upper half
    of the ceiling, placed by `jitter` ∈ [0, 1], so retries of many orders spread out yet never
    come sooner than half the ceiling.
    """
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be within [0, 1]")
    ceiling = cap if attempt > 64 else min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter


def transaction_uuid(order_id: uuid.UUID) -> uuid.UUID:
    """The TransactionUUID of every send of this order, so the receiver sees one transaction."""
    return uuid.uuid5(TRANSACTION_NAMESPACE, str(order_id))


class Verdict(StrEnum):
    RECEIVED = "RECEIVED"
    """The owner answered MODTAGET."""
    MANUAL = "MANUAL"
    """No use retrying: the owner refused the order or offers no endpoint."""
    RETRY = "RETRY"
    """No business answer (yet)."""


@dataclass(frozen=True)
class SendResult:
    verdict: Verdict
    detail: str = ""


class ReversalOrderClient:
    """Sends one order to its owner through the gateway, with a token of its own (cached per
    authority until shortly before it expires), in the project's SOAP codec of the service's
    contract (`indbetaling.soap.client`). Safe to use from several threads."""

    def __init__(self, settings: RelaySettings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.gateway_url = settings.gateway_url.rstrip("/")
        self.http = http or httpx.Client(timeout=settings.http_timeout_seconds)
        self.tokens = TokenClient(
            Credentials(settings.gateway_url, settings.client_id, settings.client_secret),
            self.http,
        )
        self._contract = load_contract(TILBAGEFOER_ORDRE_WSDL)
        self._operation = self._contract.operations[OPERATION]

    def close(self) -> None:
        self.http.close()

    # -- the call --------------------------------------------------------------------------

    def envelope(self, order: ReversalOrder) -> bytes:
        """The SOAP request for `order`, with the KOMBIT headers."""
        fields: dict[str, Any] = {
            "TilbagefoerselsOrdreId": str(order.id),
            "IndbetalingId": str(order.payment_id),
            "FordringId": str(order.claim_id),
            "MyndighedCVR": order.authority_cvr,
            "Beloeb": format_ore(order.amount),
            "Overdaekning": format_ore(order.overcoverage),
            "AarsagKode": order.reason.value,
        }
        if order.text:
            fields["Tekst"] = order.text
        fields["Dannelsestidspunkt"] = order.created_at.isoformat()
        headers = KombitHeaders(transaction_uuid(order.id), order.authority_cvr, None)
        return request_envelope(
            self._contract, self._operation, {"TilbagefoerselsOrdre": fields}, headers
        )

    def send(self, order: ReversalOrder) -> SendResult:
        """One attempt; never raises for what the network, the gateway or the owner does."""
        try:
            token = self.tokens.token(TILBAGEFOER_ORDRE_ENTITY_ID, order.authority_cvr)
            answer = self.http.post(
                f"{self.gateway_url}{SERVICE_PATH}/{order.owner_id}",
                content=self.envelope(order),
                headers=http_headers(self._operation, token),
            )
        except TokenRefused as exc:
            return SendResult(Verdict.RETRY, str(exc))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return SendResult(Verdict.RETRY, f"{type(exc).__name__}: {exc}")
        if answer.status_code == 401:
            self.tokens.forget(TILBAGEFOER_ORDRE_ENTITY_ID, order.authority_cvr)
        return self._read_answer(answer)

    def _read_answer(self, answer: httpx.Response) -> SendResult:
        status = answer.status_code
        try:
            result = read_answer(self._contract, self._operation, status, answer.content)
        except FaultAnswer as fault:
            if status == 404:
                # the gateway has no endpoint (or no agreement) for this fagsystem
                return SendResult(Verdict.MANUAL, f"{NO_ENDPOINT_TEXT} ({fault})")
            return SendResult(Verdict.RETRY, str(fault))
        except UnreadableAnswer as exc:
            return SendResult(Verdict.RETRY, str(exc)[:300])
        receipt = result["Forretningskvittering"]
        code = str(receipt["ForretningsValideringsKode"])
        if code == "MODTAGET":
            return SendResult(Verdict.RECEIVED)
        errors = receipt.get("FejlListe", {}).get("Fejl", [])
        reasons = "; ".join(f"{e['FejlKode']}: {e['FejlTekst']}" for e in errors)
        if code == "AFVIST":
            return SendResult(Verdict.MANUAL, f"Fagsystemet afviste ordren: {reasons}")
        return SendResult(Verdict.RETRY, f"Fagsystemet svarede {code} {reasons}".strip())


class ReversalOrderRelay:
    def __init__(
        self,
        engine: Engine,
        client: ReversalOrderClient,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.settings = client.settings
        self.rng = rng or random.SystemRandom()

    def deliver_due(self, now: datetime) -> int:
        """Send every order due at `now` (a batch at a time) once; the number worked on."""
        settings = self.settings
        lease_until = now + timedelta(seconds=settings.lease_seconds)
        with db.write(self.engine) as conn:
            claimed = store.claim_due_orders(
                conn, now=now, lease_until=lease_until, limit=settings.batch_size
            )
        if not claimed:
            return 0
        with LeaseHeartbeat(self.engine, claimed, now, settings) as heartbeat:
            for item in claimed:
                if not item.owner_accepts:
                    result = SendResult(Verdict.MANUAL, NO_ENDPOINT_TEXT)
                else:
                    try:
                        result = self.client.send(item.order)
                    except Exception as exc:  # a fault of our own: try again after the backoff
                        log.exception("sending reversal order %s failed", item.order.id)
                        result = SendResult(Verdict.RETRY, f"{type(exc).__name__}: {exc}")
                heartbeat.done(item)
                self._record(item, result, now)
        return len(claimed)

    def _record(self, item: store.ClaimedOrder, result: SendResult, now: datetime) -> None:
        order = item.order
        if result.verdict is Verdict.RECEIVED:
            state, due, error = OrderState.MODTAGET, None, None
        elif result.verdict is Verdict.MANUAL:
            state, due, error = OrderState.MANUEL, None, result.detail
        else:
            wait = backoff_seconds(
                item.attempt,
                base=self.settings.backoff_base_seconds,
                cap=self.settings.backoff_cap_seconds,
                jitter=self.rng.random(),
            )
            state, due, error = OrderState.OPRETTET, now + timedelta(seconds=wait), result.detail
        with db.write(self.engine) as conn:
            recorded = store.record_delivery(
                conn, order.id, item.attempt, state=state, next_attempt_at=due, error=error, now=now
            )
        log.info(
            "reversal order %s attempt %d: %s%s%s",
            order.id,
            item.attempt,
            state.value if recorded else "outcome not recorded (the order moved on)",
            ": " if error else "",
            error or "",
        )


class LeaseHeartbeat:
    """Renews, every `heartbeat_seconds` in a thread of its own, the leases of the claimed
    orders not yet `done`, each only under its own claim (`attempts`); an order that moved on
    (reversed meanwhile, or claimed by another relay after a lapse) is dropped.

    The lease is counted from the batch's `now` plus the time that has passed since, so a relay
    run with a clock of its own (tests, replays) renews in that clock's terms.
    """

    def __init__(
        self,
        engine: Engine,
        claimed: list[store.ClaimedOrder],
        now: datetime,
        settings: RelaySettings,
    ) -> None:
        self.engine = engine
        self.now = now
        self.settings = settings
        self._held = {item.order.id: item.attempt for item in claimed}
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="tilbageførselsordrer-lease", daemon=True
        )

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def done(self, item: store.ClaimedOrder) -> None:
        """`item`'s outcome is about to be recorded: its lease is no longer renewed."""
        with self._lock:
            self._held.pop(item.order.id, None)

    def renew(self) -> int:
        """Extend the held leases once; the number still held."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return 0
        elapsed = timedelta(seconds=time.monotonic() - self._started)
        now = self.now + elapsed
        until = now + timedelta(seconds=self.settings.lease_seconds)
        with db.write(self.engine) as conn:
            kept = store.renew_leases(conn, held, lease_until=until, now=now)
        with self._lock:
            for order_id in set(held) - kept:
                self._held.pop(order_id, None)
            return len(self._held)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_seconds):
            try:
                if self.renew() == 0:
                    return
            except Exception:  # the database is away: the next beat tries again
                log.exception("renewing the leases of reversal orders failed")


def run_relay(
    stop_event: threading.Event,
    relay: ReversalOrderRelay,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Deliver due orders until `stop_event` is set; blocking, so run it in its own thread.

    A full batch is followed at once by the next; otherwise the relay waits `poll_seconds`.
    A failure of its own database is logged and tried again after the same wait.
    """
    while not stop_event.is_set():
        try:
            worked = relay.deliver_due(clock())
        except Exception:
            log.exception("the reversal-order relay failed; trying again")
            worked = 0
        if worked < relay.settings.batch_size:
            stop_event.wait(relay.settings.poll_seconds)

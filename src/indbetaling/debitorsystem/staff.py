"""The collections staff's use cases: authorities, fagsystemer and their assortment, accounts and
claims, write-downs, annulment, other coverages, staff tokens, a claim's view and the reversal
orders. One transaction each; every change to a claim writes its message to the outbox.

The changing ones are `Step`s (the work inside an open transaction) so that `once` can run a
staff call under an `Idempotency-Key` (CONTRACT §10) in the same transaction as its stored answer
(`indbetaling.idempotency`, the caller being the staff of one authority).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import Connection

from indbetaling import db, idempotency, kla, paging
from indbetaling.debitorsystem import domain, manual, store
from indbetaling.debitorsystem.domain import ClaimLedger, FejlKode, Rejected
from indbetaling.debitorsystem.transactions import InvalidRequest, UseCases
from indbetaling.fordring import LiableParty
from indbetaling.ids import InvalidId, parse_part_id

T = TypeVar("T")
Step = Callable[[Connection, datetime], T]
"""One staff use case's work inside an open write transaction, at a given now."""

STAFF_PAGE = 100
"""Items per page of the staff's paged lists unless `Antal` says otherwise."""
STAFF_PAGE_MAX = 1000


@dataclass(frozen=True)
class NewClaim:
    account_id: UUID
    claim_type_code: str
    principal: int
    due_date: date
    last_timely_payment_date: date
    liable_parties: tuple[LiableParty, ...]
    payment_period_from: date | None = None
    payment_period_to: date | None = None


@dataclass(frozen=True)
class LedgerChange:
    """What a staff operation did: the claim afterwards and the reversal orders it made."""

    ledger: ClaimLedger
    orders: tuple[domain.ReversalOrder, ...]


def check_new_claim(new: NewClaim) -> None:
    """The shape of a new claim (InvalidRequest), before the database is asked anything."""
    if new.principal <= 0:
        raise InvalidRequest("Hovedstolen skal være større end 0")
    if not new.liable_parties:
        raise InvalidRequest("En fordring skal have mindst én hæfter")
    if len({p.part_id for p in new.liable_parties}) != len(new.liable_parties):
        raise InvalidRequest("En hæfter må kun stå én gang i hæfterkredsen")
    for p in new.liable_parties:
        try:
            parse_part_id(p.part_id)
        except InvalidId as exc:
            raise InvalidRequest(str(exc)) from None
    if (
        new.payment_period_from
        and new.payment_period_to
        and new.payment_period_from > new.payment_period_to
    ):
        raise InvalidRequest("Betalingsperioden slutter før den begynder")


class StaffUseCases(UseCases):
    def create_authority(self, cvr: str, name: str) -> None:
        with db.write(self.engine) as conn:
            store.insert_authority(conn, cvr, name)

    def register_fagsystem(
        self,
        fagsystem_id: UUID,
        name: str,
        org_units: Mapping[str, Sequence[UUID]],
        *,
        accepts_reversal_orders: bool = True,
        types: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """A fagsystem and its sortiment per authority (R10): the ORG units it may pay from
        and the account and claim types (KLA classes) it may use."""
        types = types or {}
        for codes in types.values():
            _check_classes(codes)
        with db.write(self.engine) as conn:
            store.insert_fagsystem(
                conn, fagsystem_id, name, org_units, accepts_reversal_orders=accepts_reversal_orders
            )
            store.insert_assortment_types(conn, fagsystem_id, types)

    def has_authority(self, cvr: str) -> bool:
        with db.read(self.engine) as conn:
            return store.authority_exists(conn, cvr)

    def ensure_authority(self, cvr: str, name: str) -> None:
        """The authority, added or renamed."""
        with db.write(self.engine) as conn:
            if not store.update_authority(conn, cvr, name):
                store.insert_authority(conn, cvr, name)

    def ensure_fagsystem(
        self,
        fagsystem_id: UUID,
        name: str,
        sortiment: Mapping[str, tuple[Sequence[UUID], Sequence[str]]],
        *,
        accepts_reversal_orders: bool = True,
    ) -> None:
        """The fagsystem, added or updated, with its sortiment (ORG units, types) for each
        authority named; its sortiment for other authorities is kept."""
        for _, types in sortiment.values():
            _check_classes(types)
        with db.write(self.engine) as conn:
            if store.fagsystem_exists(conn, fagsystem_id):
                store.update_fagsystem(
                    conn, fagsystem_id, name, accepts_reversal_orders=accepts_reversal_orders
                )
            else:
                store.insert_fagsystem(
                    conn, fagsystem_id, name, {}, accepts_reversal_orders=accepts_reversal_orders
                )
            for cvr, (units, types) in sortiment.items():
                store.set_assortment(conn, fagsystem_id, cvr, org_units=units, types=types)

    def set_assortment(
        self, cvr: str, fagsystem_id: UUID, org_units: Sequence[UUID], types: Sequence[str]
    ) -> None:
        """Replace the fagsystem's sortiment for this authority (its ORG units and types)."""
        _check_classes(types)
        with db.write(self.engine) as conn:
            if not store.fagsystem_exists(conn, fagsystem_id):
                raise Rejected(FejlKode.FAGSYSTEM_UKENDT, "Fagsystemet findes ikke")
            store.set_assortment(conn, fagsystem_id, cvr, org_units=org_units, types=types)

    def assortment(self, cvr: str, fagsystem_id: UUID) -> tuple[list[UUID], list[str]]:
        """The fagsystem's sortiment for this authority: ORG units and types."""
        with db.read(self.engine) as conn:
            if not store.fagsystem_exists(conn, fagsystem_id):
                raise Rejected(FejlKode.FAGSYSTEM_UKENDT, "Fagsystemet findes ikke")
            return store.assortment_of(conn, fagsystem_id, cvr)

    def _run(self, step: Step[T]) -> T:
        """One step in one write transaction, run again whole if it lost a race."""

        def attempt() -> T:
            now = self.clock()
            with db.write(self.engine) as conn:
                return step(conn, now)

        return self._retrying(attempt)

    def once(
        self,
        cvr: str,
        key: str | None,
        operation: str,
        request: idempotency.JsonObject,
        *,
        step: Step[T],
        render: Callable[[T], idempotency.JsonObject],
    ) -> bytes:
        """A staff call's answer (canonical JSON of `render` of what `step` made), run once per
        `Idempotency-Key` of the staff of authority `cvr`: the same key and request again answer
        the stored bytes without doing the work again; the same key with another request raises
        `Rejected` TRANSAKTION_KONFLIKT and changes nothing. A refused call stores nothing, its
        key neither, so its retry is checked afresh. Without a key, the step simply runs."""
        if key is None:
            return idempotency.canonical_json(render(self._run(step)))
        return self._run_once(
            f"staff:{cvr}",
            key,
            operation,
            request,
            work=lambda conn, now: render(step(conn, now)),
            conflict=_key_conflict,
        )

    def create_account(
        self, cvr: str, type_code: str, owner_fagsystem_id: UUID | None = None
    ) -> UUID:
        return self._run(self.account_step(cvr, type_code, owner_fagsystem_id))

    def account_step(
        self, cvr: str, type_code: str, owner_fagsystem_id: UUID | None = None
    ) -> Step[UUID]:
        if not kla.is_class(type_code, kla.Facet.ACCOUNT_TYPE):
            raise Rejected(
                FejlKode.DEBITORKONTOTYPE_UKENDT,
                f"DebitorkontoTypeKode {type_code!r} er ikke en kendt KLA-klasse for kontotyper",
            )

        def step(conn: Connection, now: datetime) -> UUID:
            account_id = self.new_id()
            if not store.authority_exists(conn, cvr):
                raise Rejected(FejlKode.FORDRING_UKENDT, "Myndigheden findes ikke")
            if owner_fagsystem_id is not None and not store.fagsystem_exists(
                conn, owner_fagsystem_id
            ):
                raise InvalidRequest("Fagsystemet findes ikke")
            store.insert_account(conn, account_id, cvr, type_code, owner_fagsystem_id, now=now)
            return account_id

        return step

    def create_claim(self, cvr: str, new: NewClaim) -> ClaimLedger:
        return self._run(self.claim_step(cvr, new))

    def claim_step(self, cvr: str, new: NewClaim) -> Step[ClaimLedger]:
        check_new_claim(new)
        if not kla.is_class(new.claim_type_code, kla.Facet.CLAIM_TYPE):
            raise Rejected(
                FejlKode.KRAVTYPE_UKENDT,
                f"KravtypeKode {new.claim_type_code!r} er ikke en kendt KLA-klasse for kravtyper",
            )

        def step(conn: Connection, now: datetime) -> ClaimLedger:
            claim_id = self.new_id()
            account_type = store.account_type(conn, new.account_id, cvr)
            if account_type is None:
                raise Rejected(FejlKode.FORDRING_UKENDT, "Debitorkontoen findes ikke")
            claim = domain.Claim(
                id=claim_id,
                account_id=new.account_id,
                authority_cvr=cvr,
                account_type_code=account_type,
                claim_type_code=new.claim_type_code,
                principal=new.principal,
                due_date=new.due_date,
                last_timely_payment_date=new.last_timely_payment_date,
                payment_period_from=new.payment_period_from,
                payment_period_to=new.payment_period_to,
                liable_parties=new.liable_parties,
            )
            store.insert_claim(conn, claim, now)
            ledger = store.load_ledger(conn, claim_id)
            assert ledger is not None  # noqa: S101 - inserted just above
            self._announce(conn, None, ledger, now)
            return ledger

        return step

    def _change_claim(
        self,
        cvr: str,
        claim_id: UUID,
        change: Callable[[Connection, ClaimLedger, datetime], LedgerChange],
    ) -> Step[LedgerChange]:
        """Lock the claim, let `change` apply a rule and write its facts, then store the
        reversal orders it made and the claim's message, all in one transaction."""

        def step(conn: Connection, now: datetime) -> LedgerChange:
            if not store.lock_claim(conn, claim_id, cvr):
                raise Rejected(FejlKode.FORDRING_UKENDT, "Fordringen findes ikke")
            before = store.load_ledger(conn, claim_id)
            assert before is not None  # noqa: S101 - locked just above
            result = change(conn, before, now)
            store.insert_orders(conn, result.orders, now)
            self._announce(conn, before, result.ledger, now)
            return result

        return step

    def write_down(self, cvr: str, claim_id: UUID, amount: int, text: str | None) -> LedgerChange:
        return self._run(self.write_down_step(cvr, claim_id, amount, text))

    def write_down_step(
        self, cvr: str, claim_id: UUID, amount: int, text: str | None
    ) -> Step[LedgerChange]:
        """Nedregulering; orders reversals of fagsystem payments for any over-coverage (R6)."""

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, wd, orders = domain.write_down(
                ledger, amount, write_down_id=self.new_id(), text=text, now=now, new_id=self.new_id
            )
            store.insert_write_down(conn, wd, now)
            return LedgerChange(after, orders)

        return self._change_claim(cvr, claim_id, change)

    def annul(self, cvr: str, claim_id: UUID, text: str | None) -> LedgerChange:
        return self._run(self.annul_step(cvr, claim_id, text))

    def annul_step(self, cvr: str, claim_id: UUID, text: str | None) -> Step[LedgerChange]:
        """Annulment: the claim is no longer owed; every coverage becomes over-coverage."""

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, wd, orders = domain.annul(
                ledger, write_down_id=self.new_id(), text=text, now=now, new_id=self.new_id
            )
            if wd is not None:
                store.insert_write_down(conn, wd, now)
            store.mark_annulled(conn, claim_id, now)
            return LedgerChange(after, orders)

        return self._change_claim(cvr, claim_id, change)

    def register_other_coverage(self, cvr: str, claim_id: UUID, amount: int) -> LedgerChange:
        return self._run(self.other_coverage_step(cvr, claim_id, amount))

    def other_coverage_step(self, cvr: str, claim_id: UUID, amount: int) -> Step[LedgerChange]:
        """A coverage from outside the fagsystems, e.g. a bank payment (never beyond Restance)."""

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, coverage = domain.register_other_coverage(
                ledger, amount, coverage_id=self.new_id()
            )
            store.insert_coverage(conn, coverage, now)
            return LedgerChange(after, ())

        return self._change_claim(cvr, claim_id, change)

    def is_empty(self) -> bool:
        """True while no authority is registered (a new debitorsystem)."""
        with db.read(self.engine) as conn:
            return not store.has_authorities(conn)

    def issue_staff_token(self, cvr: str, name: str) -> str:
        """A bearer token for collections staff of one authority; only its hash is kept."""
        token = secrets.token_urlsafe(32)
        with db.write(self.engine) as conn:
            store.insert_staff_token(conn, _sha256(token), cvr, name)
        return token

    def staff_authority(self, token: str) -> str | None:
        """The authority a staff token belongs to, or None for an unknown token."""
        with db.read(self.engine) as conn:
            return store.staff_token_authority(conn, _sha256(token))

    def claim(self, cvr: str, claim_id: UUID) -> ClaimLedger:
        with db.read(self.engine) as conn:
            ledger = store.load_ledger(conn, claim_id)
        if ledger is None or ledger.claim.authority_cvr != cvr:
            raise Rejected(FejlKode.FORDRING_UKENDT, "Fordringen findes ikke")
        return ledger

    def claims_of(
        self,
        cvr: str,
        *,
        part_id: str | None = None,
        account_id: UUID | None = None,
        limit: int = STAFF_PAGE,
    ) -> list[ClaimLedger]:
        """The authority's claims (every status) of a liable party and/or an account, by id,
        with their coverages, write-downs and orders; at most `limit`."""
        _check_size(limit)
        with db.read(self.engine) as conn:
            ids = store.claim_ids_of(conn, cvr, part_id=part_id, account_id=account_id, limit=limit)
            ledgers = store.load_ledgers(conn, ids)
        return [ledgers[i] for i in ids]

    def reversal_orders(
        self, cvr: str, state: domain.OrderState | None = None, limit: int = 500
    ) -> list[domain.ReversalOrder]:
        with db.read(self.engine) as conn:
            return store.authority_orders(conn, cvr, state, limit)

    # -- manual handling of reversal orders and over-coverage (`manual`)

    def staff_name(self, token: str) -> str | None:
        """The name a staff token was issued to (who did what), or None for an unknown token."""
        with db.read(self.engine) as conn:
            return store.staff_token_name(conn, _sha256(token))

    def reversal_orders_page(
        self,
        cvr: str,
        state: domain.OrderState | None,
        key: str | None,
        size: int = STAFF_PAGE,
    ) -> tuple[list[domain.ReversalOrder], str | None]:
        """A page of the authority's orders, newest first, and the key of the next page."""
        _check_size(size)
        query = ("tilbagefoerselsordrer", cvr, state.value if state else None)
        after = None
        if key:
            created, order_id = _read_key(key, query, 2)
            after = (_parse_instant(created), _parse_uuid(order_id))
        with db.read(self.engine) as conn:
            found = store.authority_orders_page(conn, cvr, state, after=after, limit=size + 1)
        page = found[:size]
        more = len(found) > size
        next_key = (
            paging.make_key(query, [page[-1].created_at.isoformat(), str(page[-1].id)])
            if more
            else None
        )
        return page, next_key

    def coverages_page(
        self, cvr: str, key: str | None, size: int = STAFF_PAGE
    ) -> tuple[list[domain.Coverage], str | None]:
        """A page of the authority's coverages in order of arrival (for reconciliation), and
        the key of the next page; an authority the debitorsystem does not keep is refused."""
        _check_size(size)
        query = ("daekninger", cvr)
        with db.read(self.engine) as conn:
            if not store.authority_exists(conn, cvr):
                raise Rejected(FejlKode.MYNDIGHED_UKENDT, "Myndigheden findes ikke")

        def fetch(after: int | None, limit: int) -> list[domain.Coverage]:
            with db.read(self.engine) as conn:
                return store.authority_coverages(conn, cvr, after_seq=after, limit=limit)

        try:
            return paging.page_by_seq(query, key, size, fetch, lambda c: c.seq)
        except paging.InvalidKey as exc:
            raise InvalidRequest(str(exc)) from None

    def reversal_order(self, cvr: str, order_id: UUID) -> domain.ReversalOrder:
        """One of the authority's reversal orders."""
        with db.read(self.engine) as conn:
            order = store.authority_order(conn, cvr, order_id)
        if order is None:
            raise Rejected(FejlKode.TILBAGEFOERSELSORDRE_UKENDT, "Tilbageførselsordren findes ikke")
        return order

    def close_order(self, cvr: str, order_id: UUID, by: str, reason: str) -> domain.ReversalOrder:
        """Close an order that waits for manual handling (MANUEL → LUKKET), with who and why."""
        if not reason.strip():
            raise InvalidRequest("Begrundelse skal udfyldes")

        def attempt() -> domain.ReversalOrder:
            now = self.clock()
            with db.write(self.engine) as conn:
                order = store.authority_order(conn, cvr, order_id, lock=True)
                if order is None:
                    raise Rejected(
                        FejlKode.TILBAGEFOERSELSORDRE_UKENDT, "Tilbageførselsordren findes ikke"
                    )
                closed = manual.close_order(order, by=by, reason=reason.strip(), now=now)
                if not store.close_order(conn, closed, now):
                    raise Rejected(
                        FejlKode.TILBAGEFOERSELSORDRE_IKKE_MANUEL,
                        "Tilbageførselsordren er ikke længere til manuel behandling",
                    )
                return closed

        return self._retrying(attempt)

    def unanswered_overcoverages(
        self, cvr: str, key: str | None, size: int = STAFF_PAGE
    ) -> tuple[list[ClaimLedger], str | None]:
        """A page (by claim id) of the authority's claims with over-coverage that no open
        reversal order answers, e.g. from other coverages (ANDEN), and the key of the next."""
        _check_size(size)
        query = ("overdaekninger", cvr)
        after = _parse_uuid(_read_key(key, query, 1)[0]) if key else None
        found: list[ClaimLedger] = []
        more = False
        with db.read(self.engine) as conn:
            while not more:
                ids = store.overcovered_claim_ids(conn, cvr, after=after, limit=size + 1)
                ledgers = store.load_ledgers(conn, ids)
                for claim_id in ids:
                    if domain.unanswered_overcoverage(ledgers[claim_id]) == 0:
                        continue
                    if len(found) == size:
                        more = True
                        break
                    found.append(ledgers[claim_id])
                if len(ids) <= size:
                    break
                after = ids[-1]
        next_key = paging.make_key(query, [str(found[-1].claim.id)]) if more else None
        return found, next_key

    def reverse_other_coverage(
        self, cvr: str, claim_id: UUID, coverage_id: UUID, by: str, reason: str
    ) -> LedgerChange:
        """Reverse another coverage (ANDEN) that over-covers the claim, with who and why."""
        if not reason.strip():
            raise InvalidRequest("Begrundelse skal udfyldes")

        def change(conn: Connection, ledger: ClaimLedger, now: datetime) -> LedgerChange:
            after, coverage = manual.reverse_other_coverage(ledger, coverage_id)
            store.insert_staff_reversal(
                conn, coverage.id, staff_name=by, text=reason.strip(), now=now
            )
            return LedgerChange(after, ())

        return self._run(self._change_claim(cvr, claim_id, change))


def _check_classes(codes: Iterable[str]) -> None:
    unknown = sorted(c for c in codes if not kla.is_class(c))
    if unknown:
        raise Rejected(
            FejlKode.KLASSE_UKENDT, f"Ikke kendte KLA-klasser i sortimentet: {', '.join(unknown)}"
        )


def _check_size(size: int) -> None:
    if not 1 <= size <= STAFF_PAGE_MAX:
        raise InvalidRequest(f"Antal skal være mellem 1 og {STAFF_PAGE_MAX}")


def _read_key(key: str, query: Sequence[str | None], size: int) -> list[str]:
    try:
        return paging.read_key(key, query, size)
    except paging.InvalidKey as exc:
        raise InvalidRequest(str(exc)) from None


def _parse_uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidRequest("FortsaettelsesNoegle er ugyldig") from None


def _parse_instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest("FortsaettelsesNoegle er ugyldig") from None
    if instant.tzinfo is None:
        raise InvalidRequest("FortsaettelsesNoegle er ugyldig")
    return instant


def _key_conflict() -> idempotency.JsonObject:
    raise Rejected(
        FejlKode.TRANSAKTION_KONFLIKT,
        "Idempotency-Key er allerede brugt til en anden forespørgsel",
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

"""Collections staff's claims: find one, see it, change it.

    GET  /debitorsystem/                                 → the staff's own authority
    GET  …/myndigheder/<cvr>/                            search (`CPR-nummer eller FordringId`)
    POST …/myndigheder/<cvr>/                            → a citizen's claims, or the claim
    GET  …/borgere/<cpr>, …/konti/<account>              a citizen's / an account's claims
    GET  …/fordringer/<claim>                            the claim: coverages, write-downs, orders
    GET  …/fordringer/<claim>/<action>                   the form of a change (`Nedregulér`, ...)
    POST …/fordringer/<claim>/<action>                   → the confirm step (`Bekræft`)
    POST …/fordringer/<claim>/<action>/bekraeft          changes the claim → the claim's page

The changes are the debitorsystem's own staff use cases: a write-down, an annulment, another
coverage; the confirm step carries an Idempotency-Key made when it is shown, so confirming
twice changes the claim once. A claim of another authority is not found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from indbetaling.debitorsystem.domain import ClaimLedger
from indbetaling.debitorsystem.service import DebitorService
from indbetaling.debitorsystem.staff import LedgerChange, Step
from indbetaling.debitorsystem.ui.site import StaffSite
from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.money import InvalidAmount
from indbetaling.ui.access import PageError, field
from indbetaling.ui.checks import text_error
from indbetaling.ui.confirm import checked, key_of, new_key
from indbetaling.ui.cpr import InvalidCpr, cpr_digits, masked_cpr, parse_cpr
from indbetaling.ui.kroner import format_kroner, parse_positive_kroner
from indbetaling.ui.pages import NOT_FOUND
from indbetaling.ui.site import QueryText, party_in_path, uuid_in_path
from indbetaling.ui.users import Role

MAX_TEXT = 200
LIST_LIMIT = 200
SEARCH_FIELD = "soegning"


@dataclass(frozen=True)
class Typed:
    """A change's form as typed."""

    amount: str = ""
    text: str = ""


@dataclass(frozen=True)
class Checked:
    amount: int
    text: str | None


@dataclass(frozen=True)
class Action:
    """A change collections staff make to a claim, with its confirm step."""

    slug: str
    title: str
    button: str
    operation: str
    """The staff call's name for its Idempotency-Key (as the REST API names it)."""
    done: str
    """What the claim's page says afterwards."""
    amount_label: str | None
    text_label: str | None
    warning: str
    limit: Callable[[ClaimLedger], tuple[int, str]] | None = None
    """The largest amount allowed and how to say it is exceeded."""


def _owed(ledger: ClaimLedger) -> tuple[int, str]:
    return (
        ledger.owed,
        "Nedreguleringen er større end fordringens hovedstol efter tidligere nedreguleringer "
        f"({format_kroner(ledger.owed)})",
    )


def _restance(ledger: ClaimLedger) -> tuple[int, str]:
    return (
        ledger.restance,
        f"Beløbet er større end fordringens restance ({format_kroner(ledger.shown_restance)})",
    )


ACTIONS = {
    a.slug: a
    for a in (
        Action(
            "nedregulering",
            "Nedregulér fordringen",
            "Nedregulér",
            "Nedregulering",
            "Fordringen er nedreguleret.",
            "Nedregulér med (kr.)",
            "Begrundelse (valgfri)",
            "Bliver fordringen overdækket, sendes tilbageførselsordrer til de fagsystemer, "
            "hvis indbetalinger skal tilbageføres. En nedregulering kan ikke fortrydes.",
            _owed,
        ),
        Action(
            "annullering",
            "Annullér fordringen",
            "Annullér fordringen",
            "Annullering",
            "Fordringen er annulleret.",
            None,
            "Begrundelse (valgfri)",
            "Intet skyldes længere, og alle fagsystemers indbetalinger på fordringen skal "
            "tilbageføres. En annullering kan ikke fortrydes.",
        ),
        Action(
            "daekning",
            "Registrér anden dækning",
            "Registrér dækning",
            "AndenDaekning",
            "Den anden dækning er registreret.",
            "Beløb (kr.)",
            None,
            "En anden dækning (fx en bankindbetaling) nedsætter restancen. Den kan kun "
            "tilbageføres ved manuel behandling.",
            _restance,
        ),
    )
}


def check_change(
    action: Action, typed: Typed, ledger: ClaimLedger
) -> tuple[Checked | None, dict[str, str]]:
    """The change a form asks for, or what is wrong with it (by field)."""
    errors: dict[str, str] = {}
    if ledger.claim.annulled:
        name = "beloeb" if action.amount_label is not None else "tekst"
        return None, {name: "Fordringen er annulleret og kan ikke ændres"}
    amount = 0
    if action.amount_label is not None:
        try:
            amount = parse_positive_kroner(typed.amount)
        except InvalidAmount as exc:
            errors["beloeb"] = str(exc)
        else:
            if action.limit is not None:
                largest, message = action.limit(ledger)
                if amount > largest:
                    errors["beloeb"] = message
    text = typed.text.strip()
    if action.text_label is not None and (wrong := text_error(text, "Begrundelsen", MAX_TEXT)):
        errors["tekst"] = wrong
    if errors:
        return None, errors
    return Checked(amount, text or None), {}


def _typed(form: FormData) -> Typed:
    return Typed(field(form, "beloeb", 60), field(form, "tekst", 400))


def search_router(site: StaffSite) -> APIRouter:
    """Finding claims: by a citizen's CPR-nummer, a FordringId or a Debitorkonto."""
    pages = site.pages
    service = site.service
    router = pages.router(site.root)

    @router.get("/")
    def own_authority(request: Request) -> Response:
        """Staff go on to their own authority's pages."""
        user = pages.access.require(request, Role.OPKRAEVNING)
        return pages.redirect(request, f"{site.base(str(user.scope))}/")

    def search_page(
        request: Request, cvr: str, typed: str = "", error: str = "", status: int = 200
    ) -> Response:
        return site.render(
            request,
            "debitorsystem/search.html",
            cvr,
            "search",
            status=status,
            typed=typed,
            errors={SEARCH_FIELD: error} if error else {},
        )

    @router.get("/myndigheder/{cvr}/")
    def search_form(request: Request, cvr: str) -> Response:
        site.staff(request, cvr)
        return search_page(request, cvr)

    @router.post("/myndigheder/{cvr}/")
    async def search(request: Request, cvr: str) -> Response:
        site.staff(request, cvr)
        form = await pages.access.form(request)
        typed = field(form, SEARCH_FIELD, 60).strip()
        if not typed:
            return search_page(request, cvr, typed, "Skriv et CPR-nummer eller et FordringId", 422)
        try:
            claim_id = parse_uuid(typed, "FordringId")
        except InvalidId:
            pass
        else:
            return pages.redirect(request, site.claim_url(cvr, claim_id))
        try:
            part_id = parse_cpr(typed)
        except InvalidCpr:
            return search_page(
                request,
                cvr,
                typed,
                "Skriv et CPR-nummer (10 cifre, fx 010190-1234) eller et FordringId "
                "(fx 3f2b8c1e-0a4d-4e5f-9a7b-1c2d3e4f5a6b)",
                422,
            )
        return pages.redirect(request, f"{site.base(cvr)}/borgere/{cpr_digits(part_id)}")

    def claims_page(
        request: Request, cvr: str, heading: str, ledgers: list[ClaimLedger], empty: str
    ) -> Response:
        return site.render(
            request,
            "debitorsystem/claims.html",
            cvr,
            "search",
            heading=heading,
            ledgers=ledgers,
            empty=empty,
            limit=LIST_LIMIT,
        )

    @router.get("/myndigheder/{cvr}/borgere/{cpr}")
    async def citizen(request: Request, cvr: str, cpr: str) -> Response:
        site.staff(request, cvr)
        part_id = party_in_path(cpr)
        ledgers = await site.call(service.claims_of, cvr, part_id=part_id, limit=LIST_LIMIT)
        shown = masked_cpr(part_id)
        return claims_page(
            request,
            cvr,
            f"Borger {shown}",
            ledgers,
            f"Borgeren med CPR-nummer {shown} hæfter ikke for nogen fordring hos "
            f"{site.authority_text(cvr)}.",
        )

    @router.get("/myndigheder/{cvr}/konti/{account_text}")
    async def account(request: Request, cvr: str, account_text: str) -> Response:
        site.staff(request, cvr)
        account_id = uuid_in_path(account_text, "DebitorkontoId")
        ledgers = await site.call(service.claims_of, cvr, account_id=account_id, limit=LIST_LIMIT)
        return claims_page(
            request,
            cvr,
            f"Debitorkonto {account_id}",
            ledgers,
            f"Debitorkontoen findes ikke hos {site.authority_text(cvr)}.",
        )

    return router


def claim_router(site: StaffSite) -> APIRouter:
    """A claim's page and its changes, each with a confirm step."""
    pages = site.pages
    service = site.service
    router = pages.router(site.root)

    async def ledger_of(cvr: str, claim_text: str) -> ClaimLedger:
        claim_id = uuid_in_path(claim_text, "FordringId")
        return await site.call(service.claim, cvr, claim_id)

    @router.get("/myndigheder/{cvr}/fordringer/{claim_text}")
    async def claim(
        request: Request, cvr: str, claim_text: str, besked: QueryText = None
    ) -> Response:
        site.staff(request, cvr)
        ledger = await ledger_of(cvr, claim_text)
        done = next((a.done for a in ACTIONS.values() if a.slug == besked), "")
        return site.render(
            request,
            "debitorsystem/claim.html",
            cvr,
            "search",
            ledger=ledger,
            actions=list(ACTIONS.values()),
            notice_text=done,
        )

    def action_of(slug: str) -> Action:
        found = ACTIONS.get(slug)
        if found is None:
            raise NOT_FOUND
        return found

    def action_page(
        request: Request,
        cvr: str,
        *,
        ledger: ClaimLedger,
        action: Action,
        typed: Typed,
        errors: dict[str, str],
        status: int = 200,
    ) -> Response:
        return site.render(
            request,
            "debitorsystem/action.html",
            cvr,
            "search",
            status=status,
            ledger=ledger,
            action=action,
            typed=typed,
            errors=errors,
        )

    base = "/myndigheder/{cvr}/fordringer/{claim_text}/{slug}"

    @router.get(base)
    async def action_form(request: Request, cvr: str, claim_text: str, slug: str) -> Response:
        site.staff(request, cvr)
        action = action_of(slug)
        ledger = await ledger_of(cvr, claim_text)
        return action_page(request, cvr, ledger=ledger, action=action, typed=Typed(), errors={})

    async def read_change(
        request: Request, cvr: str, claim_text: str, slug: str
    ) -> tuple[FormData, Action, ClaimLedger, Typed, Checked]:
        """Both POSTs: the change, checked against the claim (else the form again, 422)."""
        site.staff(request, cvr)
        form = await pages.access.form(request)
        action = action_of(slug)
        ledger = await ledger_of(cvr, claim_text)
        typed = _typed(form)
        change = checked(
            check_change(action, typed, ledger),
            lambda errors: action_page(
                request, cvr, ledger=ledger, action=action, typed=typed, errors=errors, status=422
            ),
        )
        return form, action, ledger, typed, change

    @router.post(base)
    async def action_check(request: Request, cvr: str, claim_text: str, slug: str) -> Response:
        _, action, ledger, _, change = await read_change(request, cvr, claim_text, slug)
        return site.render(
            request,
            "debitorsystem/action_confirm.html",
            cvr,
            "search",
            ledger=ledger,
            action=action,
            change=change,
            key=new_key(),
        )

    @router.post(base + "/bekraeft")
    async def action_do(request: Request, cvr: str, claim_text: str, slug: str) -> Response:
        form, action, ledger, typed, change = await read_change(request, cvr, claim_text, slug)
        key = key_of(form, "Ændringen kunne ikke gemmes")
        claim_id = ledger.claim.id
        request_json: dict[str, object] = {"FordringId": str(claim_id), "Tekst": change.text}
        if action.amount_label is not None:
            request_json["Beloeb"] = _decimal(change.amount)
        try:
            await site.call(
                service.once,
                cvr,
                key,
                action.operation,
                request_json,
                step=step_of(service, action, cvr, claim_id, change),
                render=lambda change: {"FordringId": str(change.ledger.claim.id)},
            )
        except PageError as refused:
            name = "beloeb" if action.amount_label is not None else "tekst"
            return action_page(
                request,
                cvr,
                ledger=ledger,
                action=action,
                typed=typed,
                errors={name: refused.text},
                status=refused.status,
            )
        return pages.redirect(request, f"{site.claim_url(cvr, claim_id)}?besked={action.slug}")

    return router


def step_of(
    service: DebitorService, action: Action, cvr: str, claim_id: UUID, change: Checked
) -> Step[LedgerChange]:
    """The staff use case that makes `action`'s change."""
    if action.slug == "nedregulering":
        return service.write_down_step(cvr, claim_id, change.amount, change.text)
    if action.slug == "annullering":
        return service.annul_step(cvr, claim_id, change.text)
    return service.other_coverage_step(cvr, claim_id, change.amount)


def _decimal(ore: int) -> str:
    """`1234.50`: the amount as the REST API's body writes it."""
    whole, cents = divmod(ore, 100)
    return f"{whole}.{cents:02d}"

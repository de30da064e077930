"""Signing in through the organisation's identity provider: OpenID Connect.

When the settings name an issuer (`INDBETALING_WEB_OIDC_ISSUER`, see docs/oidc.md), `/log-ind`
sends people to the provider instead of asking for a password. The flow is the authorization
code flow with PKCE (S256):

1. `/log-ind/oidc` makes a fresh `state`, `nonce` and code verifier, keeps them in a short-lived
   signed cookie (HttpOnly, SameSite=Lax, only sent to `/log-ind/oidc`) and sends the browser to
   the provider's authorization endpoint (from its discovery document).
2. The provider sends the browser back to `/log-ind/oidc/svar` with a code and the state. The
   state must be the cookie's; the cookie is then spent (a second answer finds none).
3. The code, with the verifier, is exchanged at the token endpoint (client secret by HTTP Basic,
   or none for a public client) for an ID token, which must be signed by a key in the provider's
   JWKS (asymmetric algorithms only), issued by the configured issuer, for this client (`aud`,
   and `azp` when there are several audiences), not expired, and carry the flow's `nonce`.
4. The user's role and scope come from one claim (`roles` unless configured; a dotted name such
   as `realm_access.roles` reads a nested claim): the first value that names a role of the pages
   wins, e.g. `sagsbehandler:<fagsystem-id>`, `opkraevning:<cvr>`, `finans`,
   `beskedfordeler-admin:<abonnent-id>`, `beskedfordeler-drift`. Without one the sign-in is
   refused; with one the session cookie is the same as for a password sign-in.

Every refusal is a `PageError` with a Danish text and a code (`OIDC_...`); no session is made.
authlib makes the state, nonce, PKCE verifier and challenge and the authorization URL;
joserfc (authlib's JOSE library) verifies the ID token.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from indbetaling.ui.access import PageError
from indbetaling.ui.users import Role, WebUser

START_PATH = "/log-ind/oidc"
CALLBACK_PATH = "/log-ind/oidc/svar"
FLOW_COOKIE = "indbetaling_oidc"
FLOW_MAX_AGE_SECONDS = 600
CLOCK_LEEWAY_SECONDS = 60
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")

ROLE_NAMES = {
    "sagsbehandler": Role.SAGSBEHANDLER,
    "opkraevning": Role.OPKRAEVNING,
    "finans": Role.FINANS,
    "beskedfordeler-admin": Role.BESKEDFORDELER_ADMIN,
    "beskedfordeler-drift": Role.BESKEDFORDELER_DRIFT,
}
"""The claim's role names; a scoped role is written `name:scope`."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None
    """None for a public client (PKCE only)."""
    base_url: str
    """Where the pages are served; the redirect URI is `base_url + CALLBACK_PATH`."""
    roles_claim: str = "roles"
    scope: str = "openid profile"
    provider_name: str = "organisationens log-ind"
    """How the sign-in page names the provider (`Log ind med ...`)."""

    @property
    def redirect_uri(self) -> str:
        return self.base_url.rstrip("/") + CALLBACK_PATH

    @property
    def signed_out_uri(self) -> str:
        """Where the provider sends the browser after signing out there."""
        return self.base_url.rstrip("/") + "/log-ind"


def refusal(status: int, text: str, code: str) -> PageError:
    return PageError(status, "Log-ind kunne ikke gennemføres", text, code)


def _scope_of(role: Role, scope: str) -> str | None:
    """The scope written after the role name, normalised; None when it is not one."""
    if role in (Role.SAGSBEHANDLER, Role.BESKEDFORDELER_ADMIN):
        try:
            return str(uuid.UUID(scope))
        except ValueError:
            return None
    if role is Role.OPKRAEVNING:
        return scope if len(scope) == 8 and scope.isascii() and scope.isdigit() else None
    return None


def parse_role(value: object) -> tuple[Role, str | None] | None:
    """`sagsbehandler:<uuid>` → (SAGSBEHANDLER, uuid); None for anything else. Keycloak's
    group paths (`/finans`) are read without their leading slash."""
    if not isinstance(value, str):
        return None
    name, colon, scope = value.strip().lstrip("/").partition(":")
    role = ROLE_NAMES.get(name.strip().lower())
    if role is None:
        return None
    if role in (Role.FINANS, Role.BESKEDFORDELER_DRIFT):
        return None if colon else (role, None)
    normalised = _scope_of(role, scope.strip())
    return None if normalised is None else (role, normalised)


def claim_values(claims: dict[str, Any], claim: str) -> list[object]:
    """The values of `claim` (a dotted name reads nested objects); a single string counts as
    one value."""
    value: object = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, list) else []


def user_from_claims(
    claims: dict[str, Any],
    claim: str,
    *,
    home: Callable[[Role, str | None], str],
    known: Callable[[Role, str | None], bool] = lambda role, scope: True,
) -> WebUser | None:
    """The pages' user for a verified ID token: the first value of `claim` naming a role of a
    fagsystem, authority or subscriber this installation has; None when there is none."""
    for value in claim_values(claims, claim):
        parsed = parse_role(value)
        if parsed is None or not known(*parsed):
            continue
        role, scope = parsed
        return WebUser(username_of(claims), display_name(claims), role, scope, home(role, scope))
    return None


def username_of(claims: dict[str, Any]) -> str:
    for key in ("preferred_username", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return "ukendt"


def display_name(claims: dict[str, Any]) -> str:
    name = claims.get("name")
    return name[:200] if isinstance(name, str) and name.strip() else username_of(claims)


@dataclass(frozen=True)
class Flow:
    """One sign-in under way: what the answer must match."""

    state: str
    nonce: str
    verifier: str
    next_path: str


@dataclass
class _Provider:
    metadata: dict[str, Any]
    keys: KeySet
    keys_fetched: float


@dataclass
class OidcSignIn:
    """The relying party: starts sign-ins, checks answers, verifies ID tokens."""

    config: OidcConfig
    secret: str
    secure: bool
    home: Callable[[Role, str | None], str] = lambda role, scope: "/"
    """The page a user of a role lands on."""
    known: Callable[[Role, str | None], bool] = lambda role, scope: True
    """Whether this installation has the role's fagsystem, authority or subscriber."""
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=15))
    _provider: _Provider | None = None

    def __post_init__(self) -> None:
        self._flows = URLSafeTimedSerializer(self.secret, salt="indbetaling-oidc-flow")

    # -- the provider's metadata and keys ---------------------------------------------------

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            answer = await self.http.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            data = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise refusal(
                502,
                f"Log-ind-tjenesten kunne ikke nås ({what}). Prøv igen om lidt.",
                "OIDC_UTILGAENGELIG",
            ) from error
        if not isinstance(data, dict):
            raise refusal(502, f"Log-ind-tjenestens {what} kunne ikke læses.", "OIDC_METADATA")
        return data

    async def provider(self, *, refresh_keys: bool = False) -> _Provider:
        if self._provider is None:
            issuer = self.config.issuer.rstrip("/")
            metadata = await self._get_json(
                f"{issuer}/.well-known/openid-configuration", "opdagelsesdokument"
            )
            needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
            if not all(isinstance(metadata.get(key), str) for key in needed):
                raise refusal(
                    502, "Log-ind-tjenestens opdagelsesdokument er ugyldigt.", "OIDC_METADATA"
                )
            if metadata.get("issuer") != self.config.issuer:
                raise refusal(
                    502,
                    "Log-ind-tjenesten oplyser en anden udsteder end den, der er sat op.",
                    "OIDC_METADATA",
                )
            keys = await self._keys(metadata)
            self._provider = _Provider(metadata, keys, time.monotonic())
        elif refresh_keys and time.monotonic() - self._provider.keys_fetched > 30:
            self._provider.keys = await self._keys(self._provider.metadata)
            self._provider.keys_fetched = time.monotonic()
        return self._provider

    async def _keys(self, metadata: dict[str, Any]) -> KeySet:
        data = await self._get_json(str(metadata["jwks_uri"]), "nøgler")
        try:
            return KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise refusal(
                502, "Log-ind-tjenestens nøgler kan ikke læses.", "OIDC_METADATA"
            ) from error

    async def end_session_url(self) -> str | None:
        """The provider's sign-out page (with the way back here), when it has one."""
        try:
            metadata = (await self.provider()).metadata
        except PageError:
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            return None
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "post_logout_redirect_uri": self.config.signed_out_uri,
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def user(self, claims: dict[str, Any]) -> WebUser:
        """The pages' user for verified claims; refused when they name no role here."""
        user = user_from_claims(claims, self.config.roles_claim, home=self.home, known=self.known)
        if user is None:
            values = [
                v for v in claim_values(claims, self.config.roles_claim) if isinstance(v, str)
            ]
            raise no_role(self.config, claims, values)
        return user

    # -- the flow ----------------------------------------------------------------------------

    async def start(self, next_path: str) -> tuple[str, str]:
        """The authorization URL to send the browser to, and the flow cookie's value."""
        metadata = (await self.provider()).metadata
        flow = Flow(generate_token(32), generate_token(32), generate_token(64), next_path)
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.config.redirect_uri,
            scope=self.config.scope,
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )
        cookie = self._flows.dumps([flow.state, flow.nonce, flow.verifier, flow.next_path])
        return str(url), cookie

    def flow(self, cookie: str | None) -> Flow | None:
        """The flow the browser's cookie holds; None when there is none or it is too old."""
        if not cookie:
            return None
        try:
            data = self._flows.loads(cookie, max_age=FLOW_MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not (
            isinstance(data, list) and len(data) == 4 and all(isinstance(d, str) for d in data)
        ):
            return None
        return Flow(*data)

    async def finish(self, flow: Flow | None, params: dict[str, str]) -> dict[str, Any]:
        """The verified ID token's claims for the provider's answer `params` to `flow`."""
        if flow is None:
            raise refusal(
                400,
                "Log-ind er udløbet eller blev startet i en anden browser. Start forfra.",
                "OIDC_INTET_LOGIND",
            )
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise refusal(
                400,
                "Svaret fra log-ind-tjenesten hører ikke til dette log-ind (state passer ikke). "
                "Start forfra.",
                "OIDC_STATE",
            )
        if "error" in params:
            description = params.get("error_description") or params["error"]
            raise refusal(
                403,
                f"Log-ind-tjenesten afviste log-ind: {description[:200]}",
                "OIDC_AFVIST",
            )
        code = params.get("code")
        if not code:
            raise refusal(400, "Svaret fra log-ind-tjenesten mangler en kode.", "OIDC_KODE")
        id_token = await self._exchange(code, flow)
        return await self.verify(id_token, nonce=flow.nonce)

    async def _exchange(self, code: str, flow: Flow) -> str:
        metadata = (await self.provider()).metadata
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": flow.verifier,
        }
        auth: tuple[str, str] | None = None
        if self.config.client_secret is None:
            form["client_id"] = self.config.client_id
        else:  # RFC 6749 §2.3.1: both form-encoded before Basic
            auth = (
                quote(self.config.client_id, safe=""),
                quote(self.config.client_secret, safe=""),
            )
        try:
            answer = await self.http.post(
                metadata["token_endpoint"],
                data=form,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
            tokens = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise refusal(
                502, "Log-ind-tjenesten kunne ikke nås. Prøv igen om lidt.", "OIDC_UTILGAENGELIG"
            ) from error
        if answer.status_code != 200 or not isinstance(tokens, dict):
            reason = tokens.get("error") if isinstance(tokens, dict) else None
            raise refusal(
                403,
                "Log-ind-tjenesten ville ikke udstede et ID-token "
                f"({reason or answer.status_code}). Start forfra.",
                "OIDC_TOKEN",
            )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise refusal(403, "Log-ind-tjenesten sendte intet ID-token.", "OIDC_TOKEN")
        return id_token

    async def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature, issuer, audience, lifetime and nonce
        hold."""
        provider = await self.provider()
        try:
            token = jwt.decode(id_token, provider.keys, algorithms=list(ID_TOKEN_ALGORITHMS))
        except JoseError:
            # The provider may have rolled its keys: read them again (at most twice a minute).
            provider = await self.provider(refresh_keys=True)
            try:
                token = jwt.decode(id_token, provider.keys, algorithms=list(ID_TOKEN_ALGORITHMS))
            except JoseError as error:
                raise refusal(
                    401,
                    "ID-tokenet er ikke underskrevet af log-ind-tjenesten, så det kan ikke bruges.",
                    "OIDC_SIGNATUR",
                ) from error
        claims = dict(token.claims)
        self._check_claims(claims, nonce)
        return claims

    def _check_claims(self, claims: dict[str, Any], nonce: str) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as error:
            raise refusal(401, "ID-tokenet er udløbet. Log ind igen.", "OIDC_UDLOEBET") from error
        except (InvalidClaimError, MissingClaimError) as error:
            texts = {
                "iss": ("ID-tokenet er udstedt af en anden log-ind-tjeneste.", "OIDC_UDSTEDER"),
                "aud": ("ID-tokenet er udstedt til et andet system.", "OIDC_MODTAGER"),
            }
            text, code = texts.get(
                error.claim, (f"ID-tokenet er ugyldigt ({error.claim}).", "OIDC_UGYLDIG")
            )
            raise refusal(401, text, code) from error
        except JoseError as error:
            raise refusal(401, "ID-tokenet er ugyldigt.", "OIDC_UGYLDIG") from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise refusal(401, "ID-tokenet er udstedt til et andet system.", "OIDC_MODTAGER")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(
            token_nonce.encode(), nonce.encode()
        ):
            raise refusal(
                401,
                "ID-tokenet hører ikke til dette log-ind (nonce passer ikke). Start forfra.",
                "OIDC_NONCE",
            )


def no_role(config: OidcConfig, claims: dict[str, Any], roles: Sequence[str]) -> PageError:
    return PageError(
        403,
        "Ingen adgang til Indbetaling",
        f"Du er logget ind hos {config.provider_name} som {display_name(claims)}, men du har "
        "ingen rolle i Indbetaling her (sagsbehandler, opkrævning, økonomi eller "
        "Beskedfordeleren). Bed din administrator om at tildele dig en rolle. "
        f"Rollerne læses fra ID-tokenets felt '{config.roles_claim}'"
        + (f", som har: {', '.join(roles)[:300]}." if roles else ", som dit ID-token ikke har."),
        "OIDC_INGEN_ROLLE",
    )

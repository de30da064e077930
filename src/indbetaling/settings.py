"""Settings from the environment (prefix `INDBETALING_`) or a `.env` file; every default is safe.

The embedded default keeps each part's SQLite file under `data_dir` and moves messages through
the database. Production sets a PostgreSQL URL per part and an AMQP URL.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Part = Literal[
    "debitorsystem", "fagsystem", "serviceplatform", "beskedfordeler", "finance", "nemkonto"
]
PARTS: tuple[Part, ...] = (
    "debitorsystem",
    "fagsystem",
    "serviceplatform",
    "beskedfordeler",
    "finance",
    "nemkonto",
)

ServedPart = Literal[
    "gateway", "debitorsystem", "fagsystem", "beskedfordeler", "finance", "nemkonto"
]
"""A part as `indbetaling serve` and `indbetaling migrate` name it (CONTRACT §8)."""
SERVED_PARTS: tuple[ServedPart, ...] = (
    "gateway",
    "debitorsystem",
    "fagsystem",
    "beskedfordeler",
    "finance",
    "nemkonto",
)


def stored_part(part: ServedPart) -> Part:
    """The part whose database and migrations a served part uses: the gateway's are the
    Serviceplatform's."""
    return "serviceplatform" if part == "gateway" else part


SecretName = Literal[
    "operator_token",
    "debitorsystem_client_secret",
    "debitorsystem_auditor_token",
    "finance_token",
    "web_session_secret",
    "web_oidc_client_secret",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INDBETALING_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None
    """The URL clients reach us at; defaults to http://host:port."""

    debitorsystem_database_url: str | None = None
    fagsystem_database_url: str | None = None
    serviceplatform_database_url: str | None = None
    beskedfordeler_database_url: str | None = None
    finance_database_url: str | None = None
    nemkonto_database_url: str | None = None

    # -- where the other parts are (`indbetaling serve PART`; `run` serves them all at base_url)
    gateway_url: str | None = None
    """The gateway's (Serviceplatform's) base URL: tokens, routed services, `BeskedAfsend`, and
    the platform's public keys at `/sts/jwks`."""
    debitorsystem_url: str | None = None
    """The debitorsystem's base URL (finance reads its coverages there to reconcile)."""
    fagsystem_url: str | None = None
    """The fagsystem part's base URL (finance reads the hosted fagsystems' payments there)."""
    finance_url: str | None = None
    """Finance's base URL (the fagsystems book their postings there)."""
    nemkonto_url: str | None = None
    """NemKonto's base URL (the fagsystems send their pay-backs there)."""
    platform_jwks_file: Path | None = None
    """The platform's public keys (JWKS) as a file; without it a part fetches them from
    `<gateway_url>/sts/jwks` at start, trying again until the gateway answers."""
    platform_jwks: str | None = None
    """The platform's JWKS itself (JSON); `serve` hands what it fetched to its workers so."""
    fagsystems_file: Path | None = None
    """The fagsystems the fagsystem part hosts and finance reconciles (JSON, see README)."""
    debitorsystem_id: uuid.UUID | None = None
    """The debitorsystem's it-system UUID at the platform (default: the demo's)."""
    debitorsystem_client_id: str = "debitorsystem"
    """The debitorsystem's client id at the platform's token service."""
    worker_start_seconds: int = Field(default=60, ge=5)
    """`serve --workers N`: how long a worker may take to answer its supervisor before it is
    taken for hung and replaced (a start on a busy machine takes more than uvicorn's 5 s)."""

    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """SQLite (embedded default): FULL syncs every commit, so an acknowledged payment survives a
    power loss; NORMAL is faster but may lose the last commits on power loss."""

    amqp_url: str | None = None
    """RabbitMQ; when unset, messages move through the database (embedded default)."""

    idempotency_retention_days: int = Field(default=30, ge=30)
    demo_seed: int = 1590
    demo_claims: int = 2000
    log_json: bool = False
    """Write logs as one JSON object per line (production); readable text otherwise."""
    operator_token: SecretStr | None = None
    """Bearer token of the platform's operators (audit log)."""
    operator_token_file: Path | None = None
    """A file holding the operators' token (instead of `operator_token`)."""
    debitorsystem_client_secret: SecretStr | None = None
    """The debitorsystem's secret at the platform's token service (its relays sign in with it)."""
    debitorsystem_client_secret_file: Path | None = None
    """A file holding the debitorsystem's secret (instead of `debitorsystem_client_secret`)."""
    debitorsystem_auditor_token: SecretStr | None = None
    """Bearer token that reads every authority's coverages in the debitorsystem (the
    reconciliation's view, `/daekninger`); finance uses it."""
    debitorsystem_auditor_token_file: Path | None = None
    """A file holding the auditor token (instead of `debitorsystem_auditor_token`)."""
    finance_token: SecretStr | None = None
    """Bearer token of the finance and NemKonto APIs (postings, payment requests, the
    reconciliation); the fagsystems book with it."""
    finance_token_file: Path | None = None
    """A file holding the finance token (instead of `finance_token`)."""
    web_session_secret: SecretStr | None = None
    """The key the web pages' session cookies are signed with (at least 16 characters)."""
    web_session_secret_file: Path | None = None
    """A file holding the session key (instead of `web_session_secret`)."""
    web_oidc_issuer: str | None = None
    """The OpenID Connect provider's issuer URL. When set, people sign in to the pages through
    it only (no demo passwords); see docs/oidc.md."""
    web_oidc_client_id: str | None = None
    """This installation's client id at the provider (required with the issuer)."""
    web_oidc_client_secret: SecretStr | None = None
    """The client's secret; without it (or its file) the client is a public one (PKCE only)."""
    web_oidc_client_secret_file: Path | None = None
    """A file holding the client's secret (instead of `web_oidc_client_secret`)."""
    web_oidc_roles_claim: str = "roles"
    """The ID token claim holding the user's roles, e.g. `roles`, `groups` or
    `realm_access.roles` (a dotted name reads a nested claim)."""
    web_oidc_scope: str = "openid profile"
    """The scopes asked for; `openid` must be among them."""
    web_oidc_provider_name: str = "organisationens log-ind"
    """How the sign-in page names the provider (`Log ind med ...`)."""

    def secret(self, name: SecretName) -> str | None:
        """A secret from the environment or from its `_file` setting; None when neither is set.
        Where the embedded default finds none it makes a random one for its data folder."""
        value: SecretStr | None = getattr(self, name)
        if value is not None and value.get_secret_value():
            return value.get_secret_value()
        path: Path | None = getattr(self, f"{name}_file")
        if path is not None:
            text = path.read_text().strip()
            if not text:
                raise ValueError(f"{path} is empty")
            return text
        return None

    def database_url(self, part: Part) -> str:
        url: str | None = getattr(self, f"{part}_database_url")
        if url:
            return url
        return f"sqlite:///{(self.data_dir / f'{part}.sqlite').as_posix()}"

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"

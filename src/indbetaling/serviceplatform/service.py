"""The Serviceplatform's use cases: registrations, the token service, checks, routes, audit.

Everything here is synchronous and talks to the platform's own database only; `api.Gateway`
calls it from worker threads.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine, Row, delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from indbetaling.db import read, write
from indbetaling.serviceplatform import store
from indbetaling.serviceplatform.domain import (
    CLIENT_ASSERTION_ALGORITHMS,
    CLIENT_ASSERTION_TYPE,
    MAX_CLIENT_ASSERTION_LIFETIME_SECONDS,
    TOKEN_ALGORITHM,
    TOKEN_ISSUER,
    AuditEntry,
    AuthError,
    OAuthError,
    Role,
    TokenIdentity,
    parse_scope,
)
from indbetaling.serviceplatform.secret_hash import DEFAULT_COST, hash_secret, verify_secret

Clock = Callable[[], float]
DEFAULT_TOKEN_TTL_SECONDS = 3600
CLOCK_SKEW_SECONDS = 30
KEY_LOCK = 1590_0301
"""The PostgreSQL advisory lock under which the first signing key is made."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": TOKEN_ALGORITHM}


@dataclass(frozen=True)
class Endpoint:
    it_system_id: uuid.UUID
    soap_url: str | None
    rest_url: str | None


class Serviceplatform:
    def __init__(
        self,
        engine: Engine,
        entity_ids: frozenset[str],
        *,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        clock: Clock = time.time,
        secret_cost: int = DEFAULT_COST,
    ) -> None:
        self.engine = engine
        self.entity_ids = entity_ids
        self.token_ttl_seconds = token_ttl_seconds
        self.clock = clock
        self.secret_cost = secret_cost
        self._key: SigningKey | None = None

    # -- registrations -----------------------------------------------------------------

    def register_it_system(
        self,
        it_system_id: uuid.UUID,
        name: str,
        client_id: str,
        *,
        client_secret: str | None = None,
        public_key_pem: str | None = None,
    ) -> None:
        """Register an it-system with its client credentials (a secret, a public key or both)."""
        if public_key_pem is not None:
            serialization.load_pem_public_key(public_key_pem.encode())  # refuse what is no key
        values = {
            "name": name,
            "client_id": client_id,
            "secret_hash": hash_secret(client_secret, self.secret_cost) if client_secret else None,
            "public_key_pem": public_key_pem,
        }
        with write(self.engine) as conn:
            existing = conn.execute(
                select(store.it_system.c.id).where(store.it_system.c.id == str(it_system_id))
            ).first()
            if existing:
                conn.execute(
                    store.it_system.update()
                    .where(store.it_system.c.id == str(it_system_id))
                    .values(**values)
                )
            else:
                conn.execute(
                    insert(store.it_system).values(
                        id=str(it_system_id), created_at=self._now(), **values
                    )
                )

    def add_agreement(
        self, it_system_id: uuid.UUID, authority_cvr: str, entity_id: str, role: Role
    ) -> None:
        """A service agreement: `it_system_id` may consume/provide `entity_id` for the authority.

        A provider agreement for the DebitorIndbetalingAfsend kind of service (routed by CVR)
        also makes that it-system the authority's route; there is one route per authority.
        """
        with write(self.engine) as conn:
            row = {
                "it_system_id": str(it_system_id),
                "authority_cvr": authority_cvr,
                "entity_id": entity_id,
                "role": role.value,
            }
            found = conn.execute(select(store.agreement).filter_by(**row)).first()
            if found is None:
                conn.execute(insert(store.agreement).values(**row))

    def end_agreement(
        self, it_system_id: uuid.UUID, authority_cvr: str, entity_id: str, role: Role
    ) -> None:
        """The agreement ends: no new tokens, and the gateway refuses calls at once (403), also
        with tokens issued before."""
        with write(self.engine) as conn:
            conn.execute(
                delete(store.agreement).where(
                    store.agreement.c.it_system_id == str(it_system_id),
                    store.agreement.c.authority_cvr == authority_cvr,
                    store.agreement.c.entity_id == entity_id,
                    store.agreement.c.role == role.value,
                )
            )

    def route_authority(self, authority_cvr: str, entity_id: str, provider: uuid.UUID) -> None:
        """Calls of `entity_id` for this authority go to `provider` (one provider per authority)."""
        with write(self.engine) as conn:
            conn.execute(
                delete(store.provider_route).where(
                    store.provider_route.c.authority_cvr == authority_cvr,
                    store.provider_route.c.entity_id == entity_id,
                )
            )
            conn.execute(
                insert(store.provider_route).values(
                    authority_cvr=authority_cvr, entity_id=entity_id, it_system_id=str(provider)
                )
            )

    def set_endpoint(
        self,
        it_system_id: uuid.UUID,
        entity_id: str,
        soap_url: str | None,
        rest_url: str | None = None,
    ) -> None:
        """Where `it_system_id` offers `entity_id` (absolute URLs; SOAP endpoint, REST base)."""
        with write(self.engine) as conn:
            conn.execute(
                delete(store.endpoint).where(
                    store.endpoint.c.it_system_id == str(it_system_id),
                    store.endpoint.c.entity_id == entity_id,
                )
            )
            conn.execute(
                insert(store.endpoint).values(
                    it_system_id=str(it_system_id),
                    entity_id=entity_id,
                    soap_url=soap_url,
                    rest_url=rest_url,
                )
            )

    # -- keys --------------------------------------------------------------------------

    def signing_key(self) -> SigningKey:
        """The platform's signing key, made on first use and shared through the database."""
        if self._key is not None:
            return self._key
        with read(self.engine) as conn:
            row = conn.execute(
                select(store.signing_key).order_by(store.signing_key.c.created_at).limit(1)
            ).first()
        if row is None:
            private = ec.generate_private_key(ec.SECP256R1())
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            kid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            try:
                with write(self.engine) as conn:
                    if conn.dialect.name == "postgresql":
                        # gateway processes starting at once make one key, not one each
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEY_LOCK})
                    if conn.execute(select(store.signing_key.c.kid)).first() is None:
                        conn.execute(
                            insert(store.signing_key).values(
                                kid=kid, private_pem=pem, created_at=self._now()
                            )
                        )
            except IntegrityError:
                pass
            with read(self.engine) as conn:
                row = conn.execute(
                    select(store.signing_key).order_by(store.signing_key.c.created_at).limit(1)
                ).first()
        if row is None:
            raise RuntimeError("the platform signing key could not be stored")
        loaded = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise TypeError("the platform signing key must be an EC key")
        self._key = SigningKey(kid=row.kid, private_key=loaded)
        return self._key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key().jwk()]}

    # -- token service -------------------------------------------------------------------

    def issue_token(
        self, form: Mapping[str, str], token_url: str, basic: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """RFC 6749 client credentials (client_secret or RFC 7523 private_key_jwt)."""
        if form.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "grant_type skal være client_credentials")
        scope = parse_scope(form.get("scope", ""), self.entity_ids)
        it_system_id, client_id = self._authenticate_client(form, token_url, basic)
        if not self.has_agreement(
            it_system_id, scope.authority_cvr, scope.entity_id, Role.CONSUMER
        ):
            raise OAuthError(
                "invalid_scope",
                "Ingen serviceaftale mellem it-systemet og myndigheden for denne tjeneste / "
                "no service agreement for this it-system, authority and service",
            )
        now = int(self.clock())
        key = self.signing_key()
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": str(it_system_id),
            "client_id": client_id,
            "aud": scope.entity_id,
            "cvr": scope.authority_cvr,
            "scope": scope.render(),
            "iat": now,
            "nbf": now,
            "exp": now + self.token_ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(
            claims, key.private_key, algorithm=TOKEN_ALGORITHM, headers={"kid": key.kid}
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl_seconds,
            "scope": scope.render(),
        }

    def _authenticate_client(
        self, form: Mapping[str, str], token_url: str, basic: tuple[str, str] | None
    ) -> tuple[uuid.UUID, str]:
        assertion_type = form.get("client_assertion_type")
        if assertion_type is not None:
            if assertion_type != CLIENT_ASSERTION_TYPE:
                raise OAuthError("invalid_request", "ukendt client_assertion_type")
            return self._authenticate_assertion(form, token_url)
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        row = self._client(client_id)
        if row is None or not row.secret_hash or not verify_secret(secret, row.secret_hash):
            raise OAuthError("invalid_client", "ukendt klient eller forkert hemmelighed", 401)
        return uuid.UUID(row.id), client_id

    def _authenticate_assertion(
        self, form: Mapping[str, str], token_url: str
    ) -> tuple[uuid.UUID, str]:
        assertion = form.get("client_assertion", "")
        invalid = OAuthError("invalid_client", "client_assertion kan ikke godkendes", 401)
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise invalid from None
        client_id = str(unverified.get("iss", ""))
        if form.get("client_id") not in (None, client_id):
            raise invalid
        row = self._client(client_id)
        if row is None or not row.public_key_pem:
            raise invalid
        try:
            claims = jwt.decode(
                assertion,
                row.public_key_pem,
                algorithms=CLIENT_ASSERTION_ALGORITHMS,
                audience=token_url,
                issuer=client_id,
                options={"require": ["iss", "sub", "aud", "exp", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise invalid from None
        now = int(self.clock())
        exp = int(claims["exp"])
        if claims["sub"] != client_id or exp < now - CLOCK_SKEW_SECONDS:
            raise invalid
        if exp > now + MAX_CLIENT_ASSERTION_LIFETIME_SECONDS:
            raise OAuthError("invalid_client", "client_assertion lever for længe", 401)
        try:
            with write(self.engine) as conn:
                conn.execute(
                    delete(store.used_assertion).where(store.used_assertion.c.expires_at < now)
                )
                conn.execute(
                    insert(store.used_assertion).values(
                        client_id=client_id, jti=str(claims["jti"])[:200], expires_at=exp
                    )
                )
        except IntegrityError:
            raise OAuthError("invalid_client", "client_assertion er brugt før", 401) from None
        return uuid.UUID(row.id), client_id

    def _client(self, client_id: str) -> Row[Any] | None:
        if not client_id:
            return None
        with read(self.engine) as conn:
            return conn.execute(
                select(store.it_system).where(store.it_system.c.client_id == client_id)
            ).first()

    # -- checks on every call ------------------------------------------------------------

    def verify_token(self, authorization: str | None, entity_id: str) -> TokenIdentity:
        """The identity in a bearer token for `entity_id`, or `AuthError(401)`."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError(401, "Adgangstoken mangler / bearer token missing")
        token = authorization[7:].strip()
        key = self.signing_key()
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != key.kid:
                raise AuthError(401, "Ukendt nøgle / token signed by an unknown key")
            claims = jwt.decode(
                token,
                key.private_key.public_key(),
                algorithms=[TOKEN_ALGORITHM],
                audience=entity_id,
                issuer=TOKEN_ISSUER,
                options={
                    "require": ["iss", "sub", "aud", "exp", "iat", "cvr"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthError(401, f"Ugyldigt adgangstoken / invalid token: {exc}") from None
        now = self.clock()
        if int(claims["exp"]) <= now - CLOCK_SKEW_SECONDS:
            raise AuthError(401, "Adgangstokenet er udløbet / the token has expired")
        if int(claims["iat"]) > now + CLOCK_SKEW_SECONDS:
            raise AuthError(401, "Adgangstokenet er udstedt i fremtiden / token not yet valid")
        try:
            it_system_id = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise AuthError(401, "Ugyldigt adgangstoken / invalid subject") from None
        return TokenIdentity(
            it_system_id=it_system_id, authority_cvr=str(claims["cvr"]), entity_id=entity_id
        )

    def has_agreement(
        self, it_system_id: uuid.UUID, authority_cvr: str, entity_id: str, role: Role
    ) -> bool:
        with read(self.engine) as conn:
            return (
                conn.execute(
                    select(store.agreement.c.role).where(
                        store.agreement.c.it_system_id == str(it_system_id),
                        store.agreement.c.authority_cvr == authority_cvr,
                        store.agreement.c.entity_id == entity_id,
                        store.agreement.c.role == role.value,
                    )
                ).first()
                is not None
            )

    def provider_for_authority(self, authority_cvr: str, entity_id: str) -> Endpoint | None:
        """The endpoint of the authority's provider of `entity_id` (its debitorsystem)."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(store.provider_route.c.it_system_id).where(
                    store.provider_route.c.authority_cvr == authority_cvr,
                    store.provider_route.c.entity_id == entity_id,
                )
            ).first()
        if row is None:
            return None
        provider = uuid.UUID(row.it_system_id)
        if not self.has_agreement(provider, authority_cvr, entity_id, Role.PROVIDER):
            return None
        return self.endpoint_of(provider, entity_id)

    def endpoint_of(self, it_system_id: uuid.UUID, entity_id: str) -> Endpoint | None:
        with read(self.engine) as conn:
            row = conn.execute(
                select(store.endpoint).where(
                    store.endpoint.c.it_system_id == str(it_system_id),
                    store.endpoint.c.entity_id == entity_id,
                )
            ).first()
        if row is None:
            return None
        return Endpoint(it_system_id=it_system_id, soap_url=row.soap_url, rest_url=row.rest_url)

    # -- audit ---------------------------------------------------------------------------

    def record(self, entry: AuditEntry) -> None:
        masked = entry.masked()
        with write(self.engine) as conn:
            conn.execute(
                insert(store.audit).values(
                    at=self._now(),
                    it_system_id=str(masked.it_system_id) if masked.it_system_id else None,
                    authority_cvr=masked.authority_cvr,
                    entity_id=masked.entity_id,
                    operation=masked.operation,
                    transaction_uuid=masked.transaction_uuid,
                    outcome=masked.outcome,
                    http_status=masked.http_status,
                    duration_ms=masked.duration_ms,
                    detail=masked.detail,
                    on_behalf_of_user=masked.on_behalf_of_user,
                    callers_service_call_identifier=masked.callers_service_call_identifier,
                    accounting_info=masked.accounting_info,
                )
            )

    def audit_log(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        it_system_id: uuid.UUID | None = None,
        authority_cvr: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; page with `before_id` = the smallest id seen."""
        query = select(store.audit).order_by(store.audit.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(store.audit.c.id < before_id)
        if it_system_id is not None:
            query = query.where(store.audit.c.it_system_id == str(it_system_id))
        if authority_cvr is not None:
            query = query.where(store.audit.c.authority_cvr == authority_cvr)
        with read(self.engine) as conn:
            rows = conn.execute(query).mappings().all()
        return [{**row, "at": row["at"].isoformat()} for row in rows]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

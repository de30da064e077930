"""The Serviceplatform's rules, free of I/O: scopes, token claims, agreements, audit outcomes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from indbetaling.ids import mask_cpr_in_text

SCOPE_PATTERN = re.compile(r"^entityid:(?P<entity>[^,\s]+),anvenderkontekst:(?P<cvr>\d{8})$")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_ALGORITHM = "ES256"  # noqa: S105 (an algorithm name)
CLIENT_ASSERTION_ALGORITHMS = ["RS256", "ES256", "PS256"]
MAX_CLIENT_ASSERTION_LIFETIME_SECONDS = 600
TOKEN_ISSUER = "urn:indbetaling:serviceplatform:sts"  # noqa: S105 (a name)


class Role(StrEnum):
    """A side of a service agreement: the consumer calls the service, the provider offers it."""

    CONSUMER = "consumer"
    PROVIDER = "provider"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token service."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}")


@dataclass(frozen=True)
class Scope:
    entity_id: str
    authority_cvr: str

    def render(self) -> str:
        return f"entityid:{self.entity_id},anvenderkontekst:{self.authority_cvr}"


def parse_scope(text: str, known_entity_ids: frozenset[str]) -> Scope:
    """Read `entityid:<service>,anvenderkontekst:<CVR>`; the service must be one we route."""
    match = SCOPE_PATTERN.match(text.strip())
    if match is None:
        raise OAuthError(
            "invalid_scope",
            "scope skal have formen entityid:<service entity id>,anvenderkontekst:<CVR>",
        )
    entity_id = match.group("entity")
    if entity_id not in known_entity_ids:
        raise OAuthError("invalid_scope", f"ukendt service entity id '{entity_id[:200]}'")
    return Scope(entity_id=entity_id, authority_cvr=match.group("cvr"))


@dataclass(frozen=True)
class TokenIdentity:
    """What a verified access token says: who calls, for which authority, which service."""

    it_system_id: UUID
    authority_cvr: str
    entity_id: str


class AuthError(Exception):
    """A refused call: `status` 401 (who are you?) or 403 (you may not); text in Danish/English."""

    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text
        super().__init__(text)


class Outcome(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CLIENT_FAULT = "CLIENT_FAULT"
    SERVER_FAULT = "SERVER_FAULT"
    UNREACHABLE = "UNREACHABLE"
    NO_ENDPOINT = "NO_ENDPOINT"
    FORWARDED = "FORWARDED"


@dataclass(frozen=True)
class AuditEntry:
    """One call through the gateway, as the audit log keeps it (CPR numbers masked)."""

    it_system_id: UUID | None
    authority_cvr: str | None
    entity_id: str
    operation: str
    transaction_uuid: str | None
    outcome: str
    http_status: int
    duration_ms: int
    detail: str = ""
    on_behalf_of_user: str | None = None
    callers_service_call_identifier: str | None = None
    accounting_info: str | None = None

    def masked(self) -> AuditEntry:
        def mask(text: str | None, limit: int) -> str | None:
            return None if text is None else mask_cpr_in_text(text)[:limit]

        return AuditEntry(
            it_system_id=self.it_system_id,
            authority_cvr=self.authority_cvr,
            entity_id=self.entity_id[:200],
            operation=mask(self.operation, 200) or "",
            transaction_uuid=mask(self.transaction_uuid, 64),
            outcome=self.outcome[:100],
            http_status=self.http_status,
            duration_ms=self.duration_ms,
            detail=mask(self.detail, 1000) or "",
            on_behalf_of_user=mask(self.on_behalf_of_user, 255),
            callers_service_call_identifier=mask(self.callers_service_call_identifier, 255),
            accounting_info=mask(self.accounting_info, 255),
        )


_KODE = re.compile(rb"<(?:[\w.-]+:)?ForretningsValideringsKode>\s*(\w+)\s*<")
_FEJLKODE = re.compile(rb"<(?:[\w.-]+:)?FejlKode>\s*(\w+)\s*<")
_FAULTCODE = re.compile(rb"<faultcode>\s*(?:[\w.-]+:)?(\w+)\s*<")


def soap_outcome(status: int, body: bytes) -> str:
    """The business or technical outcome of a provider's SOAP answer, for the audit log."""
    fault = _FAULTCODE.search(body)
    if fault:
        return f"FAULT:{fault.group(1).decode()}"
    kode = _KODE.search(body)
    if kode:
        codes = [c.decode() for c in _FEJLKODE.findall(body)]
        return ":".join([kode.group(1).decode(), *codes])[:100]
    return f"HTTP:{status}"

"""The Serviceplatform's tables (SQLAlchemy Core): it-systems, agreements, routes, keys, audit."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

it_system = Table(
    "sp_it_system",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("client_id", String(200), nullable=False, unique=True),
    Column("secret_hash", String(300), nullable=True),
    Column("public_key_pem", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

agreement = Table(
    "sp_service_agreement",
    metadata,
    Column("it_system_id", String(36), primary_key=True),
    Column("authority_cvr", String(8), primary_key=True),
    Column("entity_id", String(200), primary_key=True),
    Column("role", String(20), primary_key=True),
)

endpoint = Table(
    "sp_endpoint",
    metadata,
    Column("it_system_id", String(36), primary_key=True),
    Column("entity_id", String(200), primary_key=True),
    Column("soap_url", String(1000), nullable=True),
    Column("rest_url", String(1000), nullable=True),
)

signing_key = Table(
    "sp_signing_key",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

used_assertion = Table(
    "sp_used_client_assertion",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("jti", String(200), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

audit = Table(
    "sp_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("it_system_id", String(36), nullable=True, index=True),
    Column("authority_cvr", String(8), nullable=True, index=True),
    Column("entity_id", String(200), nullable=False),
    Column("operation", String(200), nullable=False),
    Column("transaction_uuid", String(64), nullable=True),
    Column("outcome", String(100), nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("detail", String(1000), nullable=False),
    Column("on_behalf_of_user", String(255), nullable=True),
    Column("callers_service_call_identifier", String(255), nullable=True),
    Column("accounting_info", String(255), nullable=True),
)

# One provider per (authority, service): the route of a call is never ambiguous.
provider_route = Table(
    "sp_provider_route",
    metadata,
    Column("authority_cvr", String(8), primary_key=True),
    Column("entity_id", String(200), primary_key=True),
    Column("it_system_id", String(36), nullable=False),
)

"""Settings from the environment (prefix `INDBETALING_`) or a `.env` file; every default is safe.

The embedded default keeps each part's SQLite file under `data_dir` and moves messages through
the database. Production sets a PostgreSQL URL per part and an AMQP URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Part = Literal["debitorsystem", "fagsystem", "serviceplatform", "beskedfordeler", "finance"]
PARTS: tuple[Part, ...] = (
    "debitorsystem",
    "fagsystem",
    "serviceplatform",
    "beskedfordeler",
    "finance",
)


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

    amqp_url: str | None = None
    """RabbitMQ; when unset, messages move through the database (embedded default)."""

    idempotency_retention_days: int = Field(default=30, ge=30)
    demo_seed: int = 1590
    demo_claims: int = 2000
    log_json: bool = False
    operator_token: str | None = None
    """Bearer token of the platform's operators (audit log); the demo derives one when unset."""

    def database_url(self, part: Part) -> str:
        url: str | None = getattr(self, f"{part}_database_url")
        if url:
            return url
        return f"sqlite:///{(self.data_dir / f'{part}.sqlite').as_posix()}"

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"

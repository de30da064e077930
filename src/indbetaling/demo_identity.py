"""The demo's identities: it-system ids derived from the demo seed, and credentials derived
from a random key made once for the data folder (`demo-key`), so that `demo.json` stays valid
across restarts while no credential can be guessed from the seed. Settings override the
credentials that matter outside the demo (the operators' token, the debitorsystem's secret and
auditor token, the finance token)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from pathlib import Path

from indbetaling.settings import Settings

DEMO_NAMESPACE = uuid.UUID("6f0c1b1e-2b8f-4f7e-9a51-1590b0300001")


def demo_uuid(settings: Settings, name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{settings.demo_seed}:{name}")


KEY_FILE = "demo-key"


def demo_key(data_dir: Path) -> bytes:
    """The data folder's random key, made on first use (readable by its owner only)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())


def demo_secret(settings: Settings, name: str) -> str:
    """A demo credential: the same for this data folder and seed, unguessable without its key."""
    message = f"{settings.demo_seed}:{name}".encode()
    return hmac.new(demo_key(settings.data_dir), message, hashlib.sha256).hexdigest()[:40]


def operator_token(settings: Settings) -> str:
    """The platform operators' token for the audit log: from the settings, else the demo's."""
    return settings.secret("operator_token") or demo_secret(settings, "operator")


def debitorsystem_secret(settings: Settings) -> str:
    """The debitorsystem's client secret: from the settings, else the demo's."""
    return settings.secret("debitorsystem_client_secret") or demo_secret(settings, "debitorsystem")


def auditor_token(settings: Settings) -> str:
    """The debitorsystem's auditor token (every authority's coverages): settings, else demo."""
    return settings.secret("debitorsystem_auditor_token") or demo_secret(settings, "auditor")


def finance_token(settings: Settings) -> str:
    """The finance and NemKonto APIs' token: from the settings, else the demo's."""
    return settings.secret("finance_token") or demo_secret(settings, "finance")


def caseworker_token(settings: Settings, fagsystem_id: uuid.UUID) -> str:
    """A hosted fagsystem's case-worker token (its §9 API; finance reconciles with it)."""
    return demo_secret(settings, f"caseworker:{fagsystem_id}")


def web_session_secret(settings: Settings) -> str:
    """The key the pages' session cookies are signed with: from the settings, else the demo's."""
    return settings.secret("web_session_secret") or demo_secret(settings, "web-session")


def web_password(settings: Settings, username: str) -> str:
    """A demo user's password for the pages."""
    return demo_secret(settings, f"web-user:{username}")[:20]


def push_secret(settings: Settings, fagsystem_id: uuid.UUID) -> str:
    key = demo_secret(settings, f"push:{fagsystem_id}").encode()
    return "whsec_" + base64.b64encode(key).decode()


def fagsystem_client_id(fagsystem_id: uuid.UUID) -> str:
    """A demo fagsystem's client id at the token service."""
    return f"fagsystem-{fagsystem_id}"


def debitorsystem_id(settings: Settings) -> uuid.UUID:
    """The debitorsystem's it-system id: from the settings, else the demo's."""
    return settings.debitorsystem_id or demo_uuid(settings, "debitorsystem")

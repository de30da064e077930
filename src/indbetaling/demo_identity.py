"""The demo's identities: it-system ids and credentials derived from the demo seed, so that
`demo.json` stays valid across restarts of the embedded default."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from indbetaling.settings import Settings

DEMO_NAMESPACE = uuid.UUID("6f0c1b1e-2b8f-4f7e-9a51-1590b0300001")


def demo_uuid(settings: Settings, name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{settings.demo_seed}:{name}")


def demo_secret(settings: Settings, name: str) -> str:
    """A demo credential, the same for a given seed (so demo.json stays valid across restarts)."""
    digest = hmac.new(str(settings.demo_seed).encode(), name.encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


def operator_token(settings: Settings) -> str:
    """The platform operators' token for the audit log: set it, or the demo derives one."""
    return settings.operator_token or demo_secret(settings, "operator")


def push_secret(settings: Settings, fagsystem_id: uuid.UUID) -> str:
    key = demo_secret(settings, f"push:{fagsystem_id}").encode()
    return "whsec_" + base64.b64encode(key).decode()

"""Standard Webhooks signatures for pushed messages (CONTRACT §6, `BeskedFaaTilsendt`).

Headers: `webhook-id` (the BeskedId), `webhook-timestamp` (unix seconds) and `webhook-signature`:
`v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")), where the key is the base64 part of
the subscription's secret `whsec_<base64>`. The signature header may carry several
space-separated signatures (during a key rotation); one valid `v1` is enough. A timestamp more
than five minutes away from now, either way, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
TOLERANCE_SECONDS = 5 * 60
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class InvalidSignature(Exception):
    """A push whose signature headers are missing, wrong or stale; the text says which."""


def make_secret() -> str:
    """A fresh signing secret, `whsec_` + 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: int) -> str:
    """Check a push's signature; return its `webhook-id`, or raise `InvalidSignature`.

    `headers` must be case-insensitive or use lower-case names (as Starlette's and httpx's do).
    """
    msg_id = headers.get(HEADER_ID)
    timestamp_text = headers.get(HEADER_TIMESTAMP)
    signature_header = headers.get(HEADER_SIGNATURE)
    if not msg_id or not timestamp_text or not signature_header:
        raise InvalidSignature("webhook-id, webhook-timestamp og webhook-signature skal angives")
    if not timestamp_text.isdigit():
        raise InvalidSignature("webhook-timestamp skal være et heltal (unix-sekunder)")
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp er mere end fem minutter fra nu")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in signature_header.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise InvalidSignature("webhook-signature passer ikke til beskeden")

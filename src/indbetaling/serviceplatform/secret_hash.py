"""Client secrets are stored only as salted scrypt hashes (`scrypt$N$salt$digest`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

DEFAULT_COST = 2**14
_R, _P = 8, 1


def hash_secret(secret: str, cost: int = DEFAULT_COST) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=cost, r=_R, p=_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "$".join(["scrypt", str(cost), *encoded])


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, cost_text, salt_b64, digest_b64 = stored.split("$")
        cost = int(cost_text)
    except ValueError:
        return False
    if scheme != "scrypt" or cost < 2 or cost > 2**20:
        return False
    salt = base64.b64decode(salt_b64)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=cost, r=_R, p=_P)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))

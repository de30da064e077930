"""Who is calling: the identity the Serviceplatform gateway vouches for to a provider.

The gateway authenticates the caller's token, checks the service agreement and then forwards
the call with header `X-Serviceplatform-Caller`: a short-lived JWT signed with the platform's
key, naming the calling it-system (`sub`), the authority (`cvr`), the service (`aud`) and the
TransactionUUID. A provider verifies it with the platform's public key and so never trusts a
header a client could have set itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

CALLER_HEADER = "X-Serviceplatform-Caller"
CALLER_TOKEN_TTL_SECONDS = 120
CALLER_ALGORITHMS = ["ES256", "RS256"]
CALLER_TOKEN_TYPE = "serviceplatform-caller+jwt"  # noqa: S105 - a JWT type, no secret
"""The JWT `typ` of a caller assertion. The platform signs access tokens with the same key, so a
provider tells the two apart by this type (and the `use` claim), never by the signature alone."""
CALLER_USE = "caller-assertion"


@dataclass(frozen=True)
class Caller:
    it_system_id: uuid.UUID
    authority_cvr: str


class CallerRejected(Exception):
    """The forwarded identity is missing or not signed by the platform; the text says which."""


def sign_caller(
    caller: Caller, audience: str, private_key: Any, kid: str, algorithm: str = "ES256"
) -> str:
    """The caller assertion the gateway sends along with a forwarded call."""
    now = int(time.time())
    claims = {
        "sub": str(caller.it_system_id),
        "cvr": caller.authority_cvr,
        "aud": audience,
        "iat": now,
        "exp": now + CALLER_TOKEN_TTL_SECONDS,
        "jti": str(uuid.uuid4()),
        "use": CALLER_USE,
    }
    headers = {"kid": kid, "typ": CALLER_TOKEN_TYPE}
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)


class CallerVerifier:
    """Verifies `X-Serviceplatform-Caller` against the platform's public keys (a JWKS dict)."""

    def __init__(self, jwks: Mapping[str, Any], audience: str) -> None:
        self.audience = audience
        self._keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            key = jwt.PyJWK.from_dict(dict(jwk))
            self._keys[str(jwk.get("kid", ""))] = key.key

    def verify(self, headers: Mapping[str, str]) -> Caller:
        token = headers.get(CALLER_HEADER) or headers.get(CALLER_HEADER.lower())
        if not token:
            raise CallerRejected(
                "Kaldet kom ikke gennem Serviceplatformen / "
                "the call did not come through the gateway"
            )
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != CALLER_TOKEN_TYPE:
                raise CallerRejected(
                    "Kalderidentiteten er ikke en gateway-erklæring / "
                    "not a caller assertion (an access token is no caller identity)"
                )
            kid = str(header.get("kid", ""))
            key = self._keys.get(kid)
            if key is None:
                raise CallerRejected("Ukendt nøgle i kalderidentiteten / unknown signing key")
            claims = jwt.decode(
                token,
                key,
                algorithms=CALLER_ALGORITHMS,
                audience=self.audience,
                options={"require": ["sub", "cvr", "aud", "exp", "iat", "use"]},
            )
            if claims["use"] != CALLER_USE:
                raise CallerRejected("Kalderidentiteten er ugyldig / not a caller assertion")
            return Caller(
                it_system_id=uuid.UUID(str(claims["sub"])), authority_cvr=str(claims["cvr"])
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise CallerRejected(
                f"Kalderidentiteten er ugyldig / the forwarded caller identity is invalid: {exc}"
            ) from None

"""A small OpenID Connect provider for tests: the test's own stand-in for an external identity
provider (Keycloak, Entra ID, ...), not part of the product.

It is a real HTTP server on a free port with discovery, an authorization endpoint that consents
at once for the test's chosen user (no login form), a token endpoint that checks the client's
secret, the redirect URI and the PKCE verifier, a JWKS endpoint and an end-session endpoint. ID
tokens are signed with an RSA key by PyJWT (another JOSE library than the product's joserfc).
A test may make the next sign-in misbehave (`Tamper`): a wrong state, a nonce from an earlier
sign-in, another signing key, an expired token, another audience.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "indbetaling-sider"
CLIENT_SECRET = "hemmelig-klient-noegle"


@dataclass
class Tamper:
    """How the next sign-in's answer goes wrong (all off: it goes right)."""

    state: str | None = None
    replay_nonce: bool = False
    other_key: bool = False
    expired: bool = False
    audience: str | None = None


@dataclass
class _Grant:
    redirect_uri: str
    nonce: str
    challenge: str
    claims: dict[str, Any]
    tamper: Tamper


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Provider:
    """Start with `start()`; `issuer` is its base URL. Set `claims` to who signs in next."""

    claims: dict[str, Any] = field(default_factory=dict)
    tamper: Tamper = field(default_factory=Tamper)
    key: rsa.RSAPrivateKey = field(default_factory=_rsa_key)
    other_key: rsa.RSAPrivateKey = field(default_factory=_rsa_key)
    kid: str = "test-key-1"
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _nonces: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    issuer: str = ""

    def start(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                provider._get(self)

            def do_POST(self) -> None:
                provider._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}/realms/test"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- endpoints --------------------------------------------------------------------------

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.removeprefix(urlsplit(self.issuer).path)
        if path == "/.well-known/openid-configuration":
            _json(handler, 200, self.metadata())
        elif path == "/certs":
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            _json(handler, 200, {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})
        elif path == "/auth":
            self._authorize(handler, query)
        elif path == "/logout":
            _text(handler, 200, "logget ud hos testudbyderen")
        else:
            _text(handler, 404, "ukendt")

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/certs",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or "openid" not in query.get("scope", "").split()
            or not query.get("code_challenge")
            or not query.get("nonce")
        ):
            _text(handler, 400, f"bad authorization request: {query}")
            return
        tamper, self.tamper = self.tamper, Tamper()
        nonce = query["nonce"]
        if tamper.replay_nonce:
            nonce = self._nonces[-1]
        self._nonces.append(query["nonce"])
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(
            query["redirect_uri"], nonce, query["code_challenge"], dict(self.claims), tamper
        )
        state = tamper.state if tamper.state is not None else query.get("state", "")
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': state})}"
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        if urlsplit(handler.path).path != urlsplit(self.issuer).path + "/token":
            _text(handler, 404, "ukendt")
            return
        length = int(handler.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            _json(handler, 401, {"error": "invalid_client"})
            return
        grant = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge.rstrip(b"=").decode() != grant.challenge
        ):
            _json(handler, 400, {"error": "invalid_grant"})
            return
        _json(handler, 200, {"token_type": "Bearer", "id_token": self._id_token(grant)})

    def _id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "test-subject-1",
            "aud": grant.tamper.audience or CLIENT_ID,
            "iat": now - (7200 if grant.tamper.expired else 0),
            "exp": now + (-3600 if grant.tamper.expired else 300),
            "nonce": grant.nonce,
            **grant.claims,
        }
        key = self.other_key if grant.tamper.other_key else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})


def _json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    _send(handler, status, json.dumps(body).encode(), "application/json")


def _text(handler: BaseHTTPRequestHandler, status: int, body: str) -> None:
    _send(handler, status, body.encode(), "text/plain; charset=utf-8")


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)

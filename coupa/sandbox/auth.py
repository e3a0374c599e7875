"""OAuth2 client-credentials for the sandbox (coupa-api.md section 2).

Coupa does not document how it reports missing scopes, so `scope_mode` selects
one plausible behaviour (the client must cope with all three):

- ``list``: the token response lists the granted scopes; calls outside them get 403.
- ``no-scope-field``: the same grants, but the token response has no ``scope`` field.
- ``invalid-scope``: a token request naming a scope the client lacks is refused
  with ``invalid_scope`` (400).

Scope checks use the token's scopes intersected with the client's current
scopes, so removing a scope through the control API takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from coupa.sandbox.scopes import DEFAULT_CLIENT_SCOPES

ScopeMode = Literal["list", "no-scope-field", "invalid-scope"]
SCOPE_MODES: tuple[str, ...] = ("list", "no-scope-field", "invalid-scope")

DEFAULT_CLIENT_ID = "sandbox-client"
# A fixed development value, not a secret: the sandbox only ever runs locally.
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105
DEFAULT_TOKEN_TTL = 86399  # the docs show 86,399 s (coupa-api.md 2)


@dataclass
class OAuthClient:
    """A registered OAuth2 client and the scopes it is granted."""

    client_id: str
    client_secret: str
    scopes: set[str] = field(default_factory=lambda: set(DEFAULT_CLIENT_SCOPES))

    def public(self) -> dict[str, Any]:
        """Return the client without its secret (for the control API)."""
        return {"client_id": self.client_id, "scopes": sorted(self.scopes)}


@dataclass
class Token:
    """An issued access token."""

    value: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True)
class AuthResult:
    """Outcome of an authorization check: the token, or an HTTP error."""

    token: Token | None
    status: int = 200
    error: str = ""
    description: str = ""


class AuthService:
    """Issues and checks tokens for the sandbox's clients."""

    def __init__(
        self,
        clients: Iterable[OAuthClient],
        *,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        scope_mode: ScopeMode = "list",
    ) -> None:
        self.initial_clients = [
            OAuthClient(c.client_id, c.client_secret, set(c.scopes)) for c in clients
        ]
        self.clients: dict[str, OAuthClient] = {}
        self.tokens: dict[str, Token] = {}
        self.token_ttl = token_ttl
        self.scope_mode: ScopeMode = scope_mode
        self._key = secrets.token_bytes(32)
        self.reset_clients()

    def reset_clients(self) -> None:
        """Restore the clients and scopes given at start-up."""
        self.clients = {
            c.client_id: OAuthClient(c.client_id, c.client_secret, set(c.scopes))
            for c in self.initial_clients
        }

    def _mint(self, client_id: str, scopes: frozenset[str]) -> str:
        # Coupa tokens are JWTs whose length grows with the scopes (coupa-api.md 2);
        # mimic the shape so clients store them in unbounded fields.
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        now = int(time.time())
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(
            json.dumps(
                {
                    "sub": client_id,
                    "scope": " ".join(sorted(scopes)),
                    "iat": now,
                    "exp": now + self.token_ttl,
                    "jti": secrets.token_hex(8),
                }
            ).encode()
        )
        sig = b64(hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{sig}"

    def issue(
        self, form: Mapping[str, str], basic: tuple[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (status, JSON body) as RFC 6749 section 5."""
        if form.get("grant_type", "client_credentials") != "client_credentials":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "only client_credentials is supported",
            }
        client_id = form.get("client_id") or (basic[0] if basic else "")
        secret = form.get("client_secret") or (basic[1] if basic else "")
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, secret):
            return 401, {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
        requested = frozenset(form.get("scope", "").replace(",", " ").split())
        if not requested:
            requested = frozenset(client.scopes)
        missing = requested - client.scopes
        if missing and self.scope_mode == "invalid-scope":
            return 400, {
                "error": "invalid_scope",
                "error_description": f"The requested scope is invalid, unknown, or malformed: {' '.join(sorted(missing))}",
            }
        granted = requested & client.scopes
        value = self._mint(client_id, granted)
        self.tokens[value] = Token(value, client_id, granted, time.time() + self.token_ttl)
        body: dict[str, Any] = {
            "access_token": value,
            "token_type": "bearer",
            "expires_in": self.token_ttl,
        }
        if self.scope_mode != "no-scope-field":
            body["scope"] = " ".join(sorted(granted))
        return 200, body

    def lookup(self, authorization: str | None) -> Token | None:
        """Return the token named by an Authorization header, valid or not."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.tokens.get(value.strip())

    def check(self, authorization: str | None, scope: str) -> AuthResult:
        """Check a call's token and scope: 401 for missing/unknown/expired, 403 for scope."""
        if not authorization:
            return AuthResult(None, 401, "invalid_request", "Missing Authorization: Bearer header")
        token = self.lookup(authorization)
        if token is None:
            return AuthResult(None, 401, "invalid_token", "The access token is invalid")
        if token.expires_at <= time.time():
            return AuthResult(token, 401, "invalid_token", "The access token expired")
        client = self.clients.get(token.client_id)
        if client is None:
            return AuthResult(token, 401, "invalid_token", "The client was removed")
        if scope not in token.scopes or scope not in client.scopes:
            return AuthResult(
                token, 403, "insufficient_scope", f"The request requires the {scope} scope"
            )
        return AuthResult(token)

    def revoke(self, client_id: str | None = None) -> int:
        """Forget tokens (of one client or all); return how many."""
        doomed = [
            v for v, t in self.tokens.items() if client_id is None or t.client_id == client_id
        ]
        for v in doomed:
            del self.tokens[v]
        return len(doomed)

    def expire(self, client_id: str | None = None) -> int:
        """Mark tokens (of one client or all) expired; return how many."""
        n = 0
        for t in self.tokens.values():
            if client_id is None or t.client_id == client_id:
                t.expires_at = 0.0
                n += 1
        return n

    def purge_expired(self) -> None:
        """Drop tokens that expired more than an hour ago (bounded memory)."""
        cutoff = time.time() - 3600
        for v in [v for v, t in self.tokens.items() if 0 < t.expires_at < cutoff]:
            del self.tokens[v]


def load_clients(config: Mapping[str, Any]) -> list[OAuthClient]:
    """Read clients from a config mapping: {"clients": [{client_id, client_secret, scopes}]}."""
    out = []
    for entry in config.get("clients", []):
        scopes = entry.get("scopes", list(DEFAULT_CLIENT_SCOPES))
        if isinstance(scopes, str):
            scopes = scopes.split()
        out.append(OAuthClient(str(entry["client_id"]), str(entry["client_secret"]), set(scopes)))
    return out

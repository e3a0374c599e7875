"""OAuth2 client-credentials authentication for Coupa (coupa-api.md §2).

`CoupaAuth` is an `httpx.Auth`: it adds `Authorization: Bearer ...` to every request,
minting a token when none is cached. The token request is yielded from the auth flow,
so it goes through the client's own transport (tests, SSRF guard) and timeouts.

Token life cycle:
- cached in the Django cache (Redis or the database: shared by every process of the
  connection), encrypted with `integrations.crypto`, until the earlier of
  `expires_in - COUPA_TOKEN_EXPIRY_MARGIN` and 20 hours (the docs advise renewing at
  about 20 h of the 24 h lifetime);
- minted by one process at a time: a cache lock (`cache.add`, with a timeout so that a
  dead holder cannot block others) plus a thread lock for the paging threads;
- on a 401 the token is dropped, a new one minted once and the request retried once;
- after minting, optionally wait `post_token_pause` (Coupa: at least 5 s before first
  use); other processes picking up the fresh token wait for the same instant.

Token path: `/oauth2/token`, then `/oauth2/access_tokens` on 404 (the docs and the
spec disagree, §10). The path that worked is remembered per connection in the cache;
`ConnectionConfig.token_path` overrides detection.

Nothing here logs or raises with the secret or a token in the text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache

from coupa.client.exceptions import (
    CoupaAuthError,
    CoupaError,
    CoupaProtocolError,
    CoupaRateLimitError,
    CoupaScopeError,
    CoupaUnavailableError,
)
from coupa.client.stats import RequestStats
from coupa.client.types import ConnectionConfig
from integrations.crypto import SecretDecryptionError, decrypt, encrypt
from integrations.ratelimit import RateLimiter

__all__ = [
    "MAX_TOKEN_AGE",
    "NO_REFRESH",
    "TOKEN_PATHS",
    "CoupaAuth",
    "Token",
    "parse_retry_after",
]

logger = logging.getLogger("coupa.client")

TOKEN_PATHS: tuple[str, ...] = ("/oauth2/token", "/oauth2/access_tokens")
# coupa-api.md §2: tokens last 24 h; renew at about 20 h.
MAX_TOKEN_AGE = 20 * 3600.0
# Assumed lifetime when a token response has no `expires_in` (the docs show 86,399 s).
_DEFAULT_EXPIRES_IN = 86400.0
_LOCK_TIMEOUT = 60  # seconds; a crashed holder frees the lock after this
_LOCK_POLL = 0.05
_PATH_TTL = 30 * 86400

# Request extension: do not refresh on 401 (scope probes want the plain answer).
NO_REFRESH = "coupa_no_refresh"

_OAUTH_ERROR = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True)
class Token:
    """An access token and its timing (epoch seconds). `scope`: granted, when sent."""

    value: str
    expires_at: float
    usable_at: float
    scope: tuple[str, ...] | None

    def __repr__(self) -> str:
        return f"Token(value='***', expires_at={self.expires_at!r}, scope={self.scope!r})"

    __str__ = __repr__


def parse_retry_after(value: str | None) -> float | None:
    """Return Retry-After in seconds (delta-seconds or an HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _token_ttl(expires_in: float, margin: float) -> float:
    ttl = min(expires_in - margin, MAX_TOKEN_AGE)
    if ttl <= 0:
        # A lifetime shorter than the margin: use half of it rather than never caching.
        ttl = max(expires_in / 2, 1.0)
    return ttl


class CoupaAuth(httpx.Auth):
    """Client-credentials auth with a shared, encrypted token cache.

    Thread-safe; one instance per `CoupaClient`. Raises (from inside the httpx call):
    CoupaAuthError (client rejected, no token endpoint), CoupaScopeError
    (`invalid_scope`), CoupaRateLimitError/CoupaUnavailableError (429/5xx on the token
    request, with `request_sent=False`), CoupaProtocolError (unreadable token response).
    """

    requires_response_body = True

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        limiter: RateLimiter | None = None,
        stats: RequestStats | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._limiter = limiter
        self._stats = stats
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.RLock()
        self._memo: Token | None = None
        # Cache keys: per connection, and per client id and scope list, so that a
        # changed client or scope list never reuses an old token.
        digest = hashlib.sha256(
            "|".join([config.base_url, config.client_id, " ".join(config.scopes)]).encode()
        ).hexdigest()[:16]
        self._token_key = f"coupa:token:{config.key}:{digest}"
        self._lock_key = f"{self._token_key}:lock"
        self._path_key = f"coupa:token-path:{config.key}:{config.base_url}"

    # -- httpx.Auth -----------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Authorize `request`; on 401 mint a new token once and send it again."""
        token = yield from self.token_flow()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code != 401 or request.extensions.get(NO_REFRESH):
            return
        # The token may have been revoked or expired early: mint one new token (unless
        # another process already did) and retry once. A second 401 goes to the caller.
        if self._stats is not None:
            self._stats.record_response(401, retry=False)
        logger.debug(
            "coupa %s %s -> 401; refreshing the token once", request.method, request.url.path
        )
        self.invalidate(token)
        token = yield from self.token_flow(stale=token.value)
        request.headers["Authorization"] = f"Bearer {token.value}"
        if self._limiter is not None:
            self._limiter.acquire()
        yield request

    # -- token cache ----------------------------------------------------------------

    def cached_token(self) -> Token | None:
        """Return the valid token from memory or the shared cache, without minting."""
        now = self._clock()
        memo = self._memo
        if memo is not None and memo.expires_at > now:
            return memo
        payload = cache.get(self._token_key)
        if not isinstance(payload, dict):
            return None
        try:
            token = Token(
                value=decrypt(payload["v"]),
                expires_at=float(payload["exp"]),
                usable_at=float(payload.get("use", 0.0)),
                scope=tuple(payload["scope"]) if payload.get("scope") is not None else None,
            )
        except (KeyError, TypeError, ValueError, SecretDecryptionError):
            return None
        # The cache's own expiry may be coarser than ours (or frozen by a test clock).
        if token.expires_at <= now:
            return None
        self._memo = token
        return token

    def invalidate(self, token: Token | None = None) -> None:
        """Drop the cached token (only if it is still `token`, when given)."""
        with self._lock:
            current = self.cached_token()
            self._memo = None
            if token is None or (current is not None and current.value == token.value):
                cache.delete(self._token_key)

    def store(self, token: Token) -> None:
        """Cache `token` (encrypted) for every process of the connection."""
        ttl = max(1, int(token.expires_at - self._clock()))
        payload = {
            "v": encrypt(token.value),
            "exp": token.expires_at,
            "use": token.usable_at,
            "scope": list(token.scope) if token.scope is not None else None,
        }
        cache.set(self._token_key, payload, timeout=ttl)
        self._memo = token

    def _wait_usable(self, token: Token) -> Token:
        delay = token.usable_at - self._clock()
        if delay > 0:
            self._sleep(delay)
        return token

    def token_flow(
        self, *, stale: str | None = None
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        """Return a valid token (not `stale`), minting one under the shared lock.

        A generator for `auth_flow`: the token requests it yields are sent by httpx.
        """
        with self._lock:
            token = self.cached_token()
            if token is not None and token.value != stale:
                return self._wait_usable(token)
            owner = secrets.token_hex(8)
            deadline = self._clock() + _LOCK_TIMEOUT + 5
            locked = cache.add(self._lock_key, owner, timeout=_LOCK_TIMEOUT)
            while not locked:
                # Another process is minting: use its token as soon as it is stored.
                self._sleep(_LOCK_POLL)
                self._memo = None
                token = self.cached_token()
                if token is not None and token.value != stale:
                    return self._wait_usable(token)
                if self._clock() > deadline:
                    break
                locked = cache.add(self._lock_key, owner, timeout=_LOCK_TIMEOUT)
            try:
                self._memo = None
                token = self.cached_token()
                if token is not None and token.value != stale:
                    return self._wait_usable(token)
                token = yield from self.mint_flow(self.config.scopes)
                self.store(token)
            finally:
                if locked and cache.get(self._lock_key) == owner:
                    cache.delete(self._lock_key)
            return self._wait_usable(token)

    # -- token requests -------------------------------------------------------------

    def _candidate_paths(self) -> list[str]:
        if self.config.token_path:
            return [self.config.token_path]
        remembered = cache.get(self._path_key)
        paths = list(TOKEN_PATHS)
        if isinstance(remembered, str) and remembered in paths:
            paths.remove(remembered)
            paths.insert(0, remembered)
        return paths

    def mint_flow(self, scopes: Sequence[str]) -> Generator[httpx.Request, httpx.Response, Token]:
        """Request a new token for `scopes` (not cached); yield the token request(s).

        Raises the errors listed on the class. Never logs the secret or the token.
        """
        margin = float(settings.COUPA_TOKEN_EXPIRY_MARGIN)
        paths = self._candidate_paths()
        for index, path in enumerate(paths):
            request = httpx.Request(
                "POST",
                self.config.base_url + path,
                # Form-encoded; scope is one space-separated string (coupa-api.md §2).
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.config.client_id,
                    "client_secret": self.config.client_secret,
                    "scope": " ".join(scopes),
                },
                headers={"Accept": "application/json"},
            )
            if self._limiter is not None:
                self._limiter.acquire()
            started = time.monotonic()
            response = yield request
            if self._stats is not None:
                self._stats.record_token_request()
            logger.debug(
                "coupa POST %s -> %s in %.0f ms (token request)",
                path,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            if (
                response.status_code == 404
                and not self.config.token_path
                and index + 1 < len(paths)
            ):
                continue
            if response.is_success:
                token = self._parse_token(response, margin)
                if not self.config.token_path and path != cache.get(self._path_key):
                    cache.set(self._path_key, path, timeout=_PATH_TTL)
                return token
            raise self._token_error(response)
        raise CoupaProtocolError("no token path to try", request_sent=False)  # pragma: no cover

    def _parse_token(self, response: httpx.Response, margin: float) -> Token:
        try:
            data: Any = json.loads(response.content)
        except ValueError:
            raise CoupaProtocolError("token response is not JSON", request_sent=False) from None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise CoupaProtocolError("token response without access_token", request_sent=False)
        value = data["access_token"]
        if not value:
            raise CoupaProtocolError(
                "token response with an empty access_token", request_sent=False
            )
        try:
            expires_in = float(data.get("expires_in") or _DEFAULT_EXPIRES_IN)
        except (TypeError, ValueError):
            expires_in = _DEFAULT_EXPIRES_IN
        scope_field = data.get("scope")
        scope = tuple(scope_field.split()) if isinstance(scope_field, str) else None
        now = self._clock()
        return Token(
            value=value,
            expires_at=now + _token_ttl(expires_in, margin),
            usable_at=now + max(0.0, self.config.post_token_pause),
            scope=scope,
        )

    def _token_error(self, response: httpx.Response) -> CoupaError:
        status = response.status_code
        code = ""
        try:
            data = json.loads(response.content)
            if isinstance(data, dict) and isinstance(data.get("error"), str):
                # Keep only a well-formed OAuth error code, never free text.
                code = data["error"] if _OAUTH_ERROR.match(data["error"]) else ""
        except ValueError:
            pass
        label = f"token request refused: HTTP {status}" + (f" {code}" if code else "")
        if status == 404:
            return CoupaAuthError(
                label,
                status=404,
                request_sent=False,
                user_message=(
                    "Coupa has no OAuth token endpoint at this address; check that the "
                    "instance URL is the bare Coupa address (https://name.coupahost.com)."
                ),
            )
        if code == "invalid_scope":
            return CoupaScopeError(message=label, status=status, request_sent=False)
        if status == 429:
            return CoupaRateLimitError(
                label,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                request_sent=False,
            )
        if status >= 500:
            return CoupaUnavailableError(label, status=status, request_sent=False)
        if status in (400, 401, 403) or code:
            return CoupaAuthError(label, status=status, request_sent=False)
        return CoupaError(label, status=status, request_sent=False)

"""A client for a stored Connection: its Coupa settings, decrypted secret and SSRF guard."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx
from django.conf import settings

from coupa.client.base import CoupaClient
from coupa.client.domains import AllowList
from coupa.client.stats import RequestStats
from coupa.client.types import ConnectionConfig
from integrations.crypto import decrypt
from integrations.models import Connection
from integrations.netguard import configured_resolver, guarded_transport

__all__ = ["CoupaSettings", "client_for", "connection_config", "coupa_settings"]


@dataclass(frozen=True)
class CoupaSettings:
    """The Coupa part of `Connection.provider_settings` (never the secret)."""

    client_id: str = ""
    token_path: str = ""  # empty: detect (/oauth2/token, then /oauth2/access_tokens)
    post_token_pause: float = 5.0  # seconds to wait after minting a token (Coupa advises 5)
    granted_scopes: tuple[str, ...] = field(default=())
    missing_scopes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["granted_scopes"] = list(self.granted_scopes)
        data["missing_scopes"] = list(self.missing_scopes)
        return data

    def but(self, **changes: Any) -> CoupaSettings:
        """A copy with `changes` applied (scopes given as any iterable)."""
        for key in ("granted_scopes", "missing_scopes"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return replace(self, **changes)


def coupa_settings(connection: Connection) -> CoupaSettings:
    """The connection's Coupa settings; unknown keys are ignored, missing ones default."""
    data = connection.provider_settings or {}
    defaults = CoupaSettings()
    return CoupaSettings(
        client_id=str(data.get("client_id") or ""),
        token_path=str(data.get("token_path") or ""),
        post_token_pause=float(data.get("post_token_pause", defaults.post_token_pause)),
        granted_scopes=tuple(data.get("granted_scopes") or ()),
        missing_scopes=tuple(data.get("missing_scopes") or ()),
    )


def connection_config(connection: Connection) -> ConnectionConfig:
    """The client configuration of a connection; the secret is decrypted only here."""
    coupa = coupa_settings(connection)
    return ConnectionConfig(
        key=f"connection-{connection.pk}",
        base_url=connection.base_url,
        client_id=coupa.client_id,
        client_secret=decrypt(connection.secret_encrypted),
        token_path=coupa.token_path or None,
        rate=connection.rate_limit,
        burst=connection.rate_burst,
        post_token_pause=coupa.post_token_pause,
    )


def client_for(connection: Connection, *, stats: RequestStats | None = None) -> CoupaClient:
    """A client for the connection whose every new TCP connection re-checks the address.

    The domain was checked when saved; checking again at connect time defeats DNS
    rebinding. Only the exact origins COUPA_ALLOWED_HOSTS names (the local sandbox) may be
    internal, each on its own scheme, host and port.
    """
    allow = AllowList.parse(settings.COUPA_ALLOWED_HOSTS)
    # An explicit transport carries the pool limits (httpx ignores the client's then).
    transport = guarded_transport(
        resolver=configured_resolver(),
        exact_origins=allow.exact_origins,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
    )
    return CoupaClient(connection_config(connection), transport=transport, stats=stats)

"""Build a CoupaClient for a stored Connection (decrypts the secret, adds the SSRF guard)."""

from __future__ import annotations

import httpx
from django.conf import settings

from coupa.client import CoupaClient
from coupa.domains import AllowList
from coupa.stats import RequestStats
from coupa.types import ConnectionConfig
from integrations.crypto import decrypt
from integrations.models import Connection
from integrations.netguard import Resolver, guarded_transport, system_resolver

# Tests replace this to resolve names without DNS.
_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver | None) -> None:
    """Use another resolver for outbound connections (tests); None restores the system's."""
    global _resolver
    _resolver = resolver or system_resolver


def connection_config(connection: Connection) -> ConnectionConfig:
    """The client configuration of a connection; the secret is decrypted only here."""
    return ConnectionConfig(
        key=f"connection-{connection.pk}",
        base_url=connection.base_url,
        client_id=connection.client_id,
        client_secret=decrypt(connection.client_secret_encrypted),
        token_path=connection.token_path or None,
        rate=connection.rate_limit,
        burst=connection.rate_burst,
        post_token_pause=connection.post_token_pause,
    )


def client_for(connection: Connection, *, stats: RequestStats | None = None) -> CoupaClient:
    """A client for the connection whose every new TCP connection re-checks the address.

    The domain was checked when saved; checking again at connect time defeats DNS
    rebinding. Only the exact addresses COUPA_ALLOWED_HOSTS names (the local sandbox)
    may be internal.
    """
    allow = AllowList.parse(settings.COUPA_ALLOWED_HOSTS)
    # An explicit transport carries the pool limits (httpx ignores the client's then).
    transport = guarded_transport(
        resolver=_resolver,
        allowed=allow.exact_addresses,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
    )
    return CoupaClient(connection_config(connection), transport=transport, stats=stats)

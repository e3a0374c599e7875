"""Server-side request forgery guard for outbound connections to customer-given hosts.

A Coupa domain is typed by an admin, so the product must never be steered into calling
loopback, private, link-local or otherwise internal addresses. Addresses are checked when the
domain is saved and again each time the HTTP client opens a connection, so a name that later
re-resolves to an internal address (DNS rebinding) is refused too. The resolver is injectable
so tests need no DNS.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeAddressError(Exception):
    """A host resolved to an address outbound calls must not reach."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"{host} {reason}")


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system; every address the name has (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def configured_resolver() -> Resolver:
    """The resolver the `OUTBOUND_RESOLVER` setting names (a callable or its dotted path)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    value = settings.OUTBOUND_RESOLVER
    resolver: Resolver = import_string(value) if isinstance(value, str) else value
    return resolver


def parse_ip_literal(host: str) -> IPAddress | None:
    """Read `host` as an IP address in any notation browsers and libc accept, or None.

    Besides dotted quads this catches decimal (`2130706433`), hex (`0x7f.1`), octal
    (`0177.0.0.1`) and short (`127.1`) IPv4 forms, and bracketed or zoned IPv6.
    """
    candidate = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    if candidate and all(part for part in candidate.split(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except (OSError, ValueError):
            return None
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether an address is globally routable (not loopback, private, link-local, ...)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public_address(mapped)
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_link_local
    )


def checked_addresses(
    host: str, port: int, *, resolver: Resolver, allowed: Iterable[str] = ()
) -> list[str]:
    """Resolve `host` and return its addresses, refusing any that is not public.

    `allowed` lists exact addresses the operator permitted (the local Coupa sandbox).
    """
    allowed_set = set(allowed)
    literal = parse_ip_literal(host)
    if literal is not None:
        if str(literal) in allowed_set:
            return [str(literal)]
        raise UnsafeAddressError(host, "is an IP address, not a domain name")
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise UnsafeAddressError(host, "could not be found (DNS lookup failed)") from exc
    if not addresses:
        raise UnsafeAddressError(host, "could not be found (DNS lookup failed)")
    for raw in addresses:
        address = parse_ip_literal(raw)
        if address is None or (str(address) not in allowed_set and not is_public_address(address)):
            raise UnsafeAddressError(
                host, "resolves to a private or internal address, which is not allowed"
            )
    return addresses


class GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore backend that checks the resolved address of every new connection.

    It connects to the very address it checked, so a second lookup cannot swap it; TLS still
    verifies the certificate against the host name, which httpcore passes separately.
    """

    def __init__(self, *, resolver: Resolver, allowed: Iterable[str] = ()) -> None:
        self._resolver = resolver
        self._allowed = tuple(allowed)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            address = checked_addresses(host, port, resolver=self._resolver, allowed=self._allowed)[
                0
            ]
        except UnsafeAddressError as exc:
            # A ConnectError: the request provably never left, so callers may treat it so.
            raise httpcore.ConnectError(str(exc)) from exc
        return super().connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context outbound clients share, built once per process.

    httpx otherwise builds one per client or transport, loading the CA bundle each time
    (about 40 ms); one context serves any number of connections and threads.
    """
    return httpx.create_ssl_context()


def guarded_transport(
    *, resolver: Resolver | None = None, allowed: Iterable[str] = (), **kwargs: Any
) -> httpx.HTTPTransport:
    """An httpx transport whose every new connection passes the address check."""
    kwargs.setdefault("verify", tls_context())
    transport = httpx.HTTPTransport(**kwargs)
    pool = transport._pool  # httpx exposes no public hook for the network backend
    pool._network_backend = GuardedNetworkBackend(
        resolver=resolver or system_resolver, allowed=allowed
    )
    return transport

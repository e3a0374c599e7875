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
from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"https": 443, "http": 80}


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


Origin = tuple[str, str, int]  # (scheme, host, port), the host canonical


def canonical_host(host: str) -> str:
    """A host as origins are compared: an IP address in its standard form, a name lowercased
    without its trailing dot (`LOCALHOST.` is `localhost`)."""
    literal = parse_ip_literal(host)
    return str(literal) if literal is not None else host.strip().rstrip(".").lower()


def checked_addresses(
    host: str, port: int, *, resolver: Resolver, exempt: Collection[tuple[str, int]] = ()
) -> list[str]:
    """Resolve `host` and return its addresses, refusing any that is not public.

    `exempt` lists exact (host, port) endpoints the operator permitted (the local Coupa
    sandbox): only a connection to that very host and port skips the check. Another port of
    the same address, or another name that resolves to it, is checked like any other.
    """
    literal = parse_ip_literal(host)
    if (canonical_host(host), port) in exempt:
        if literal is not None:
            return [str(literal)]
        return _resolve(host, port, resolver)
    if literal is not None:
        raise UnsafeAddressError(host, "is an IP address, not a domain name")
    addresses = _resolve(host, port, resolver)
    for raw in addresses:
        address = parse_ip_literal(raw)
        if address is None or not is_public_address(address):
            raise UnsafeAddressError(
                host, "resolves to a private or internal address, which is not allowed"
            )
    return addresses


def _resolve(host: str, port: int, resolver: Resolver) -> list[str]:
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise UnsafeAddressError(host, "could not be found (DNS lookup failed)") from exc
    if not addresses:
        raise UnsafeAddressError(host, "could not be found (DNS lookup failed)")
    return addresses


class GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore backend that checks the resolved address of every new connection.

    It connects to the very address it checked, so a second lookup cannot swap it; TLS still
    verifies the certificate against the host name, which httpcore passes separately.
    """

    def __init__(self, *, resolver: Resolver, exempt: Collection[tuple[str, int]] = ()) -> None:
        self._resolver = resolver
        self._exempt = frozenset(exempt)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            address = checked_addresses(host, port, resolver=self._resolver, exempt=self._exempt)[0]
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


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every new connection passes the address check.

    An exact origin the operator allowed is exempt only under its own scheme: its host and
    port reached over the other scheme are refused before any connection is opened.
    """

    def __init__(
        self, *, resolver: Resolver, exact_origins: Iterable[Origin] = (), **kwargs: Any
    ) -> None:
        kwargs.setdefault("verify", tls_context())
        super().__init__(**kwargs)
        self._origins = frozenset(exact_origins)
        endpoints = {(host, port) for _scheme, host, port in self._origins}
        # httpx exposes no public hook for the network backend.
        self._pool._network_backend = GuardedNetworkBackend(resolver=resolver, exempt=endpoints)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        endpoint = (canonical_host(url.host), url.port or DEFAULT_PORTS.get(scheme, 0))
        allowed = {(s, h, p) for s, h, p in self._origins if (h, p) == endpoint}
        if allowed and (scheme, *endpoint) not in allowed:
            raise httpx.ConnectError(
                f"{url.host}:{endpoint[1]} is allowed only over "
                f"{', '.join(sorted(s for s, _h, _p in allowed))}",
                request=request,
            )
        return super().handle_request(request)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context outbound clients share, built once per process.

    httpx otherwise builds one per client or transport, loading the CA bundle each time
    (about 40 ms); one context serves any number of connections and threads.
    """
    return httpx.create_ssl_context()


def guarded_transport(
    *, resolver: Resolver | None = None, exact_origins: Iterable[Origin] = (), **kwargs: Any
) -> httpx.HTTPTransport:
    """An httpx transport whose every new connection passes the address check.

    `exact_origins` are the (scheme, host, port) origins exempt from it (see `parse_origin`).
    """
    return GuardedTransport(
        resolver=resolver or system_resolver, exact_origins=exact_origins, **kwargs
    )


def parse_origin(url: str) -> Origin:
    """The (scheme, canonical host, port) of an origin such as `http://127.0.0.1:8111`."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    return (
        scheme,
        canonical_host(parts.hostname or ""),
        parts.port or DEFAULT_PORTS.get(scheme, 0),
    )

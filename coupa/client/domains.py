"""Turn what an admin pastes as the Coupa domain into a safe base URL.

Accepts `acme.coupahost.com`, `https://acme.coupahost.com/`, or a URL with a path, and returns
`https://host` (coupa-api.md §1: only the bare instance URL works). Only hosts matching
COUPA_ALLOWED_HOSTS are accepted; plain http, IP literals and ports only where the allow-list
names that exact address (the local sandbox). Names that resolve to internal addresses are
refused: the domain is user input and server-side request forgery is the risk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from integrations.netguard import (
    DEFAULT_PORTS,
    Resolver,
    UnsafeAddressError,
    checked_addresses,
    parse_ip_literal,
    parse_origin,
)

# A DNS label (RFC 1123): letters, digits and inner hyphens. A host of other characters
# (`evil\.coupahost.com`, `*.coupahost.com`, spaces, `%2e`) ends with an allowed suffix
# yet is no instance name, and URL parsers disagree on where such a host ends.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

# The Supplier Portal has its own API, clients and scopes; this product uses the Core API.
SUPPLIER_PORTAL_HOSTS = frozenset({"supplier.coupahost.com"})


class CoupaDomainError(ValueError):
    """The domain cannot be used; the message says why in words an admin can act on."""


@dataclass(frozen=True)
class CoupaDomain:
    base_url: str  # "https://acme.coupahost.com" (or the exact allowed sandbox URL)
    host: str  # the instance identity: host, plus ":port" for an allowed non-default port


@dataclass(frozen=True)
class AllowList:
    """COUPA_ALLOWED_HOSTS: host patterns (`*.coupahost.com`) and exact origins (`http://127.0.0.1:8111`)."""

    patterns: tuple[str, ...]
    exact_origins: frozenset[tuple[str, str, int]]  # (scheme, host, port)

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AllowList:
        patterns: list[str] = []
        exact: set[tuple[str, str, int]] = set()
        for entry in (e.strip().lower() for e in entries):
            if not entry:
                continue
            if "://" in entry:
                exact.add(parse_origin(entry))
            else:
                patterns.append(entry)
        return cls(patterns=tuple(patterns), exact_origins=frozenset(exact))

    def matches_pattern(self, host: str) -> bool:
        for pattern in self.patterns:
            if pattern.startswith("*."):
                suffix = pattern[1:]  # ".coupahost.com"
                if host.endswith(suffix) and len(host) > len(suffix):
                    return True
            elif host == pattern:
                return True
        return False


def normalize_coupa_domain(
    raw: str, *, allowed_hosts: Sequence[str], resolver: Resolver
) -> CoupaDomain:
    """Validate and normalise a pasted Coupa domain; raise CoupaDomainError with the reason."""
    text = (raw or "").strip()
    if not text:
        raise CoupaDomainError("Enter your Coupa domain, for example acme.coupahost.com.")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise CoupaDomainError("That is not a valid web address.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise CoupaDomainError("Only https:// addresses are accepted.")
    if "@" in parts.netloc:
        raise CoupaDomainError(
            "The address must not contain a user name or password (the part before '@')."
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise CoupaDomainError("Enter your Coupa domain, for example acme.coupahost.com.")
    try:
        host.encode("ascii")
    except UnicodeEncodeError as exc:
        raise CoupaDomainError("The domain contains characters that are not allowed.") from exc
    effective_port = port or DEFAULT_PORTS[scheme]
    allow = AllowList.parse(allowed_hosts)

    literal = parse_ip_literal(host)
    canonical_host = str(literal) if literal is not None else host
    if (scheme, canonical_host, effective_port) in allow.exact_origins:
        netloc = canonical_host if port is None else f"{canonical_host}:{port}"
        return CoupaDomain(base_url=f"{scheme}://{netloc}", host=netloc)

    if literal is not None:
        raise CoupaDomainError(
            "IP addresses are not accepted; enter your instance's domain name, "
            "for example acme.coupahost.com."
        )
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise CoupaDomainError(
            "The domain contains characters that are not allowed: use letters, digits, "
            "hyphens and dots, for example acme.coupahost.com."
        )
    if scheme != "https":
        raise CoupaDomainError("Only https:// addresses are accepted.")
    if port is not None and port != 443:
        raise CoupaDomainError("Custom ports are not accepted; use the plain https address.")
    if host in SUPPLIER_PORTAL_HOSTS:
        raise CoupaDomainError(
            "supplier.coupahost.com is Coupa's Supplier Portal, not your company's instance; "
            "enter your instance's domain, for example acme.coupahost.com."
        )
    if not allow.matches_pattern(host):
        allowed = ", ".join(allow.patterns) or "none"
        raise CoupaDomainError(
            f"{host} is not a Coupa instance domain this product may connect to "
            f"(allowed: {allowed})."
        )
    try:
        # No exemption here: an exact origin covers its own host and port, never another
        # name that happens to resolve to the same address.
        checked_addresses(host, 443, resolver=resolver)
    except UnsafeAddressError as exc:
        raise CoupaDomainError(f"The domain {exc.host} {exc.reason}.") from exc
    return CoupaDomain(base_url=f"https://{host}", host=host)

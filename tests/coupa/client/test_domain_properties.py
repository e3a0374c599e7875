"""Properties of the Coupa domain normalizer, for any text an admin may paste.

Accepted domains are bare https origins on allowed hosts and normalising one again gives
the same; IP addresses, user names and other ports are refused whatever their spelling; and
nothing but CoupaDomainError ever comes out.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from coupa.client.domains import CoupaDomain, CoupaDomainError, normalize_coupa_domain

ALLOWED = ["*.coupahost.com", "*.coupacloud.com"]
SUFFIXES = (".coupahost.com", ".coupacloud.com")
# A DNS name: letters, digits and inner hyphens in dot-separated labels.
DNS_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}")


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]  # a public address, never contacted


def normalize(raw: str) -> CoupaDomain:
    return normalize_coupa_domain(raw, allowed_hosts=ALLOWED, resolver=public)


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
instances = st.builds(lambda name, suffix: name + suffix, labels, st.sampled_from(SUFFIXES))


@st.composite
def pasted(draw: st.DrawFn, host: st.SearchStrategy[str] = instances) -> str:
    """An instance address as an admin might paste it: any case, scheme or not, a path,
    a query, the default port, spaces around."""
    name = draw(host)
    if draw(st.booleans()):
        name = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    scheme = draw(st.sampled_from(["", "https://", "HTTPS://"]))
    port = draw(st.sampled_from(["", ":443"])) if scheme else ""
    tail = draw(st.sampled_from(["", "/", "/session/new", "/requisitions?x=1#top"]))
    space = draw(st.sampled_from(["", " ", "\t"]))
    return f"{space}{scheme}{name}{port}{tail}{space}"


PIECES = [*'aZ0.-_:/@[]%?#*!"<\\ \t\x00é', "https://", "%2e", "xn--"]


def _any_text() -> st.SearchStrategy[str]:
    """Any text, and address-like text ending in an allowed suffix (so that it passes the
    allow-list and the rest of the checks are what refuses it)."""
    junk = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)
    return st.one_of(
        st.text(),
        junk,
        st.builds(lambda j, s, t: j + s + t, junk, st.sampled_from(SUFFIXES), junk),
        st.builds(lambda j, s: j + s, st.text(max_size=10), st.sampled_from(SUFFIXES)),
    )


def _accepted(*raws: str) -> list[str]:
    """Those of `raws` the normalizer accepts."""
    accepted = []
    for raw in raws:
        try:
            normalize(raw)
        except CoupaDomainError:
            continue
        accepted.append(raw)
    return accepted


@given(pasted())
def test_instance_addresses_normalise_to_an_allowed_https_origin(raw: str) -> None:
    domain = normalize(raw)
    parts = urlsplit(domain.base_url)
    assert parts.scheme == "https"
    assert parts.netloc == domain.host == parts.hostname
    assert (parts.path, parts.query, parts.fragment, parts.port) == ("", "", "", None)
    assert DNS_NAME.fullmatch(domain.host), domain.host
    assert domain.host.endswith(SUFFIXES)
    assert domain.host == raw.strip().split("://")[-1].split("/")[0].split(":")[0].lower()


@given(_any_text())
def test_any_text_is_an_allowed_origin_or_a_sentence_and_normalising_again_changes_nothing(
    raw: str,
) -> None:
    try:
        domain = normalize(raw)
    except CoupaDomainError as exc:
        assert str(exc).endswith(".")
        return
    assert domain.base_url == f"https://{domain.host}"
    assert DNS_NAME.fullmatch(domain.host), domain.host
    assert domain.host.endswith(SUFFIXES)
    assert normalize(domain.base_url) == domain
    assert normalize(domain.host) == domain


def _ipv4_spellings(address: ipaddress.IPv4Address) -> list[str]:
    number = int(address)
    octets = list(address.packed)
    return [
        str(address),
        str(number),
        hex(number),
        ".".join(f"0{o:o}" for o in octets),
        ".".join(hex(o) for o in octets),
        f"{octets[0]}.{number & 0xFFFFFF}",
    ]


@given(st.ip_addresses(v=4), st.sampled_from(["", "https://", "http://"]), st.data())
def test_ipv4_addresses_are_refused_in_any_notation(
    address: ipaddress.IPv4Address, scheme: str, data: st.DataObject
) -> None:
    spelling = data.draw(st.sampled_from(_ipv4_spellings(address)))
    assert not _accepted(f"{scheme}{spelling}", f"{scheme}{spelling}/x", f"https://{spelling}:443")


@given(st.ip_addresses(v=6), st.sampled_from(["https://", "http://", ""]))
def test_ipv6_addresses_are_refused(address: ipaddress.IPv6Address, scheme: str) -> None:
    assert not _accepted(
        f"{scheme}[{address}]", f"{scheme}[{address}]:443/", f"{scheme}[{address}%eth0]"
    )


@given(
    instances,
    st.text(st.characters(blacklist_characters="/?#@", blacklist_categories=["Cs"]), max_size=12),
    st.sampled_from(["", "https://"]),
)
def test_addresses_with_a_user_name_are_refused(host: str, user: str, scheme: str) -> None:
    assert not _accepted(
        f"{scheme}{user}@{host}", f"{scheme}{host}@{host}", f"{scheme}{user}:pw@{host}"
    )


@given(instances, st.integers(min_value=0, max_value=65535).filter(lambda p: p != 443))
def test_ports_other_than_https_are_refused(host: str, port: int) -> None:
    assert not _accepted(f"{host}:{port}", f"https://{host}:{port}/", f"http://{host}:{port}")


@given(pasted(st.builds(lambda n: n + ".example.com", labels)))
def test_hosts_outside_the_allow_list_are_refused(raw: str) -> None:
    try:
        normalize(raw)
    except CoupaDomainError as exc:
        assert "is not a Coupa instance domain" in str(exc)
        return
    raise AssertionError(f"{raw!r} was accepted")

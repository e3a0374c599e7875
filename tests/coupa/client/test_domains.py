"""The Coupa domain an admin pastes: normalisation and every refused form (SSRF)."""

from __future__ import annotations

import pytest

from coupa.client.domains import CoupaDomainError, normalize_coupa_domain

ALLOWED = ["*.coupahost.com", "*.coupacloud.com", "http://127.0.0.1:8111"]
PUBLIC = "203.0.113.10"  # documentation range; only ever "resolved", never contacted


def resolver_to(*addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"DNS must not be consulted for {host}")


def public_resolver(host: str, port: int) -> list[str]:
    return ["8.8.8.8"]


@pytest.mark.parametrize(
    "pasted",
    [
        "acme.coupahost.com",
        "https://acme.coupahost.com/",
        "https://ACME.coupahost.com/session/new?x=1#frag",
        "  acme.coupahost.com/requisitions  ",
        "https://acme.coupahost.com:443/",
        "acme.coupahost.com.",
    ],
)
def test_pasted_forms_normalise_to_the_bare_https_host(pasted: str) -> None:
    domain = normalize_coupa_domain(pasted, allowed_hosts=ALLOWED, resolver=public_resolver)
    assert domain.base_url == "https://acme.coupahost.com"
    assert domain.host == "acme.coupahost.com"


def test_partner_instances_on_coupacloud_are_accepted() -> None:
    domain = normalize_coupa_domain(
        "demo.coupacloud.com", allowed_hosts=ALLOWED, resolver=public_resolver
    )
    assert domain.base_url == "https://demo.coupacloud.com"


def test_the_allow_listed_local_sandbox_may_use_http() -> None:
    domain = normalize_coupa_domain(
        "http://127.0.0.1:8111/", allowed_hosts=ALLOWED, resolver=no_dns
    )
    assert domain.base_url == "http://127.0.0.1:8111"


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "Enter your Coupa domain"),
        ("ftp://acme.coupahost.com", "Only https://"),
        ("file:///etc/passwd", "Only https://"),
        ("http://acme.coupahost.com", "Only https://"),
        ("https://user:pw@acme.coupahost.com", "user name or password"),
        ("https://acme.coupahost.com@evil.example", "user name or password"),
        ("https://acme.coupahost.com:8443", "Custom ports"),
        ("https://supplier.coupahost.com", "Supplier Portal"),
        ("https://evil.example.com", "not a Coupa instance domain"),
        ("https://coupahost.com", "not a Coupa instance domain"),
        ("https://acme.coupahost.com.evil.example", "not a Coupa instance domain"),
        ("https://127.0.0.1", "IP addresses are not accepted"),
        ("http://127.0.0.1:9999", "IP addresses are not accepted"),
        ("https://2130706433", "IP addresses are not accepted"),
        ("https://0x7f000001", "IP addresses are not accepted"),
        ("https://0177.0.0.1", "IP addresses are not accepted"),
        ("https://127.1", "IP addresses are not accepted"),
        ("https://[::1]", "IP addresses are not accepted"),
        ("https://[::ffff:127.0.0.1]", "IP addresses are not accepted"),
        ("https://169.254.169.254", "IP addresses are not accepted"),
        ("https://10.0.0.5", "IP addresses are not accepted"),
        ("https://acmé.coupahost.com", "characters that are not allowed"),
        # Not host names, though they end with an allowed suffix (found by the properties).
        ("https://evil\\.coupahost.com", "characters that are not allowed"),
        ("*.coupahost.com", "characters that are not allowed"),
        ("acme corp.coupahost.com", "characters that are not allowed"),
        ("acme%2e.coupahost.com", "characters that are not allowed"),
        ("-acme.coupahost.com", "characters that are not allowed"),
        ("acme..coupahost.com", "characters that are not allowed"),
        ("acme_eu.coupahost.com", "characters that are not allowed"),
    ],
)
def test_refused_forms_say_why(pasted: str, message: str) -> None:
    with pytest.raises(CoupaDomainError, match=message):
        normalize_coupa_domain(pasted, allowed_hosts=ALLOWED, resolver=no_dns)


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "192.168.0.7",
        "172.16.4.4",
        "127.0.0.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
    ],
)
def test_names_resolving_to_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(CoupaDomainError, match="private or internal address"):
        normalize_coupa_domain(
            "acme.coupahost.com", allowed_hosts=ALLOWED, resolver=resolver_to(PUBLIC, address)
        )


def test_a_name_that_does_not_resolve_is_refused_clearly() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(CoupaDomainError, match="could not be found"):
        normalize_coupa_domain("nope.coupahost.com", allowed_hosts=ALLOWED, resolver=nxdomain)


def test_the_sandbox_address_is_allowed_only_with_its_exact_port_and_scheme() -> None:
    with pytest.raises(CoupaDomainError):
        normalize_coupa_domain("https://127.0.0.1:8111", allowed_hosts=ALLOWED, resolver=no_dns)
    with pytest.raises(CoupaDomainError):
        normalize_coupa_domain("http://127.0.0.1:8112", allowed_hosts=ALLOWED, resolver=no_dns)


@pytest.mark.parametrize("pasted", ["acme.coupahost.com", "https://acme.coupahost.com:443"])
def test_a_name_resolving_to_the_allow_listed_address_is_refused(pasted: str) -> None:
    """The sandbox's exact origin exempts 127.0.0.1:8111, never a name that resolves to it."""
    with pytest.raises(CoupaDomainError, match="private or internal address"):
        normalize_coupa_domain(
            pasted, allowed_hosts=ALLOWED, resolver=resolver_to("8.8.8.8", "127.0.0.1")
        )


@pytest.mark.parametrize(
    "pasted",
    ["localhost", "LOCALHOST", "localhost.", "http://localhost:8111", "https://localhost:443"],
)
def test_localhost_is_refused_whatever_its_spelling(pasted: str) -> None:
    with pytest.raises(CoupaDomainError):
        normalize_coupa_domain(pasted, allowed_hosts=ALLOWED, resolver=resolver_to("127.0.0.1"))


def test_an_allow_listed_name_origin_is_accepted_as_listed() -> None:
    """`http://sandbox:8111` in the allow-list is accepted when saved (and exempt when called)."""
    domain = normalize_coupa_domain(
        "http://SANDBOX:8111/", allowed_hosts=[*ALLOWED, "http://sandbox:8111"], resolver=no_dns
    )
    assert domain.base_url == "http://sandbox:8111"

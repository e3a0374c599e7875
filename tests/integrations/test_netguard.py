"""The connect-time address check (DNS rebinding) in the client's transport."""

from __future__ import annotations

import http.server
import threading

import httpx
import pytest

from integrations.netguard import guarded_transport, parse_ip_literal, parse_origin


@pytest.fixture(scope="module")
def local_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # serve_forever polls for shutdown every 0.5 s unless told otherwise.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_a_name_rebound_to_loopback_is_refused_at_connect_time(local_server: int) -> None:
    transport = guarded_transport(resolver=lambda host, port: ["127.0.0.1"])
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="private or internal"):
        client.get(f"http://acme.coupahost.com:{local_server}/")


def test_the_allow_listed_origin_is_reachable(local_server: int) -> None:
    origin = parse_origin(f"http://127.0.0.1:{local_server}")
    transport = guarded_transport(resolver=lambda host, port: [], exact_origins=[origin])
    with httpx.Client(transport=transport) as client:
        assert client.get(f"http://127.0.0.1:{local_server}/").text == "ok"


def test_an_allow_listed_origin_exempts_no_other_port(local_server: int) -> None:
    """`http://127.0.0.1:<port>` says nothing of 127.0.0.1's other ports (Redis, 443, ...)."""
    origin = parse_origin(f"http://127.0.0.1:{local_server + 1}")
    transport = guarded_transport(resolver=lambda host, port: [], exact_origins=[origin])
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="is an IP address"):
        client.get(f"http://127.0.0.1:{local_server}/")


@pytest.mark.parametrize("name", ["localhost", "LOCALHOST", "localhost.", "acme.coupahost.com"])
def test_an_allow_listed_origin_exempts_no_other_name_for_its_address(local_server: int, name: str) -> None:
    """A name resolving to the allowed address (on its very port, too) is checked as any name."""
    origin = parse_origin(f"http://127.0.0.1:{local_server}")
    transport = guarded_transport(resolver=lambda host, port: ["127.0.0.1"], exact_origins=[origin])
    with httpx.Client(transport=transport) as client:
        for port in (local_server, 443, 6379):
            with pytest.raises(httpx.ConnectError, match="private or internal"):
                client.get(f"http://{name}:{port}/")


def test_an_allow_listed_origin_is_exempt_only_under_its_scheme(local_server: int) -> None:
    origin = parse_origin(f"http://127.0.0.1:{local_server}")
    transport = guarded_transport(resolver=lambda host, port: [], exact_origins=[origin])
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="only over http"):
        client.get(f"https://127.0.0.1:{local_server}/")


def test_an_allow_listed_name_is_reachable_on_its_port_only(local_server: int) -> None:
    """`http://sandbox:<port>` (a compose service name) is accepted when saved and reachable."""
    origin = parse_origin(f"http://sandbox:{local_server}")
    transport = guarded_transport(resolver=lambda host, port: ["127.0.0.1"], exact_origins=[origin])
    with httpx.Client(transport=transport) as client:
        assert client.get(f"http://SANDBOX:{local_server}/").text == "ok"
        with pytest.raises(httpx.ConnectError, match="private or internal"):
            client.get(f"http://sandbox:{local_server + 1}/")


def test_the_checked_address_is_the_one_connected_to(local_server: int) -> None:
    seen: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    origin = parse_origin(f"http://sandbox.coupahost.com:{local_server}")
    transport = guarded_transport(resolver=resolver, exact_origins=[origin])
    with httpx.Client(transport=transport) as client:
        assert client.get(f"http://sandbox.coupahost.com:{local_server}/").text == "ok"
    assert seen == ["sandbox.coupahost.com"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
     ("[::1]", "::1"), ("acme.coupahost.com", None), ("1e3.example", None)],
)
def test_ip_literals_in_any_notation_are_recognised(text: str, expected: str | None) -> None:
    parsed = parse_ip_literal(text)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.django_db
def test_clients_built_for_a_connection_recheck_the_address(local_server: int, settings) -> None:
    """A saved domain that later resolves to an internal address is never called."""
    from coupa.client.connection import client_for
    from coupa.client.exceptions import CoupaError
    from coupa.reference.walk import charts_fetch_active
    from integrations.models import Connection
    from tests.factories import ConnectionFactory

    settings.COUPA_RETRY_ATTEMPTS = 1
    settings.COUPA_RETRY_DEADLINE = 0.5
    connection = ConnectionFactory(
        host="acme.coupahost.com", state=Connection.State.NOT_CONNECTED
    )
    looked_up: list[str] = []

    def rebinding_resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    settings.OUTBOUND_RESOLVER = rebinding_resolver
    with client_for(connection) as client, pytest.raises(CoupaError) as caught:
        charts_fetch_active(client)
    # The guard resolved the name itself (no system DNS) and refused to connect, once.
    assert looked_up == ["acme.coupahost.com"]
    assert caught.value.user_message == (
        "The domain acme.coupahost.com resolves to a private or internal address, "
        "which is not allowed."
    )


@pytest.mark.django_db
def test_clients_built_for_a_connection_exempt_only_the_exact_origin(local_server: int, settings) -> None:
    """With the sandbox's origin allowed, a saved name rebound to its address is still refused."""
    from coupa.client.connection import client_for
    from coupa.client.exceptions import CoupaError
    from coupa.reference.walk import charts_fetch_active
    from integrations.models import Connection
    from tests.factories import ConnectionFactory

    settings.COUPA_RETRY_ATTEMPTS = 1
    settings.COUPA_RETRY_DEADLINE = 0.5
    settings.COUPA_ALLOWED_HOSTS = ["*.coupahost.com", f"http://127.0.0.1:{local_server}"]
    settings.OUTBOUND_RESOLVER = lambda host, port: ["127.0.0.1"]
    connection = ConnectionFactory(
        host="acme.coupahost.com", state=Connection.State.NOT_CONNECTED
    )
    with client_for(connection) as client, pytest.raises(CoupaError) as caught:
        charts_fetch_active(client)
    assert "private or internal address" in caught.value.user_message

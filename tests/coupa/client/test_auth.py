"""CoupaAuth: token requests, shared encrypted cache, expiry, 401 refresh, token path."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
import respx
import time_machine
from django.core.cache import cache

from coupa.client.base import CoupaClient
from coupa.client.exceptions import CoupaAuthError, CoupaError
from coupa.client.scopes import DEFAULT_SCOPES
from coupa.client.types import ConnectionConfig
from tests.coupa.conftest import CLIENT_SECRET, TOKEN, TOKEN_2, FakeClock

pytestmark = pytest.mark.django_db

EMPTY = httpx.Response(200, json=[])


def _token_response(token: str = TOKEN, expires_in: int = 86399, **extra: object) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": token, "token_type": "bearer", "expires_in": expires_in, **extra}
    )


def test_token_request_is_form_encoded_with_space_separated_scopes(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """The token call is a form POST with every scope in one space-separated string."""
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    coupa_client.get("/api/currencies")
    request = coupa_mock["token"].calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == ["client-1"]
    assert form["client_secret"] == [CLIENT_SECRET]
    assert form["scope"] == [" ".join(DEFAULT_SCOPES)]
    api_request = coupa_mock.calls.last.request
    assert api_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert api_request.headers["Accept"] == "application/json"
    assert api_request.headers["Content-Type"] == "application/json"


def test_token_is_cached_and_shared_between_clients(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """A second client of the same connection (another process) reuses the cached token."""
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    make_client().get("/api/currencies")
    make_client().get("/api/currencies")
    make_client().get("/api/currencies")
    assert coupa_mock["token"].call_count == 1


def test_cached_token_is_encrypted(coupa_client: CoupaClient, coupa_mock: respx.MockRouter) -> None:
    """The cache holds ciphertext, never the token itself."""
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    coupa_client.get("/api/currencies")
    stored = cache.get(coupa_client.auth._token_key)
    assert TOKEN not in repr(stored)
    assert stored["v"] != TOKEN


def test_token_renewed_at_expires_in_minus_margin(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """With expires_in=3600 and a 300 s margin the token is reused for 3,300 s, not more."""
    coupa_mock["token"].side_effect = [_token_response(TOKEN, 3600), _token_response(TOKEN_2, 3600)]
    api = coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    with time_machine.travel("2030-01-01 00:00:00+00:00", tick=False) as traveller:
        make_client().get("/api/currencies")
        traveller.shift(3299)
        make_client().get("/api/currencies")
        assert coupa_mock["token"].call_count == 1
        traveller.shift(2)
        make_client().get("/api/currencies")
    assert coupa_mock["token"].call_count == 2
    assert api.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_token_renewed_after_20_hours_even_if_valid_longer(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """A 24 h token is replaced at 20 h (coupa-api.md §2), not at 24 h minus the margin."""
    coupa_mock["token"].side_effect = [_token_response(TOKEN, 86399), _token_response(TOKEN_2)]
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    with time_machine.travel("2030-01-01 00:00:00+00:00", tick=False) as traveller:
        client = make_client()
        client.get("/api/currencies")
        traveller.shift(20 * 3600 - 1)
        client.get("/api/currencies")
        assert coupa_mock["token"].call_count == 1
        traveller.shift(2)
        client.get("/api/currencies")
    assert coupa_mock["token"].call_count == 2


def test_401_refreshes_token_once_and_retries(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A 401 drops the token, mints a new one and sends the call again, once."""
    coupa_mock["token"].side_effect = [_token_response(TOKEN), _token_response(TOKEN_2)]
    api = coupa_mock.get("/api/currencies").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=[{"id": 1}])]
    )
    assert coupa_client.get("/api/currencies") == [{"id": 1}]
    assert coupa_mock["token"].call_count == 2
    assert [c.request.headers["Authorization"] for c in api.calls] == [
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN_2}",
    ]


def test_second_401_raises_auth_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """If the fresh token is refused too, the caller gets CoupaAuthError (no loop)."""
    coupa_mock["token"].side_effect = [_token_response(TOKEN), _token_response(TOKEN_2)]
    api = coupa_mock.get("/api/currencies").mock(return_value=httpx.Response(401))
    with pytest.raises(CoupaAuthError) as info:
        coupa_client.get("/api/currencies")
    assert api.call_count == 2
    assert coupa_mock["token"].call_count == 2
    assert "access token" in info.value.user_message


def test_token_path_falls_back_to_access_tokens_and_is_remembered(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """On 404 at /oauth2/token the client uses /oauth2/access_tokens and remembers it."""
    coupa_mock["token"].respond(404)
    fallback = coupa_mock.post("/oauth2/access_tokens").mock(return_value=_token_response())
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    make_client().get("/api/currencies")
    assert coupa_mock["token"].call_count == 1
    assert fallback.call_count == 1

    cache.delete(make_client().auth._token_key)  # force a new token in "another process"
    make_client().get("/api/currencies")
    assert coupa_mock["token"].call_count == 1  # not tried again
    assert fallback.call_count == 2


def test_token_path_override_is_used_as_is(
    make_client: Callable[..., CoupaClient],
    coupa_mock: respx.MockRouter,
    config: ConnectionConfig,
) -> None:
    """An explicit token_path skips detection; a 404 there is an error, not a fallback."""
    custom = coupa_mock.post("/oauth2/access_tokens").mock(return_value=httpx.Response(404))
    client = make_client(dataclasses.replace(config, token_path="/oauth2/access_tokens"))
    with pytest.raises(CoupaAuthError):
        client.get("/api/currencies")
    assert custom.call_count == 1
    assert coupa_mock["token"].call_count == 0


def test_no_token_endpoint_names_the_url_problem(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Both token paths 404: the message points at the instance URL."""
    coupa_mock["token"].respond(404)
    coupa_mock.post("/oauth2/access_tokens").respond(404)
    with pytest.raises(CoupaAuthError) as info:
        coupa_client.get("/api/currencies")
    assert "instance URL" in info.value.user_message


@pytest.mark.parametrize("status", [400, 401])
def test_rejected_credentials_raise_auth_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter, status: int
) -> None:
    """invalid_client becomes CoupaAuthError with an actionable sentence; no retries."""
    coupa_mock["token"].respond(status, json={"error": "invalid_client"})
    with pytest.raises(CoupaAuthError) as info:
        coupa_client.get("/api/currencies")
    assert info.value.user_message == "Coupa rejected the client ID or secret."
    assert coupa_mock["token"].call_count == 1


def test_token_request_503_is_retried_even_for_post(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A failed token request means the POST never left, so it is safe to retry."""
    coupa_mock["token"].side_effect = [httpx.Response(503), _token_response()]
    create = coupa_mock.post("/api/requisitions").respond(201, json={"id": 9})
    assert coupa_client.post("/api/requisitions", {"req-title": "x"}) == {"id": 9}
    assert create.call_count == 1


def test_post_token_pause_waits_before_first_use(
    make_client: Callable[..., CoupaClient],
    coupa_mock: respx.MockRouter,
    config: ConnectionConfig,
    clock: FakeClock,
) -> None:
    """With post_token_pause=5 the freshly minted token is used only after 5 s."""
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    with time_machine.travel("2030-01-01 00:00:00+00:00", tick=False):
        make_client(dataclasses.replace(config, post_token_pause=5.0)).get("/api/currencies")
    assert clock.sleeps == [5.0]


def test_waits_for_token_minted_by_another_process(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """While another process holds the mint lock, the client waits and uses its token."""
    client = make_client()
    coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    cache.add(client.auth._lock_key, "other-process", timeout=60)
    other = make_client()

    def other_process_finishes(seconds: float) -> None:
        # The other process stores its token while this one polls.
        other.auth.store(other.auth._parse_token(_token_response(TOKEN_2), margin=300.0))

    client.auth._sleep = other_process_finishes
    client.get("/api/currencies")
    assert coupa_mock["token"].call_count == 0
    assert coupa_mock.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_secret_and_token_never_in_messages_or_logs(
    coupa_client: CoupaClient,
    coupa_mock: respx.MockRouter,
    config: ConnectionConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Errors, reprs and DEBUG logs never contain the client secret or a token."""
    caplog.set_level(logging.DEBUG)
    coupa_mock["token"].side_effect = [
        _token_response(TOKEN),
        _token_response(TOKEN_2),
        httpx.Response(401, json={"error": "invalid_client", "error_description": CLIENT_SECRET}),
    ]
    coupa_mock.get("/api/currencies").mock(return_value=httpx.Response(401, text=TOKEN))
    texts: list[str] = [repr(config), str(config), repr(coupa_client)]
    for _ in range(2):
        with pytest.raises(CoupaError) as info:
            coupa_client.get("/api/currencies")
        texts += [str(info.value), repr(info.value), info.value.user_message]
    texts.append(repr(coupa_client.auth.cached_token()))
    texts += [r.getMessage() for r in caplog.records]
    assert any("/api/currencies" in r.getMessage() for r in caplog.records)
    blob = "\n".join(texts)
    for secret in (CLIENT_SECRET, TOKEN, TOKEN_2):
        assert secret not in blob


def test_tokens_are_never_shared_across_instances_or_client_ids(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter, config: ConnectionConfig
) -> None:
    """A token is cached per connection, instance and client id: a client of another
    instance, or with another client id, mints its own and never sends this one."""
    other_url = "https://other.coupahost.com"
    coupa_mock["token"].side_effect = [_token_response(TOKEN), _token_response(TOKEN_2)]
    acme = coupa_mock.get("/api/currencies").mock(return_value=EMPTY)
    other_token = coupa_mock.post(f"{other_url}/oauth2/token").mock(
        return_value=_token_response("tok-CCCC-other-instance")
    )
    other = coupa_mock.get(f"{other_url}/api/currencies").mock(return_value=EMPTY)

    make_client().get("/api/currencies")
    make_client(dataclasses.replace(config, base_url=other_url)).get("/api/currencies")
    make_client(dataclasses.replace(config, client_id="client-2")).get("/api/currencies")
    make_client().get("/api/currencies")  # the first client id's token is still cached

    assert other_token.call_count == 1
    assert other.calls.last.request.headers["Authorization"] == "Bearer tok-CCCC-other-instance"
    assert coupa_mock["token"].call_count == 2
    assert [c.request.headers["Authorization"] for c in acme.calls] == [
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN_2}",
        f"Bearer {TOKEN}",
    ]

"""CoupaClient._request: retries, deadlines, error mapping, logging, stats."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from coupa.client import types
from coupa.client.base import CoupaClient
from coupa.client.exceptions import (
    CoupaError,
    CoupaNotFoundError,
    CoupaProtocolError,
    CoupaRateLimitError,
    CoupaTimeoutError,
    CoupaTransientError,
    CoupaUnavailableError,
    CoupaValidationError,
)
from tests.coupa.conftest import FakeClock, FakeLimiter
from tests.support import shared_path

pytestmark = pytest.mark.django_db

OK = httpx.Response(200, json=[{"id": 1}])


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_a_get_are_retried(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter, status: int
) -> None:
    """A GET answered 5xx is sent again and the next answer wins: one page's hiccup must
    not fail (and restart) a 5,000-page import."""
    route = coupa_mock.get("/api/suppliers").mock(side_effect=[httpx.Response(status), OK])
    assert coupa_client.get("/api/suppliers") == [{"id": 1}]
    assert route.call_count == 2
    stats = coupa_client.stats.as_dict()
    assert stats["requests"] == 2
    assert stats["retries"] == 1
    assert stats["by_status"] == {str(status): 1, "200": 1}


def test_a_get_failing_with_500_every_time_gives_up_after_the_attempts(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter, settings: Any
) -> None:
    settings.COUPA_RETRY_ATTEMPTS = 3
    route = coupa_mock.get("/api/suppliers").respond(500)
    with pytest.raises(CoupaTransientError):
        make_client().get("/api/suppliers")
    assert route.call_count == 3


def test_a_post_answered_500_is_not_sent_again(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """It may have created the record: the caller looks it up before anything is re-sent."""
    route = coupa_mock.post("/api/requisitions").respond(500)
    with pytest.raises(CoupaTransientError):
        coupa_client.post("/api/requisitions", {"req-title": "x"})
    assert route.call_count == 1


def test_429_waits_for_retry_after_and_slows_the_shared_bucket(
    coupa_client: CoupaClient,
    coupa_mock: respx.MockRouter,
    clock: FakeClock,
    limiter: FakeLimiter,
) -> None:
    """429 with Retry-After: wait that long, penalise the shared limiter, retry."""
    coupa_mock.get("/api/suppliers").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), OK]
    )
    assert coupa_client.get("/api/suppliers") == [{"id": 1}]
    assert clock.sleeps == [7.0]
    assert limiter.penalties == [7.0]
    assert coupa_client.stats.as_dict()["throttled_429"] == 1


def test_429_without_retry_after_backs_off(
    coupa_client: CoupaClient,
    coupa_mock: respx.MockRouter,
    clock: FakeClock,
    limiter: FakeLimiter,
) -> None:
    """429 without Retry-After: exponential backoff (bounded by the settings)."""
    coupa_mock.get("/api/suppliers").mock(
        side_effect=[httpx.Response(429), httpx.Response(429), OK]
    )
    coupa_client.get("/api/suppliers")
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 0.002 for s in clock.sleeps)
    assert limiter.penalties == [None, None]


def test_429_beyond_the_deadline_raises_rate_limit_error(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter, settings: Any
) -> None:
    """A Retry-After longer than the time left gives up at once, keeping the hint."""
    settings.COUPA_RETRY_DEADLINE = 10.0
    coupa_client = make_client()
    route = coupa_mock.get("/api/suppliers").respond(429, headers={"Retry-After": "30"})
    with pytest.raises(CoupaRateLimitError) as info:
        coupa_client.get("/api/suppliers")
    assert route.call_count == 1
    assert info.value.retry_after == 30.0
    # What failed does not resume by itself: the sentence promises no continuation.
    assert info.value.user_message == (
        "Coupa kept limiting the request rate for this instance (it asked to wait 30 s); "
        "try again later."
    )


def test_deadline_exhausted_raises_unavailable(
    make_client: Callable[..., CoupaClient],
    coupa_mock: respx.MockRouter,
    settings: Any,
    clock: FakeClock,
) -> None:
    """Retries stop when the next wait would cross the overall deadline."""
    settings.COUPA_RETRY_ATTEMPTS = 100
    settings.COUPA_RETRY_DEADLINE = 10.0
    settings.COUPA_BACKOFF_BASE = 4.0
    settings.COUPA_BACKOFF_MAX = 4.0
    client = make_client()
    route = coupa_mock.get("/api/suppliers").respond(503)
    with pytest.raises(CoupaUnavailableError) as info:
        client.get("/api/suppliers")
    assert sum(clock.sleeps) <= 10.0
    assert route.call_count == len(clock.sleeps) + 1
    assert route.call_count < 100
    assert info.value.status == 503
    assert info.value.user_message == "Coupa is unavailable (HTTP 503); try again later."


def test_attempts_exhausted_raises_unavailable(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """At most COUPA_RETRY_ATTEMPTS (4 here) tries."""
    route = coupa_mock.get("/api/suppliers").respond(503)
    with pytest.raises(CoupaUnavailableError):
        coupa_client.get("/api/suppliers")
    assert route.call_count == 4
    assert coupa_client.stats.as_dict()["failures"] == 1


def test_timeouts_are_retried_then_reported_with_the_limit(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Read timeouts are retried; when they persist the message names the timeout."""
    route = coupa_mock.get("/api/suppliers").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(CoupaTimeoutError) as info:
        coupa_client.get("/api/suppliers")
    assert route.call_count == 4
    assert info.value.user_message == "Coupa did not answer within 30 s."


def test_connection_errors_are_retried(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A reset connection on a GET is retried."""
    route = coupa_mock.get("/api/suppliers").mock(
        side_effect=[httpx.ReadError("reset by peer"), httpx.ConnectError("refused"), OK]
    )
    assert coupa_client.get("/api/suppliers") == [{"id": 1}]
    assert route.call_count == 3


def test_explicit_timeouts_are_set(coupa_client: CoupaClient, settings: Any) -> None:
    """Every call carries the connect and read timeouts from settings."""
    timeout = coupa_client._http.timeout
    assert timeout.connect == settings.COUPA_CONNECT_TIMEOUT == 5.0
    assert timeout.read == settings.COUPA_READ_TIMEOUT == 30.0


def test_post_is_retried_on_connect_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A connect error proves the POST never left: retry it."""
    route = coupa_mock.post("/api/requisitions").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": 5})]
    )
    assert coupa_client.post("/api/requisitions", {"req-title": "x"}) == {"id": 5}
    assert route.call_count == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.ReadTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.Response(200, text='{"id": 5, "sta'),
    ],
    ids=["503", "429", "read-timeout", "reset", "truncated"],
)
def test_post_is_not_retried_once_sent(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter, failure: Any
) -> None:
    """After the POST left, any failure goes to the caller: no second POST."""
    route = coupa_mock.post("/api/requisitions")
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)
    with pytest.raises(CoupaError):
        coupa_client.post("/api/requisitions", {"req-title": "x"})
    assert route.call_count == 1


def test_malformed_json_is_retried_on_get(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A body that is not JSON (or cut short) is fetched again on a GET."""
    route = coupa_mock.get("/api/suppliers").mock(
        side_effect=[
            httpx.Response(200, text='[{"id": 1, "name": "Ac'),
            httpx.Response(200, text="<html>proxy error</html>"),
            OK,
        ]
    )
    assert coupa_client.get("/api/suppliers") == [{"id": 1}]
    assert route.call_count == 3


def test_truncated_body_is_retried_then_protocol_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A connection closed before Content-Length was reached is a protocol error."""
    route = coupa_mock.get("/api/suppliers").mock(
        side_effect=httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )
    )
    with pytest.raises(CoupaProtocolError) as info:
        coupa_client.get("/api/suppliers")
    assert route.call_count == 4
    assert "could not read" in info.value.user_message


def test_persistent_malformed_json_raises_protocol_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Malformed JSON on every attempt ends in CoupaProtocolError."""
    coupa_mock.get("/api/suppliers").respond(200, text="[{]")
    with pytest.raises(CoupaProtocolError):
        coupa_client.get("/api/suppliers")


def test_unexpected_shape_is_a_protocol_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A collection answered with an object (or records without ids) is refused."""
    coupa_mock.get("/api/suppliers").respond(200, json={"id": 1})
    with pytest.raises(CoupaProtocolError):
        list(coupa_client.iter_records(types.Supplier))
    coupa_mock.get("/api/items").respond(200, json=[{"name": "no id"}])
    with pytest.raises(CoupaProtocolError):
        list(coupa_client.iter_records(types.Item))


def test_404_is_not_found(coupa_client: CoupaClient, coupa_mock: respx.MockRouter) -> None:
    """404 maps to CoupaNotFoundError and is not retried."""
    route = coupa_mock.get("/api/account_types/99").respond(404)
    with pytest.raises(CoupaNotFoundError) as info:
        coupa_client.get_record(types.AccountType, 99)
    assert route.call_count == 1
    assert info.value.user_message


def test_json_validation_errors_are_parsed(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Coupa's JSON error body (published example) becomes field errors."""
    example = shared_path("coupa-examples") / "account_create_error.response.published.json"
    body = example.read_bytes()
    coupa_mock.post("/api/accounts").respond(
        400, content=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(CoupaValidationError) as info:
        coupa_client.post("/api/accounts", {"code": "x"})
    assert info.value.errors == {"account": ["Segment 1 - Cost Center can't be blank"]}
    assert info.value.user_message == (
        "Coupa rejected the data: Segment 1 - Cost Center can't be blank."
    )


def test_xml_validation_errors_are_parsed(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """An XML <errors> body with CDATA (requisition creation answers XML) is parsed too."""
    body = (shared_path("coupa-examples") / "user_create_duplicate.response.xml").read_bytes()
    coupa_mock.post("/api/users").respond(
        422, content=body, headers={"Content-Type": "application/xml"}
    )
    with pytest.raises(CoupaValidationError) as info:
        coupa_client.post("/api/users", {"login": "x"})
    assert info.value.messages == ["Login has already been taken", "Email has already been taken"]


def test_each_attempt_is_logged_once_without_query_or_body(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """One DEBUG line per attempt: method, path, status, duration, attempt number."""
    caplog.set_level(logging.DEBUG, logger="coupa.client")
    coupa_mock.get("/api/suppliers").mock(side_effect=[httpx.Response(503), OK])
    coupa_client.get("/api/suppliers", params={"name": "Acme"})
    lines = [r.getMessage() for r in caplog.records if "/api/suppliers" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("coupa GET /api/suppliers -> 503 in ")
    assert lines[0].endswith("(attempt 1)")
    assert lines[1].startswith("coupa GET /api/suppliers -> 200 in ")
    assert lines[1].endswith("(attempt 2)")
    assert "Acme" not in "".join(lines)


def test_every_attempt_draws_from_the_rate_limiter(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter, limiter: FakeLimiter
) -> None:
    """Token request, first attempt and retry each take one slot of the shared bucket."""
    coupa_mock.get("/api/suppliers").mock(side_effect=[httpx.Response(503), OK])
    coupa_client.get("/api/suppliers")
    assert limiter.acquired == 3


def test_429_storm_is_bounded_by_the_deadline_not_the_attempts(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter, clock: FakeClock
) -> None:
    """Ten 429s in a row (a storm) outlast 4 attempts but not the 60 s deadline."""
    route = coupa_mock.get("/api/suppliers").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "1"})] * 10 + [OK]
    )
    assert coupa_client.get("/api/suppliers") == [{"id": 1}]
    assert route.call_count == 11
    assert clock.sleeps == [1.0] * 10

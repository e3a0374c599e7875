"""Rate limiting (one bucket per instance, 429 + Retry-After) and fault injection."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from coupa.sandbox.ratelimit import ManualClock, TokenBucket, retry_after_header
from coupa.sandbox.testing import SandboxHandle, running_sandbox


def test_burst_of_60_gets_429s_and_patient_client_gets_everything(make_api: Any) -> None:
    """At the default 25/s, burst 20: of 60 requests at once 20 pass and 40 get 429 with
    Retry-After: 1; waiting as told lets the next 20 through, until every page is in.

    The bucket's clock stands still (`--manual-clock`), so 60 requests in a row are 60
    requests at once on any machine; the test moves it by Retry-After instead of sleeping.
    """
    with running_sandbox(items=3000, accounts=20, suppliers=10, users=5, manual_clock=True) as sb:
        api = make_api(sb)
        sb.reset_stats()
        pages: dict[int, list[int]] = {}
        waiting = list(range(60))
        passed: list[int] = []
        while waiting:
            refused = []
            for page in waiting:
                resp = api.get("/api/items", {"offset": page * 50, "limit": 50})
                if resp.status_code == 429:
                    assert resp.headers["Retry-After"] == "1"
                    assert "errors" in resp.json()
                    refused.append(page)
                else:
                    assert resp.status_code == 200
                    pages[page] = [r["id"] for r in resp.json()]
            passed.append(len(waiting) - len(refused))
            waiting = refused
            if waiting:
                sb.advance_clock(1)  # the Retry-After every refused request was given
        assert passed == [20, 20, 20]  # one burst, then a second's refill (capped at the burst)
        assert [i for page in sorted(pages) for i in pages[page]] == list(range(1, 3001))
        stats = sb.stats()
        assert stats["rate_limited"] == 60  # 40 in the first round, 20 in the second
        assert stats["by_status"] == {"200": 60, "429": 60}


def test_manual_clock_needs_the_option(sandbox: SandboxHandle) -> None:
    """Without --manual-clock the bucket keeps real time: the clock cannot be moved."""
    with pytest.raises(RuntimeError, match="manual-clock"):
        sandbox.advance_clock(1)


def test_rate_zero_means_no_limit(sandbox: SandboxHandle, api: Any) -> None:
    """--rate 0 never answers 429."""
    statuses = {api.get("/api/uoms").status_code for _ in range(40)}
    assert statuses == {200}


def test_control_api_is_not_rate_limited(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """/_sandbox/ and / are outside the bucket: with room for one /api/ call, ten control
    calls and the page leave that room untouched."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.settings(rate=0.001, burst=1)
    fresh_sandbox.reset_stats()
    for _ in range(10):
        fresh_sandbox.stats()
    assert httpx.get(f"{fresh_sandbox.base_url}/").status_code == 200
    assert fresh_sandbox.stats()["total"] == 0
    assert [api.get("/api/uoms").status_code for _ in range(2)] == [200, 429]


def test_error_503_and_storm(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """Queued faults: one request let through, a 503, then a 429 storm of storm_length
    requests, then normal service."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(storm_length=3, next=["none", "error_503", "storm_429"])
    codes = [api.get("/api/uoms").status_code for _ in range(7)]
    assert codes == [200, 503, 429, 429, 429, 200, 200]
    stats = fresh_sandbox.stats()
    assert stats["faults_injected"] == {"error_503": 1, "storm_429": 3}
    assert stats["rate_limited"] == 0


def test_storm_retry_after_is_configurable(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """Storm 429s say Retry-After: 1 by default; storm_retry_after=0 asks for a retry at once."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(storm_length=1, next=["storm_429"])
    assert api.get("/api/uoms").headers["Retry-After"] == "1"
    fresh_sandbox.set_faults(storm_retry_after=0, next=["storm_429"])
    assert api.get("/api/uoms").headers["Retry-After"] == "0"
    assert fresh_sandbox.set_faults()["storm_retry_after"] == 0


def test_faults_apply_to_api_only(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """Token requests are not faulted by default."""
    fresh_sandbox.set_faults(error_503=1.0)
    api = make_api(fresh_sandbox)  # the token request succeeds
    assert api.get("/api/uoms").status_code == 503
    fresh_sandbox.clear_faults()
    assert api.get("/api/uoms").status_code == 200


def test_reset_fault_drops_connection(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """A reset closes the connection without any response."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(next=["reset"])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("/api/uoms")
    assert api.get("/api/uoms").status_code == 200


def test_incomplete_body_is_a_protocol_error(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """incomplete promises the full Content-Length, sends half and closes."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(next=["incomplete"])
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/api/items")
    assert api.get("/api/items").status_code == 200


@pytest.mark.parametrize("kind", ["truncate", "malformed"])
def test_truncated_and_malformed_json(
    fresh_sandbox: SandboxHandle, make_api: Any, kind: str
) -> None:
    """truncate and malformed answer 200 with a complete HTTP body that is not valid JSON."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(next=[kind])
    resp = api.get("/api/items")
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    assert len(api.get("/api/items").json()) == 50


def test_slow_response_exceeds_client_timeout(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """slow answers after slow_seconds, so a client with a shorter read timeout times out;
    the server drops the request, unanswered, as soon as the client hangs up."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.reset_stats()
    fresh_sandbox.set_faults(slow_seconds=600, next=["slow"])
    with pytest.raises(httpx.ReadTimeout):
        api.http.get("/api/uoms", timeout=httpx.Timeout(5.0, read=0.2))
    # A request is counted when the server is done with it: long before the 600 s.
    deadline = time.monotonic() + 30
    while fresh_sandbox.stats()["total"] == 0:
        assert time.monotonic() < deadline, "the slow response outlived its client"
        time.sleep(0.02)
    assert fresh_sandbox.stats()["by_status"] == {"0": 1}  # never answered
    assert api.get("/api/uoms").status_code == 200


def test_bucket_says_how_long_until_the_next_token() -> None:
    """The wait the bucket hands out is the time until a token is back; Retry-After rounds
    it up to whole seconds, at least 1."""
    clock = ManualClock()
    bucket = TokenBucket(4.0, 2, clock=clock)
    assert [bucket.acquire(), bucket.acquire()] == [0.0, 0.0]
    assert bucket.acquire() == 0.25
    clock.advance(0.25)
    assert bucket.acquire() == 0.0
    assert [retry_after_header(w) for w in (0.0, 0.25, 1.0, 1.01)] == ["1", "1", "1", "2"]
    bucket.configure(0, 1)  # rate 0: no limit
    assert {bucket.acquire() for _ in range(50)} == {0.0}


def test_bad_fault_settings_are_refused(fresh_sandbox: SandboxHandle) -> None:
    """Unknown kinds and probabilities outside 0..1 get 400."""
    for body in ({"explode": 1}, {"error_503": 2}, {"next": ["nope"]}):
        assert httpx.post(f"{fresh_sandbox.base_url}/_sandbox/faults", json=body).status_code == 400

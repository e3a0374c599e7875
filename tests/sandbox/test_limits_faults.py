"""Rate limiting (one bucket per instance, 429 + Retry-After) and fault injection."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import httpx
import pytest

from coupa.sandbox.testing import SandboxHandle, running_sandbox


def test_burst_of_60_gets_429s_and_patient_client_gets_everything(make_api: Any) -> None:
    """With the default 25/s, burst 20: 60 requests at once see 429s; waiting as told gets all pages."""
    with running_sandbox(items=3000, accounts=20, suppliers=10, users=5) as sb:
        api = make_api(sb)
        sb.reset_stats()

        def fetch(page: int) -> tuple[int, list[int], int]:
            attempts_429 = 0
            with httpx.Client(base_url=sb.base_url, headers=api.http.headers, timeout=30) as http:
                while True:
                    resp = http.get("/api/items", params={"offset": page * 50, "limit": 50})
                    if resp.status_code != 429:
                        assert resp.status_code == 200
                        return page, [r["id"] for r in resp.json()], attempts_429
                    attempts_429 += 1
                    retry_after = resp.headers["Retry-After"]
                    assert retry_after.isdigit() and int(retry_after) >= 1
                    assert "errors" in resp.json()
                    time.sleep(int(retry_after))

        with concurrent.futures.ThreadPoolExecutor(max_workers=60) as pool:
            results = list(pool.map(fetch, range(60)))
        ids = [i for _, page_ids, _ in sorted(results) for i in page_ids]
        assert ids == list(range(1, 3001))
        total_429 = sum(n for _, _, n in results)
        assert total_429 > 0
        stats = sb.stats()
        assert stats["rate_limited"] == total_429
        assert stats["by_status"]["429"] == total_429
        assert stats["by_status"]["200"] == 60


def test_rate_zero_means_no_limit(sandbox: SandboxHandle, api: Any) -> None:
    """--rate 0 never answers 429."""
    statuses = {api.get("/api/uoms").status_code for _ in range(40)}
    assert statuses == {200}


def test_control_api_is_not_rate_limited() -> None:
    """/_sandbox/ and / are outside the bucket."""
    with running_sandbox(rate=1, burst=1, accounts=5, suppliers=5, items=5, users=3) as sb:
        for _ in range(10):
            sb.stats()
        assert sb.stats()["total"] == 0


def test_error_503_and_storm(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """Queued faults: a 503, then a 429 storm of storm_length requests, then normal service."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(storm_length=3, next=["error_503", "storm_429"])
    codes = [api.get("/api/uoms").status_code for _ in range(6)]
    assert codes == [503, 429, 429, 429, 200, 200]
    stats = fresh_sandbox.stats()
    assert stats["faults_injected"] == {"error_503": 1, "storm_429": 3}
    assert stats["rate_limited"] == 0


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
    """slow answers after slow_seconds, so a client with a shorter read timeout times out."""
    api = make_api(fresh_sandbox)
    fresh_sandbox.set_faults(slow_seconds=1.0, next=["slow"])
    with pytest.raises(httpx.ReadTimeout):
        api.http.get("/api/uoms", timeout=httpx.Timeout(5.0, read=0.2))
    assert api.get("/api/uoms").status_code == 200


def test_bad_fault_settings_are_refused(fresh_sandbox: SandboxHandle) -> None:
    """Unknown kinds and probabilities outside 0..1 get 400."""
    for body in ({"explode": 1}, {"error_503": 2}, {"next": ["nope"]}):
        assert httpx.post(f"{fresh_sandbox.base_url}/_sandbox/faults", json=body).status_code == 400

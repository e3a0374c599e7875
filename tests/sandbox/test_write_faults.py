"""Faults aimed at writes, over HTTP: what the client sees and what the sandbox holds after.

A create whose answer is lost (`lost_response`) or late (`slow_create`) is committed, and
is found again the way coupa-api.md 6.6 describes: by requester login and creation time.
A 5xx or 429 answered before the router runs creates nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from coupa.sandbox.testing import SandboxHandle, running_sandbox

SHORT = httpx.Timeout(5.0, read=0.3)  # below the slow_seconds the tests set


@pytest.fixture
def client(fresh_sandbox: SandboxHandle, make_api: Any) -> Iterator[Any]:
    api = make_api(fresh_sandbox)
    yield api
    api.close()


@pytest.fixture
def login(fresh_sandbox: SandboxHandle) -> str:
    user = next(u for u in fresh_sandbox.records("users", active_only=True) if u["id"] != 1)
    return str(user["login"])


@pytest.fixture
def body(fresh_sandbox: SandboxHandle, login: str) -> dict[str, Any]:
    """A valid create body naming active records by their natural keys."""
    sb = fresh_sandbox
    account = sb.records("accounts", active_only=True)[0]
    return {
        "requested-by": {"login": login},
        "ship-to-address": {"name": sb.records("addresses", active_only=True)[0]["name"]},
        "req-title": "[F4242] Write fault",
        "requisition-lines": [
            {
                "line-num": 1,
                "description": "Cleaning services",
                "unit-price": "300.00",
                "currency": {"code": "USD"},
                "supplier": {"name": sb.records("suppliers", active_only=True)[0]["name"]},
                "account": {
                    "code": account["code"],
                    "account-type": {"name": account["account-type"]["name"]},
                },
            }
        ],
    }


def _find_again(client: Any, login: str, attempt: datetime) -> list[dict[str, Any]]:
    """The lookup after an ambiguous create (coupa-api.md 6.6): requester and created-at."""
    since = (attempt - timedelta(minutes=5)).isoformat()
    found: list[dict[str, Any]] = client.ok(
        "/api/requisitions", {"requested-by[login]": login, "created-at[gt_or_eq]": since}
    )
    return found


def _wait_until_handled(sb: SandboxHandle, total: int) -> dict[str, Any]:
    """Return the stats once the server is done with `total` requests (counted at the end)."""
    deadline = time.monotonic() + 30
    while (stats := sb.stats())["total"] < total:
        assert time.monotonic() < deadline, "the server never finished the request"
        time.sleep(0.02)
    return stats


def test_lost_response_commits_and_resets(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any], login: str
) -> None:
    """lost_response: the create is committed, the connection reset before any reply
    byte; the lookup finds the requisition exactly once."""
    sb = fresh_sandbox
    before = sb.count("requisitions")
    sb.reset_stats()
    sb.set_faults(next=["lost_response"])
    attempt = datetime.now(UTC)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.http.post("/api/requisitions", json=body)
    stats = _wait_until_handled(sb, 1)
    assert stats["faults_injected"] == {"lost_response": 1}
    assert stats["by_status"] == {"0": 1}  # never answered
    assert sb.count("requisitions") == before + 1
    (found,) = _find_again(client, login, attempt)
    assert found["req-title"] == "[F4242] Write fault"
    assert found["status"] == "draft"
    assert found["created-by"]["id"] == 1
    assert len(found["requisition-lines"]) == 1


def test_post_again_after_lost_response_duplicates(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any], login: str
) -> None:
    """A client that re-posts after a lost response, without looking first, makes a
    second requisition: there is no idempotency (coupa-api.md 6.5)."""
    fresh_sandbox.set_faults(next=["lost_response"])
    attempt = datetime.now(UTC)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.http.post("/api/requisitions/submit_for_approval", json=body)
    retry = client.http.post("/api/requisitions/submit_for_approval", json=body)
    assert retry.status_code == 201
    found = _find_again(client, login, attempt)
    assert len(found) == 2
    assert {r["req-title"] for r in found} == {"[F4242] Write fault"}
    assert retry.json()["id"] == max(r["id"] for r in found)


def test_slow_create_commits_before_the_client_times_out(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any], login: str
) -> None:
    """slow_create: committed at once, the reply held past the client's read timeout;
    the client hanging up does not undo the create."""
    sb = fresh_sandbox
    before = sb.count("requisitions")
    sb.reset_stats()
    sb.set_faults(slow_seconds=1.0, next=["slow_create"])
    attempt = datetime.now(UTC)
    with pytest.raises(httpx.ReadTimeout):
        client.http.post("/api/requisitions", json=body, timeout=SHORT)
    stats = _wait_until_handled(sb, 1)
    assert stats["by_status"] == {"0": 1}  # the held reply was never sent
    assert sb.count("requisitions") == before + 1
    (found,) = _find_again(client, login, attempt)
    assert found["req-title"] == "[F4242] Write fault"


def test_slow_create_answers_a_patient_client(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any]
) -> None:
    """A client that waits longer than slow_seconds gets the 201 of the one create."""
    before = fresh_sandbox.count("requisitions")
    fresh_sandbox.set_faults(slow_seconds=0.2, next=["slow_create"])
    resp = client.http.post("/api/requisitions", json=body)
    assert resp.status_code == 201
    assert resp.json()["req-title"] == "[F4242] Write fault"
    assert fresh_sandbox.count("requisitions") == before + 1


def test_slow_before_handling_creates_nothing(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any], login: str
) -> None:
    """The read fault `slow` waits before handling: a client that gives up leaves nothing."""
    sb = fresh_sandbox
    before = sb.count("requisitions")
    sb.reset_stats()
    sb.set_faults(slow_seconds=1.0, next=["slow"])
    attempt = datetime.now(UTC)
    with pytest.raises(httpx.ReadTimeout):
        client.http.post("/api/requisitions", json=body, timeout=SHORT)
    _wait_until_handled(sb, 1)
    assert sb.count("requisitions") == before
    assert _find_again(client, login, attempt) == []


@pytest.mark.parametrize(
    ("kind", "status"), [("error_503", 503), ("error_500", 500), ("storm_429", 429)]
)
def test_errors_before_handling_create_nothing(
    fresh_sandbox: SandboxHandle,
    client: Any,
    body: dict[str, Any],
    login: str,
    kind: str,
    status: int,
) -> None:
    """503, 500 and storm 429s are answered before the router runs: nothing is created."""
    before = fresh_sandbox.count("requisitions")
    fresh_sandbox.set_faults(storm_length=1, storm_retry_after=0, next=[kind])
    attempt = datetime.now(UTC)
    resp = client.http.post("/api/requisitions", json=body)
    assert resp.status_code == status
    assert "errors" in resp.json()
    assert fresh_sandbox.count("requisitions") == before
    assert _find_again(client, login, attempt) == []


def test_rate_limited_post_creates_nothing(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any], login: str
) -> None:
    """A POST over the instance's limit gets 429 with Retry-After and creates nothing."""
    sb = fresh_sandbox
    before = sb.count("requisitions")
    sb.settings(rate=0.001, burst=1)
    assert client.get("/api/uoms").status_code == 200  # takes the one token
    attempt = datetime.now(UTC)
    resp = client.http.post("/api/requisitions", json=body)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) >= 1
    sb.settings(rate=0)
    assert sb.count("requisitions") == before
    assert _find_again(client, login, attempt) == []
    assert sb.stats()["rate_limited"] == 1


def test_queued_write_fault_waits_for_a_write(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any]
) -> None:
    """A write kind at the head of the queue lets GETs through and stays queued until the
    next POST; a write kind by probability never hits a GET."""
    sb = fresh_sandbox
    sb.set_faults(next=["lost_response"])
    assert [client.get("/api/uoms").status_code for _ in range(3)] == [200, 200, 200]
    assert sb.set_faults()["next"] == ["lost_response"]
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.http.post("/api/requisitions", json=body)
    assert sb.set_faults()["next"] == []
    sb.set_faults(lost_response=1.0)
    assert client.get("/api/uoms").status_code == 200
    assert sb.stats()["faults_injected"] == {"lost_response": 1}


def test_apply_methods_aims_every_fault_at_writes(
    fresh_sandbox: SandboxHandle, client: Any, body: dict[str, Any]
) -> None:
    """apply_methods=["POST"]: other methods neither get faults nor consume the queue."""
    sb = fresh_sandbox
    before = sb.count("requisitions")
    settings = sb.set_faults(apply_methods=["post"], next=["error_503"])
    assert settings["apply_methods"] == ["POST"]
    assert client.get("/api/uoms").status_code == 200
    assert client.http.post("/api/requisitions", json=body).status_code == 503
    sb.set_faults(error_503=1.0)
    assert client.get("/api/uoms").status_code == 200
    assert client.http.post("/api/requisitions", json=body).status_code == 503
    assert sb.count("requisitions") == before
    assert sb.set_faults(apply_methods=None)["apply_methods"] is None
    assert client.get("/api/uoms").status_code == 503


def test_bad_apply_methods_are_refused(fresh_sandbox: SandboxHandle) -> None:
    """An empty method list is refused (null means every method)."""
    url = f"{fresh_sandbox.base_url}/_sandbox/faults"
    assert httpx.post(url, json={"apply_methods": []}).status_code == 400
    assert httpx.post(url, json={"next": ["lost_response", "slow_create"]}).status_code == 200


def test_command_line_aims_faults_at_writes(make_api: Any) -> None:
    """--fault-500 1 --fault-methods POST: reads pass, every POST gets 500; the write kinds
    have options of their own."""
    with running_sandbox(
        rate=0,
        users=4,
        accounts=10,
        suppliers=5,
        items=5,
        requisitions=2,
        fault_500=1.0,
        fault_lost_response=0.25,
        fault_methods="POST",
    ) as sb:
        settings = sb.set_faults()
        assert settings["apply_methods"] == ["POST"]
        assert (settings["error_500"], settings["lost_response"]) == (1.0, 0.25)
        api = make_api(sb)
        assert api.get("/api/uoms").status_code == 200
        assert api.http.post("/api/requisitions", json={}).status_code == 500
        assert sb.count("requisitions") == 2
        api.close()

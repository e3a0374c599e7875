"""CoupaClient against the real sandbox over HTTP (faults, scopes, shared rate limit).

The client's own limiter is not what most of these tests are about: their connection
allows far more than the sandbox (rate 0) would ever need, so nothing waits for it. The
rate limit itself is tested by the two worker processes at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from coupa.client import types
from coupa.client.base import CoupaClient
from coupa.client.scopes import DEFAULT_SCOPES
from coupa.client.stats import RequestStats
from coupa.client.types import ConnectionConfig
from coupa.reference.registry import RESOURCES
from coupa.reference.walk import charts_fetch_active
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from tests.coupa.conftest import FakeClock, FakeLimiter
from tests.support import REPO_ROOT

# Transactional: paging threads and the DB limiter use their own connections.
pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

FAULTS = {"fault_503": 0.05, "fault_429_storm": 0.02, "fault_reset": 0.01, "fault_truncate": 0.01}


@pytest.fixture(autouse=True)
def _sandbox_settings(settings: Any) -> None:
    settings.COUPA_RETRY_ATTEMPTS = 10
    settings.COUPA_BACKOFF_BASE = 0.05
    settings.COUPA_BACKOFF_MAX = 0.5
    settings.COUPA_RATE_PENALTY_SECONDS = 3.0
    settings.COUPA_PAGE_CONCURRENCY = 4


def _config(sandbox: SandboxHandle, key: str, **kw: Any) -> ConnectionConfig:
    kw.setdefault("rate", 5000.0)
    kw.setdefault("burst", 500)
    return ConnectionConfig(
        key=key,
        base_url=sandbox.base_url,
        client_id=kw.pop("client_id", sandbox.client_id),
        client_secret=kw.pop("client_secret", sandbox.client_secret),
        **kw,
    )


@pytest.fixture(scope="module")
def _big_sandbox_process() -> Iterator[SandboxHandle]:
    with running_sandbox(items=5000, rate=0) as sandbox:
        yield sandbox


@pytest.fixture
def big_sandbox(_big_sandbox_process: SandboxHandle) -> SandboxHandle:
    """The module's 5,000-item sandbox in its start-up state (data, clients, tokens, faults).

    Tests that need no more than the default data use the session's (`sandbox_allowed`).
    """
    _big_sandbox_process.reset(tokens=True)
    return _big_sandbox_process


# Every kind the client must absorb, once for sure, before the random mix takes over.
_EACH_FAULT_ONCE = ["error_503", "storm_429", "reset", "incomplete", "truncate", "malformed"]


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_paging_5000_items_under_faults_returns_each_once(
    big_sandbox: SandboxHandle, concurrent: bool, settings: Any
) -> None:
    """Each fault once, then 5% 503, 2% 429 storms, 1% resets, 1% truncated bodies:
    every item exactly once, and every 429 waited out for its Retry-After.

    The client sleeps on a fake clock and a fake limiter counts its penalties, so
    backoffs and Retry-After cost nothing; the paging threads all move that one clock,
    hence a deadline that only a client retrying forever would reach.
    """
    settings.COUPA_RETRY_DEADLINE = 3600.0
    big_sandbox.set_faults(
        error_503=0.05, storm_429=0.02, reset=0.01, truncate=0.01, next=_EACH_FAULT_ONCE
    )
    stats, clock, limiter = RequestStats(), FakeClock(), FakeLimiter()
    key = f"sandbox-faults-{concurrent}-{time.time_ns()}"
    with CoupaClient(
        _config(big_sandbox, key), stats=stats, limiter=limiter, sleep=clock.sleep, clock=clock
    ) as client:
        seen = Counter(item.id for item in client.iter_records(types.Item, concurrent=concurrent))
    expected = big_sandbox.ids("items")
    assert len(expected) == 5000
    assert seen == Counter(expected)
    server = big_sandbox.stats()
    assert set(server["faults_injected"]) >= set(_EACH_FAULT_ONCE)
    counts = stats.as_dict()
    assert counts["failures"] == 0
    assert counts["retries"] >= len(_EACH_FAULT_ONCE) + 9  # a storm is 10 requests
    # Each 429 (storms answer Retry-After: 1) was waited out and slowed the limiter.
    assert counts["throttled_429"] == server["by_status"]["429"] >= 10
    assert clock.sleeps.count(1.0) == counts["throttled_429"]
    assert limiter.penalties == [1.0] * counts["throttled_429"]
    assert server["accept_not_json"] == 0
    assert "400" not in server["by_status"]  # every query the client built was accepted


def test_records_changing_mid_walk_against_the_sandbox(big_sandbox: SandboxHandle) -> None:
    """Renames, deactivations and new items during a concurrent walk: none lost or doubled."""
    key = f"sandbox-mutate-{time.time_ns()}"
    with CoupaClient(_config(big_sandbox, key)) as client:
        walk = client.iter_records(types.Item, concurrent=True)
        seen = Counter(item.id for _, item in zip(range(500), walk, strict=False))
        before = big_sandbox.ids("items")
        big_sandbox.rename("items", before[10], "renamed early")
        big_sandbox.rename("items", before[-10], "renamed late")
        big_sandbox.deactivate("items", before[20], before[-20])
        added = big_sandbox.add("items", 30)
        seen.update(item.id for item in walk)
    assert seen == Counter(before + added)


@pytest.mark.parametrize("scope_mode", ["list", "no-scope-field", "invalid-scope"])
def test_missing_scopes_in_every_scope_mode(sandbox_allowed: SandboxHandle, scope_mode: str) -> None:
    """The sandbox's three ways of reporting scopes all yield the missing one."""
    sandbox_allowed.settings(scope_mode=scope_mode)
    narrow = list(DEFAULT_SCOPES)
    narrow.remove("core.supplier.read")
    sandbox_allowed.add_client("narrow", "narrow-secret", scopes=narrow)
    suffix = f"{scope_mode}-{time.time_ns()}"
    config = _config(
        sandbox_allowed, f"narrow-{suffix}", client_id="narrow", client_secret="narrow-secret"
    )
    with CoupaClient(config) as client:
        assert client.missing_scopes() == ["core.supplier.read"]
    with CoupaClient(_config(sandbox_allowed, f"full-{suffix}")) as client:
        assert client.missing_scopes() == []


def test_revoked_token_is_refreshed_once(sandbox_allowed: SandboxHandle) -> None:
    """Tokens revoked mid-walk: one 401, one new token, the walk goes on."""
    stats = RequestStats()
    key = f"sandbox-revoke-{time.time_ns()}"
    with CoupaClient(_config(sandbox_allowed, key), stats=stats) as client:
        walk = client.iter_records(types.Item, concurrent=False)
        seen = [item.id for _, item in zip(range(120), walk, strict=False)]
        sandbox_allowed.revoke_tokens()
        seen += [item.id for item in walk]
    assert sorted(seen) == sandbox_allowed.ids("items")
    assert stats.as_dict()["token_requests"] == 2


def test_every_declared_query_is_accepted_by_the_sandbox(sandbox_allowed: SandboxHandle) -> None:
    """What syncs send for each declared resource (its fields, its active filter and the
    keyset parameters) is accepted and parsed, and a chart's accounts filter by chart."""
    key = f"sandbox-fields-{time.time_ns()}"
    with CoupaClient(_config(sandbox_allowed, key), concurrency=1) as client:
        for spec in RESOURCES.values():
            records = list(
                client.iter_records(
                    spec.record_type, params=spec.active_params(), fields=spec.fields
                )
            )
            assert records, spec.name
            assert all(isinstance(r, spec.record_type) for r in records)
        charts = charts_fetch_active(client)
        chart = charts[0]
        fields = RESOURCES["charts"].fields
        assert client.get_record(types.AccountType, chart.id, fields=fields).name == chart.name
        accounts = list(
            client.iter_records(
                types.Account,
                params={"account-type[id][in]": str(chart.id)},
                fields=RESOURCES["accounts"].fields,
            )
        )
        assert accounts
        assert {a.account_type_id for a in accounts} == {chart.id}
    assert "400" not in sandbox_allowed.stats()["by_status"]


# --- two worker processes share the instance's budget ---------------------------------

_WORKER = """
import json, sys, time
import django
django.setup()
from coupa.client.base import CoupaClient
from coupa.client.types import ConnectionConfig, Item
base_url, client_id, secret, rate, burst, key = sys.argv[1:7]
config = ConnectionConfig(key=key, base_url=base_url, client_id=client_id,
                          client_secret=secret, rate=float(rate), burst=int(burst))
with CoupaClient(config, concurrency=4) as client:
    print("ready", flush=True)
    sys.stdin.readline()  # start together: the test says go to both at once
    count = sum(1 for _ in client.iter_records(Item))
print(json.dumps({"count": count, "stats": client.stats.as_dict()}))
"""


def _backend_env(backend: str, settings: Any) -> dict[str, str]:
    if backend == "redis":
        return {"REDIS_URL": settings.REDIS_URL}
    # Without Redis the workers' token cache is the database cache: make sure its
    # table exists in the test database even when this run itself uses Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "spendflo_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {"REDIS_URL": "", "DATABASE_URL": url}


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_two_worker_processes_stay_within_the_instance_rate(backend: str, settings: Any) -> None:
    """Two processes paging at once share one budget: the sandbox never refuses a request.

    The sandbox's own bucket is the witness: started together, two processes each
    spending their own 10/s would overrun its 10/s within half a second of spending
    their bursts and get 429s. The rate is far below what a process manages unthrottled,
    so the limiter, not the machine, sets the pace. Counts only; how long the walks take
    is the bench's business.
    """
    # The connection's burst is a third of the instance's. With equal bursts both
    # buckets would run empty together and any jitter would cost a 429; with this
    # headroom a request must be late by 6 / rate = 0.6 s before the sandbox refuses one.
    rate, burst = 10, 3
    with running_sandbox(items=500, rate=rate, burst=3 * burst, latency_ms=20) as sandbox:
        sandbox.reset_stats()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "spendflo.settings",
            **_backend_env(backend, settings),
        }
        # One connection (one cache key) for both processes, fresh for this run.
        key = f"two-workers-{time.time_ns()}"
        args = [sandbox.base_url, sandbox.client_id, sandbox.client_secret, str(rate), str(burst), key]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, *args],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.communicate()[1]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            results.append(json.loads(out))
        server = sandbox.stats()
    assert [r["count"] for r in results] == [500, 500]
    assert server["rate_limited"] == 0
    assert server["by_status"] == {"200": server["total"]}
    # Every request either process made reached the sandbox, and none was retried.
    worker_stats = [r["stats"] for r in results]
    assert server["total"] == sum(s["requests"] + s["token_requests"] for s in worker_stats)
    assert [s["throttled_429"] for s in worker_stats] == [0, 0]
    assert [s["retries"] for s in worker_stats] == [0, 0]

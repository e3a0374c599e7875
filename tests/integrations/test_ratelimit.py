"""The shared per-host token bucket: GCRA math, DB and Redis stores, across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from integrations.models import RateLimitBucket
from integrations.ratelimit import (
    DatabaseBucketStore,
    RedisBucketStore,
    SharedRateLimiter,
    gcra_reserve,
    shared_limiter,
)
from tests.support import REPO_ROOT


def test_gcra_allows_a_burst_then_spaces_requests() -> None:
    """burst=3, rate=10: three immediate slots, then one every 0.1 s."""
    tat, waits = 0.0, []
    for _ in range(6):
        wait, tat = gcra_reserve(tat, 100.0, 10.0, 3)
        waits.append(round(wait, 6))
    assert waits == [0.0, 0.0, 0.0, 0.1, 0.2, 0.3]


def test_gcra_refills_while_idle() -> None:
    """After an idle second the full burst is available again."""
    tat = 0.0
    for _ in range(5):
        _, tat = gcra_reserve(tat, 100.0, 10.0, 3)
    wait, _ = gcra_reserve(tat, 101.5, 10.0, 3)
    assert wait == 0.0


@pytest.mark.django_db(transaction=True)
def test_database_store_reserves_and_penalizes() -> None:
    """One row per host; a 429 pauses the host and halves its rate for a while."""
    now = [1000.0]
    store = DatabaseBucketStore(clock=lambda: now[0])
    waits = [store.reserve("acme.coupahost.com", 20.0, 10, 0.5) for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.05, 0.10])
    assert RateLimitBucket.objects.filter(host="acme.coupahost.com").count() == 1

    now[0] = 2000.0  # long idle
    store.penalize("acme.coupahost.com", 20.0, 10, 0.5, pause=3.0, penalty_seconds=60.0)
    first = store.reserve("acme.coupahost.com", 20.0, 10, 0.5)
    second = store.reserve("acme.coupahost.com", 20.0, 10, 0.5)
    assert first == pytest.approx(3.0)
    assert second - first == pytest.approx(0.1)  # 10 rps while penalised
    now[0] = 2100.0  # penalty over, bucket refilled
    assert store.reserve("acme.coupahost.com", 20.0, 10, 0.5) == 0.0
    # Other hosts have their own bucket.
    assert store.reserve("other.coupahost.com", 20.0, 10, 0.5) == 0.0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_store_works_inside_a_callers_transaction() -> None:
    """On Postgres the row lock is taken on a helper thread's connection, not the caller's."""
    from django.db import transaction

    store = DatabaseBucketStore()
    with transaction.atomic():
        assert store.reserve("acme.coupahost.com", 20.0, 10, 0.5) == 0.0
    assert RateLimitBucket.objects.get(host="acme.coupahost.com").tat > 0


def test_shared_limiter_sleeps_for_the_reserved_wait() -> None:
    """acquire() sleeps exactly the wait the store hands out."""

    class Store:
        def reserve(self, host: str, rate: float, burst: int, penalty_factor: float) -> float:
            return 0.25

        def penalize(self, *args: Any) -> None:
            self.penalized = args

    slept: list[float] = []
    store = Store()
    limiter = SharedRateLimiter("h", 20.0, 10, store, sleep=slept.append)
    assert limiter.acquire() == 0.25
    limiter.penalize(None)
    assert slept == [0.25]
    assert store.penalized[4] == pytest.approx(0.05)  # no Retry-After: one interval


@pytest.mark.django_db
def test_shared_limiter_uses_the_database_without_redis(settings: Any) -> None:
    """No REDIS_URL: the database store; never a per-process bucket."""
    settings.REDIS_URL = ""
    assert isinstance(shared_limiter("h", 20.0, 10).store, DatabaseBucketStore)


@pytest.mark.redis
def test_redis_store_reserves_and_penalizes() -> None:
    """Same behaviour in Redis (server clock, so waits are compared loosely)."""
    store = RedisBucketStore(django_settings.REDIS_URL)
    host = f"test-{uuid.uuid4().hex}.coupahost.com"
    try:
        waits = [store.reserve(host, 20.0, 10, 0.5) for _ in range(12)]
        assert waits[:10] == [0.0] * 10
        assert 0.0 < waits[10] <= 0.05
        assert waits[11] - waits[10] == pytest.approx(0.05, abs=0.01)
        store.penalize(host, 20.0, 10, 0.5, 3.0, 60.0)
        first = store.reserve(host, 20.0, 10, 0.5)
        second = store.reserve(host, 20.0, 10, 0.5)
        assert 2.9 <= first <= 3.1
        assert second - first == pytest.approx(0.1, abs=0.01)
    finally:
        store.reset(host)


# A worker process: take N slots from the shared limiter, print when each was granted.
_WORKER = """
import json, sys, time
import django
django.setup()
from integrations.ratelimit import shared_limiter
limiter = shared_limiter(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
stamps = []
for _ in range(int(sys.argv[4])):
    limiter.acquire()
    stamps.append(time.time())
print(json.dumps(stamps))
"""


def _run_workers(
    host: str, rate: float, burst: int, per_worker: int, env: dict[str, str]
) -> list[float]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, host, str(rate), str(burst), str(per_worker)],
            cwd=REPO_ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "spendflo.settings", **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    stamps: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        stamps += json.loads(out)
    return sorted(stamps)


def _max_in_window(stamps: list[float], window: float) -> int:
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.redis
def test_processes_share_one_redis_bucket() -> None:
    """Three processes together never exceed rate x window + burst (Redis)."""
    host = f"test-{uuid.uuid4().hex}.coupahost.com"
    stamps = _run_workers(host, 20.0, 5, 20, {"REDIS_URL": django_settings.REDIS_URL})
    assert len(stamps) == 60
    # 60 slots at 20/s with burst 5 need at least (60 - 5) / 20 s; any 1 s window
    # holds at most 20 + 5 (+1 for timer slack).
    assert _max_in_window(stamps, 1.0) <= 26
    assert _max_in_window(stamps, 0.5) <= 16


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_share_one_database_bucket() -> None:
    """Three processes without Redis share the Postgres row (select_for_update)."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    stamps = _run_workers(
        "db-shared.coupahost.com", 20.0, 5, 20, {"DATABASE_URL": url, "REDIS_URL": ""}
    )
    assert len(stamps) == 60
    assert _max_in_window(stamps, 1.0) <= 26
    assert _max_in_window(stamps, 0.5) <= 16

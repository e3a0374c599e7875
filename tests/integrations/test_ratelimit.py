"""The shared per-host token bucket: GCRA math, DB and Redis stores, across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from integrations.models import RateLimitBucket
from integrations.ratelimit import (
    BucketStore,
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


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(
    params=[
        pytest.param("database", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def store_and_clock(request: pytest.FixtureRequest) -> Iterator[tuple[BucketStore, Clock]]:
    """Each store on a fake clock (the Redis one ignores the server's clock then)."""
    clock = Clock()
    if request.param == "database":
        yield DatabaseBucketStore(clock=clock), clock
        return
    store = RedisBucketStore(django_settings.REDIS_URL, clock=clock)
    try:
        yield store, clock
    finally:
        for host in (HOST, OTHER_HOST):
            store.reset(host)


HOST = f"test-{uuid.uuid4().hex}.coupahost.com"
OTHER_HOST = f"other-{uuid.uuid4().hex}.coupahost.com"


def test_store_reserves_and_penalizes(store_and_clock: tuple[BucketStore, Clock]) -> None:
    """Burst, then one slot per interval; a 429 pauses the host and halves its rate for a
    while; other hosts have their own bucket. Same behaviour in the database and Redis."""
    store, clock = store_and_clock
    waits = [store.reserve(HOST, 20.0, 10, 0.5) for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.05, 0.10])

    clock.now = 2000.0  # long idle
    store.penalize(HOST, 20.0, 10, 0.5, pause=3.0, penalty_seconds=60.0)
    first = store.reserve(HOST, 20.0, 10, 0.5)
    second = store.reserve(HOST, 20.0, 10, 0.5)
    assert first == pytest.approx(3.0)
    assert second - first == pytest.approx(0.1)  # 10 rps while penalised
    clock.now = 2100.0  # penalty over, bucket refilled
    assert store.reserve(HOST, 20.0, 10, 0.5) == 0.0
    assert store.reserve(OTHER_HOST, 20.0, 10, 0.5) == 0.0


@pytest.mark.django_db(transaction=True)
def test_database_store_keeps_one_row_per_host() -> None:
    """Reservations and penalties update the host's one row."""
    store = DatabaseBucketStore(clock=Clock())
    for _ in range(3):
        store.reserve("acme.coupahost.com", 20.0, 10, 0.5)
    store.penalize("acme.coupahost.com", 20.0, 10, 0.5, pause=3.0, penalty_seconds=60.0)
    assert RateLimitBucket.objects.filter(host="acme.coupahost.com").count() == 1


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
def test_redis_store_uses_the_server_clock_by_default() -> None:
    """Without a clock the script reads Redis's: a burst, then slots in order.

    At one request per 1,000 s, the milliseconds the calls take cannot change which
    slot each one gets.
    """
    store = RedisBucketStore(django_settings.REDIS_URL)
    host = f"test-{uuid.uuid4().hex}.coupahost.com"
    try:
        waits = [store.reserve(host, 0.001, 3, 0.5) for _ in range(6)]
    finally:
        store.reset(host)
    assert [round(w * 0.001) for w in waits] == [0, 0, 0, 1, 2, 3]


# A worker process: reserve N slots from the shared limiter and print the wait each one
# was given. It never sleeps: the reservations are the behaviour under test.
_WORKER = """
import json, sys
import django
django.setup()
from integrations.ratelimit import SharedRateLimiter, default_store
limiter = SharedRateLimiter(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), default_store(),
                            sleep=lambda seconds: None)
print(json.dumps([limiter.acquire() for _ in range(int(sys.argv[4]))]))
"""

# One slot per 1,000 s: the seconds the processes take to start and run are nothing next
# to the interval, so which slot each reservation gets depends on the bucket alone.
RATE, BURST, PER_WORKER, WORKERS = 0.001, 5, 20, 3


def _run_workers(host: str, env: dict[str, str]) -> list[list[float]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, host, str(RATE), str(BURST), str(PER_WORKER)],
            cwd=REPO_ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "spendflo.settings", **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    waits: list[list[float]] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        waits.append(json.loads(out))
    return waits


def _assert_one_bucket(waits: list[list[float]]) -> None:
    """One bucket for all: `BURST` immediate slots in total (not per process), then every
    later slot handed out once; each process's own slots come in order."""
    slots = sorted(round(w * RATE) for per_worker in waits for w in per_worker)
    assert slots == [0] * BURST + list(range(1, WORKERS * PER_WORKER - BURST + 1))
    for per_worker in waits:
        assert per_worker == sorted(per_worker)


@pytest.mark.redis
def test_processes_share_one_redis_bucket() -> None:
    """Three processes draw from one Redis bucket."""
    host = f"test-{uuid.uuid4().hex}.coupahost.com"
    try:
        waits = _run_workers(host, {"REDIS_URL": django_settings.REDIS_URL})
    finally:
        RedisBucketStore(django_settings.REDIS_URL).reset(host)
    _assert_one_bucket(waits)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_share_one_database_bucket() -> None:
    """Three processes without Redis share the Postgres row (select_for_update)."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    _assert_one_bucket(_run_workers("db-shared.coupahost.com", {"DATABASE_URL": url, "REDIS_URL": ""}))

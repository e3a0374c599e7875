"""One request budget per provider instance (host), shared by every process.

Providers limit requests per instance (Coupa documents 25 requests/s with a burst of 20
and nothing about what happens beyond, coupa-api.md §4, §9.6), so clients throttle
themselves: every request of every worker draws from one bucket per host. The bucket lives in Redis when `REDIS_URL`
is set (one atomic Lua script) and in the database otherwise (one `RateLimitBucket` row
per host, updated under `select_for_update`; SQLite serialises writers). Never in process
memory: two Celery workers would each spend the whole budget.

The algorithm is GCRA (a token bucket kept as one number, the theoretical arrival time
`tat`), used in reservation mode: a caller always gets a slot, possibly in the future,
and sleeps until it. One round trip per request, no polling, first come first served.
After a 429 the rate is lowered (`COUPA_RATE_PENALTY_FACTOR`, default 0.5) for
`COUPA_RATE_PENALTY_SECONDS` (default 60) and the whole instance pauses for Retry-After.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction

__all__ = [
    "BucketStore",
    "DatabaseBucketStore",
    "RateLimiter",
    "RedisBucketStore",
    "SharedRateLimiter",
    "release_db_connections",
    "shared_limiter",
]

logger = logging.getLogger(__name__)

# The state of an idle bucket is irrelevant after a while; let Redis drop it.
_REDIS_TTL_SECONDS = 3600

# KEYS[1]: bucket hash. ARGV: rate, burst, penalty factor, mode ("reserve" | "penalize"),
# pause seconds, penalty seconds, now ("" for the Redis clock). Uses the Redis clock so
# that hosts with drifting clocks still share one timeline; only tests pass `now`.
# Returns the wait in seconds as a string (Lua numbers would be truncated to integers on
# the way back).
_LUA = """
local now = tonumber(ARGV[7])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat')) or now
local pen = tonumber(redis.call('HGET', KEYS[1], 'pen')) or 0
if ARGV[4] == 'penalize' then
  local interval = 1 / (rate * tonumber(ARGV[3]))
  local resume = now + tonumber(ARGV[5]) + (burst - 1) * interval
  if resume > tat then tat = resume end
  local until_ = now + tonumber(ARGV[6])
  if until_ > pen then pen = until_ end
  redis.call('HSET', KEYS[1], 'tat', tostring(tat), 'pen', tostring(pen))
  redis.call('EXPIRE', KEYS[1], {ttl})
  return '0'
end
if now < pen then rate = rate * tonumber(ARGV[3]) end
local interval = 1 / rate
if tat < now then tat = now end
local wait = tat - (burst - 1) * interval - now
if wait < 0 then wait = 0 end
redis.call('HSET', KEYS[1], 'tat', tostring(tat + interval))
redis.call('EXPIRE', KEYS[1], {ttl})
return tostring(wait)
""".replace("{ttl}", str(_REDIS_TTL_SECONDS))


def gcra_reserve(tat: float, now: float, rate: float, burst: int) -> tuple[float, float]:
    """Reserve one slot; return `(wait seconds, new tat)`.

    A request conforms at `tat - (burst - 1) / rate`; the first `burst` requests on an
    idle bucket wait 0, later ones are spaced `1 / rate` apart.
    """
    interval = 1.0 / rate
    tat = max(tat, now)
    wait = max(0.0, tat - (burst - 1) * interval - now)
    return wait, tat + interval


def gcra_pause(tat: float, now: float, rate: float, burst: int, pause: float) -> float:
    """Return the tat that lets the next request through no earlier than `now + pause`."""
    return max(tat, now + pause + (burst - 1) / rate)


class BucketStore(Protocol):
    """Where the bucket state lives. Implementations must be safe across processes."""

    def reserve(self, host: str, rate: float, burst: int, penalty_factor: float) -> float:
        """Take one slot; return how long the caller must wait before sending."""

    def penalize(
        self,
        host: str,
        rate: float,
        burst: int,
        penalty_factor: float,
        pause: float,
        penalty_seconds: float,
    ) -> None:
        """Pause the host for `pause` seconds and lower its rate for `penalty_seconds`."""


class RedisBucketStore:
    """Bucket state in a Redis hash, changed by one Lua script (atomic, server clock).

    `clock` is for tests: it replaces the Redis server's clock, which every process
    shares and production always uses.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "spendflo:coupa:ratelimit:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        import redis  # local: the DB-only mode must not need a Redis client configured

        self._redis: Any = redis.Redis.from_url(url)
        self._script: Any = self._redis.register_script(_LUA)
        self._prefix = prefix
        self._clock = clock

    def _key(self, host: str) -> str:
        return self._prefix + host

    def _now(self) -> str:
        return "" if self._clock is None else repr(self._clock())

    def reserve(self, host: str, rate: float, burst: int, penalty_factor: float) -> float:
        result = self._script(
            keys=[self._key(host)],
            args=[rate, burst, penalty_factor, "reserve", 0, 0, self._now()],
        )
        return float(result)

    def penalize(
        self,
        host: str,
        rate: float,
        burst: int,
        penalty_factor: float,
        pause: float,
        penalty_seconds: float,
    ) -> None:
        self._script(
            keys=[self._key(host)],
            args=[rate, burst, penalty_factor, "penalize", pause, penalty_seconds, self._now()],
        )

    def reset(self, host: str) -> None:
        """Forget the state of `host` (tests, benchmarks)."""
        self._redis.delete(self._key(host))


# On Postgres the DB store runs its transaction on a helper thread, so that it always has
# its own connection: a caller inside `transaction.atomic()` would otherwise hold the
# bucket's row lock until its own commit and stall every other worker. One helper per process (pid),
# because a forked Celery child does not inherit the parent's threads.
_db_executors: dict[int, ThreadPoolExecutor] = {}
_db_executors_lock = threading.Lock()
_sqlite_lock = threading.Lock()


def _db_executor() -> ThreadPoolExecutor:
    pid = os.getpid()
    with _db_executors_lock:
        executor = _db_executors.get(pid)
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coupa-ratelimit")
            _db_executors[pid] = executor
        return executor


def release_db_connections() -> None:
    """Close the helper thread's database connection (test teardown, worker shutdown)."""
    executor = _db_executors.get(os.getpid())
    if executor is not None:
        executor.submit(connections.close_all).result()


class DatabaseBucketStore:
    """Bucket state in `integrations.RateLimitBucket`, one row per host.

    Postgres: the row is locked with `select_for_update` for the read-modify-write.
    SQLite: `select_for_update` is a no-op, but the project opens transactions with
    `BEGIN IMMEDIATE` (settings), which serialises writers across processes.
    Uses the local clock: the DB mode serves single-host deployments.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def _run(self, fn: Callable[[], float]) -> float:
        if connection.vendor == "sqlite":
            # SQLite has one writer lock for the whole file: a helper connection would
            # wait for the caller's own transaction, so run in the caller's connection.
            # Threads of one process take turns here: shared-cache (in-memory) SQLite
            # fails at once on a locked table instead of waiting for the busy timeout.
            with _sqlite_lock:
                return fn()

        def job() -> float:
            close_old_connections()
            return fn()

        return _db_executor().submit(job).result()

    def _update(self, host: str, change: Callable[[Any, float], float]) -> float:
        from integrations.models import RateLimitBucket

        def work() -> float:
            RateLimitBucket.objects.get_or_create(host=host)
            with transaction.atomic():
                row = RateLimitBucket.objects.select_for_update().get(host=host)
                result = change(row, self._clock())
                row.save(update_fields=["tat", "penalty_until", "updated_at"])
            return result

        return self._run(work)

    def reserve(self, host: str, rate: float, burst: int, penalty_factor: float) -> float:
        def change(row: Any, now: float) -> float:
            effective = rate * penalty_factor if now < row.penalty_until else rate
            wait, row.tat = gcra_reserve(row.tat, now, effective, burst)
            return wait

        return self._update(host, change)

    def penalize(
        self,
        host: str,
        rate: float,
        burst: int,
        penalty_factor: float,
        pause: float,
        penalty_seconds: float,
    ) -> None:
        def change(row: Any, now: float) -> float:
            row.tat = gcra_pause(row.tat, now, rate * penalty_factor, burst, pause)
            row.penalty_until = max(row.penalty_until, now + penalty_seconds)
            return 0.0

        self._update(host, change)

    def reset(self, host: str) -> None:
        """Forget the state of `host` (tests, benchmarks)."""
        from integrations.models import RateLimitBucket

        def work() -> float:
            RateLimitBucket.objects.filter(host=host).delete()
            return 0.0

        self._run(work)


class RateLimiter(Protocol):
    """What the client needs from a limiter."""

    def acquire(self) -> float:
        """Block until one request may be sent; return the seconds waited."""

    def penalize(self, retry_after: float | None) -> None:
        """Record a 429: pause the instance and lower its rate for a while."""


class SharedRateLimiter:
    """The per-host limiter every `CoupaClient` uses by default.

    Thread-safe (the state is in the store); `acquire` sleeps in the calling thread.
    """

    def __init__(
        self,
        host: str,
        rate: float,
        burst: int,
        store: BucketStore,
        *,
        penalty_factor: float = 0.5,
        penalty_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host
        self.rate = rate
        self.burst = burst
        self.store = store
        self.penalty_factor = penalty_factor
        self.penalty_seconds = penalty_seconds
        self._sleep = sleep

    def acquire(self) -> float:
        """Reserve a slot in the host's bucket and sleep until it comes."""
        wait = self.store.reserve(self.host, self.rate, self.burst, self.penalty_factor)
        if wait > 0:
            self._sleep(wait)
        return wait

    def penalize(self, retry_after: float | None) -> None:
        """Pause every process for `retry_after` s (or one interval) and slow down."""
        pause = retry_after if retry_after is not None else 1.0 / self.rate
        logger.info(
            "Coupa throttled %s: pausing %.1f s, rate x%g for %g s",
            self.host,
            pause,
            self.penalty_factor,
            self.penalty_seconds,
        )
        self.store.penalize(
            self.host, self.rate, self.burst, self.penalty_factor, pause, self.penalty_seconds
        )


_redis_stores: dict[tuple[int, str], RedisBucketStore] = {}


def default_store() -> BucketStore:
    """Return the process's store: Redis when `REDIS_URL` is set, the database otherwise."""
    url: str = settings.REDIS_URL or ""
    if not url:
        return DatabaseBucketStore()
    key = (os.getpid(), url)
    store = _redis_stores.get(key)
    if store is None:
        store = _redis_stores[key] = RedisBucketStore(url)
    return store


def shared_limiter(host: str, rate: float, burst: int) -> SharedRateLimiter:
    """Build the shared limiter for one host from settings (read now, not at import)."""
    return SharedRateLimiter(
        host,
        rate,
        burst,
        default_store(),
        penalty_factor=float(settings.COUPA_RATE_PENALTY_FACTOR),
        penalty_seconds=float(settings.COUPA_RATE_PENALTY_SECONDS),
    )

"""Per-run counters of the requests a client made (recorded on a sync run)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["RequestStats"]


class RequestStats:
    """Count requests, retries, 429s, token requests and limiter waits.

    Thread-safe: paging threads share one instance. Pass one to `CoupaClient(stats=...)`
    and store `as_dict()` on the run when it ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttled_429 = 0
        self.token_requests = 0
        self.failures = 0
        self.rate_wait_seconds = 0.0
        self.by_status: Counter[str] = Counter()

    def record_response(self, status: int | None, *, retry: bool) -> None:
        """Count one API attempt; `status` None means no answer (timeout, reset)."""
        with self._lock:
            self.requests += 1
            if retry:
                self.retries += 1
            if status == 429:
                self.throttled_429 += 1
            self.by_status[str(status) if status is not None else "none"] += 1

    def record_token_request(self) -> None:
        """Count one token request."""
        with self._lock:
            self.token_requests += 1

    def record_failure(self) -> None:
        """Count one call that ended in an exception."""
        with self._lock:
            self.failures += 1

    def record_wait(self, seconds: float) -> None:
        """Add time spent waiting for the rate limiter."""
        with self._lock:
            self.rate_wait_seconds += seconds

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready snapshot."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled_429": self.throttled_429,
                "token_requests": self.token_requests,
                "failures": self.failures,
                "rate_wait_seconds": round(self.rate_wait_seconds, 3),
                "by_status": dict(self.by_status),
            }

    def __repr__(self) -> str:
        return f"RequestStats({self.as_dict()!r})"

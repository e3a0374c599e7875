"""One token bucket per sandbox instance, shared by all clients as Coupa's is.

Coupa documents 25 requests per second with a burst of 20 (coupa-api.md 4);
what it does on overflow is undocumented, so the sandbox answers 429 with an
integer `Retry-After`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ManualClock:
    """A clock that stands still until `advance` moves it (`--manual-clock`).

    Tests give the bucket this clock so that what is refused, and when a retry is let
    through, depends on the requests alone and never on how fast the machine is.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward; return the new reading. Raises ValueError below 0."""
        if not seconds >= 0:
            raise ValueError("the clock only moves forward")
        self.now += seconds
        return self.now


class TokenBucket:
    """A token bucket; `rate` 0 disables limiting."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.configure(rate, burst)

    def configure(self, rate: float, burst: int) -> None:
        """Change rate and burst; the bucket starts full."""
        self.rate = max(0.0, float(rate))
        self.burst = max(1, int(burst))
        self._tokens = float(self.burst)
        self._stamp = self._clock()

    def acquire(self) -> float:
        """Take a token: return 0.0 on success, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def retry_after_header(wait: float) -> str:
    """Return a Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))

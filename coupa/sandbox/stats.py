"""Request statistics for tests, benchmarks and the HTML page."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    """Counters by endpoint, status and client, plus the most recent requests."""

    recent_size: int = 200
    total: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_client: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429s from the token bucket (storms count under faults)
    accept_not_json: int = 0  # /api/ calls without Accept: application/json (coupa-api.md 1)
    recent: deque[dict[str, Any]] = field(default_factory=deque)
    started: float = field(default_factory=time.time)

    def record(
        self,
        *,
        method: str,
        endpoint: str,
        path: str,
        status: int,
        client_id: str | None,
        ms: float,
        fault: str | None,
    ) -> None:
        """Count one request (control-API calls are not counted)."""
        self.total += 1
        self.by_endpoint[f"{method} {endpoint}"] += 1
        self.by_status[str(status)] += 1
        self.by_client[client_id or "-"] += 1
        self.recent.append(
            {
                "at": round(time.time(), 3),
                "method": method,
                "path": path,
                "status": status,
                "client_id": client_id,
                "ms": round(ms, 2),
                "fault": fault,
            }
        )
        while len(self.recent) > self.recent_size:
            self.recent.popleft()

    def reset(self) -> None:
        """Zero every counter."""
        self.total = self.rate_limited = self.accept_not_json = 0
        self.by_endpoint.clear()
        self.by_status.clear()
        self.by_client.clear()
        self.recent.clear()
        self.started = time.time()

    def snapshot(self, recent: int = 50) -> dict[str, Any]:
        """Return the statistics as JSON."""
        return {
            "total": self.total,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": dict(self.by_status),
            "by_client": dict(self.by_client),
            "rate_limited": self.rate_limited,
            "status_429": self.by_status.get("429", 0),
            "accept_not_json": self.accept_not_json,
            "recent": list(self.recent)[-recent:] if recent else [],
            "since": self.started,
        }

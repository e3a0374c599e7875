"""Request statistics for tests, benchmarks and the HTML page."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

#: Faults after which the client still gets the whole answer.
_INTACT = frozenset({None, "slow"})


@dataclass
class Stats:
    """Counters by endpoint, status and client, plus the most recent requests."""

    recent_size: int = 200
    total: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_client: Counter[str] = field(default_factory=Counter)
    # Per collection path (/api/items): GETs answered 2xx with an intact body, and the
    # records they returned; what tests of paging count requests and records with.
    by_collection: dict[str, dict[str, int]] = field(default_factory=dict)
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
        records: int | None = None,
    ) -> None:
        """Count one request (control-API calls are not counted).

        `records` is how many records a collection GET returned; it counts under
        `by_collection` when the answer was 2xx and no fault but a delay touched it.
        """
        self.total += 1
        self.by_endpoint[f"{method} {endpoint}"] += 1
        self.by_status[str(status)] += 1
        self.by_client[client_id or "-"] += 1
        if records is not None and method == "GET" and 200 <= status < 300 and fault in _INTACT:
            counts = self.by_collection.setdefault(endpoint, {"gets": 0, "records": 0})
            counts["gets"] += 1
            counts["records"] += records
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
        self.by_collection.clear()
        self.recent.clear()
        self.started = time.time()

    def snapshot(self, recent: int = 50) -> dict[str, Any]:
        """Return the statistics as JSON."""
        return {
            "total": self.total,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": dict(self.by_status),
            "by_client": dict(self.by_client),
            "by_collection": {k: dict(v) for k, v in self.by_collection.items()},
            "rate_limited": self.rate_limited,
            "status_429": self.by_status.get("429", 0),
            "accept_not_json": self.accept_not_json,
            "recent": list(self.recent)[-recent:] if recent else [],
            "since": self.started,
        }

"""Fault injection for /api/ calls: 503s, 429 storms, slow responses, resets, bad JSON,
and writes whose answer never arrives.

Faults fire by probability (seeded, so a run is repeatable for the same request
order) or deterministically from a queue (`next`), which is what tests use; a queued
"none" lets one request through, so a fault can be aimed at, say, the third request.
A 429 storm answers the next `storm_length` requests with 429.

`apply_to` (path prefixes) and `apply_methods` (HTTP methods, None = all) decide which
requests consult the injector at all: the others get no fault and leave the queue, the
random stream and a running storm as they are. The write kinds (`WRITE_KINDS`) only
ever hit write methods: a GET never draws them, and a write kind at the head of the
queue waits there for the next write while other requests pass unharmed.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "error_503",  # 503 Service Unavailable with a JSON body
    "storm_429",  # this and the next storm_length - 1 requests get 429
    "slow",  # answer after slow_seconds (longer than a client's read timeout)
    "reset",  # close the connection with a TCP reset, no response at all
    "incomplete",  # Content-Length of the full body, half of it sent, then close
    "truncate",  # body cut in half, with a Content-Length matching the cut body
    "malformed",  # 200 with a body that is not JSON
    # Added after the others so that existing seeded runs draw the same faults.
    "error_500",  # 500 Internal Server Error with a JSON body, before anything is handled
    "lost_response",  # handle the request (a create is committed), then reset: no reply
    "slow_create",  # handle the request at once, hold the reply slow_seconds
)
#: Kinds that only hit write methods: what they test is a write done but not answered.
WRITE_KINDS = frozenset({"lost_response", "slow_create"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: A `next` queue entry that lets one request through unharmed.
NO_FAULT = "none"


@dataclass
class FaultSettings:
    """Current fault configuration."""

    rates: dict[str, float] = field(default_factory=dict)
    storm_length: int = 10
    storm_retry_after: int = 1  # whole seconds; 0 asks for a retry at once (tests)
    slow_seconds: float = 5.0
    apply_to: tuple[str, ...] = ("/api/",)
    queue: deque[str] = field(default_factory=deque)
    apply_methods: frozenset[str] | None = None  # None: every method

    def public(self) -> dict[str, Any]:
        """Return the settings as JSON."""
        return {
            **{k: self.rates.get(k, 0.0) for k in FAULT_KINDS},
            "storm_length": self.storm_length,
            "storm_retry_after": self.storm_retry_after,
            "slow_seconds": self.slow_seconds,
            "apply_to": list(self.apply_to),
            "apply_methods": None if self.apply_methods is None else sorted(self.apply_methods),
            "next": list(self.queue),
        }


class FaultInjector:
    """Decides which fault, if any, a request gets."""

    def __init__(self, settings: FaultSettings | None = None, seed: int = 0) -> None:
        self.initial = settings or FaultSettings()
        self.settings = _copy(self.initial)
        self.rng = random.Random(f"faults:{seed}")
        self.storm_remaining = 0
        self.injected: Counter[str] = Counter()

    def reset(self) -> None:
        """Restore the start-up settings and end any storm."""
        self.settings = _copy(self.initial)
        self.storm_remaining = 0

    def clear(self) -> None:
        """Switch every fault off."""
        self.settings = FaultSettings(
            apply_to=self.settings.apply_to, apply_methods=self.settings.apply_methods
        )
        self.storm_remaining = 0

    def update(self, body: Mapping[str, Any]) -> None:
        """Merge a control-API body into the settings; raise ValueError on bad input."""
        s = self.settings
        for key, value in body.items():
            if key in FAULT_KINDS:
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{key} must be a probability between 0 and 1")
                s.rates[key] = rate
            elif key == "storm_length":
                s.storm_length = max(1, int(value))
            elif key == "storm_retry_after":
                s.storm_retry_after = max(0, int(value))
            elif key == "slow_seconds":
                s.slow_seconds = max(0.0, float(value))
            elif key == "apply_to":
                s.apply_to = tuple(str(p) for p in value)
            elif key == "apply_methods":
                s.apply_methods = parse_methods(value)
            elif key == "next":
                kinds = [value] if isinstance(value, str) else list(value)
                bad = [k for k in kinds if k not in FAULT_KINDS and k != NO_FAULT]
                if bad:
                    raise ValueError(
                        f"unknown fault kinds {bad}; use {list(FAULT_KINDS)} or {NO_FAULT!r}"
                    )
                s.queue.extend(kinds)
            elif key != "clear":
                raise ValueError(
                    f"unknown fault setting {key!r}; use {list(FAULT_KINDS)} or storm_length, storm_retry_after, slow_seconds, apply_to, apply_methods, next"
                )

    def applies(self, path: str, method: str = "GET") -> bool:
        """Tell whether faults apply to this path and method."""
        methods = self.settings.apply_methods
        if methods is not None and method.upper() not in methods:
            return False
        return any(path.startswith(p) for p in self.settings.apply_to)

    def pick(self, method: str = "GET") -> str | None:
        """Return the fault for the current request, or None."""
        if self.storm_remaining > 0:
            self.storm_remaining -= 1
            self.injected["storm_429"] += 1
            return "storm_429"
        write = method.upper() in WRITE_METHODS
        kind: str | None = None
        queue = self.settings.queue
        if queue:
            if queue[0] in WRITE_KINDS and not write:
                return None  # it waits for the next write
            queued = queue.popleft()
            kind = None if queued == NO_FAULT else queued
        else:
            for k in FAULT_KINDS:
                if k in WRITE_KINDS and not write:
                    continue
                rate = self.settings.rates.get(k, 0.0)
                if rate and self.rng.random() < rate:
                    kind = k
                    break
        if kind == "storm_429":
            self.storm_remaining = self.settings.storm_length - 1
        if kind is not None:
            self.injected[kind] += 1
        return kind


def parse_methods(value: Any) -> frozenset[str] | None:
    """Return the methods of an `apply_methods` value: a list, a comma-separated string,
    or None (or "*") for every method; raise ValueError for an empty or odd one."""
    if value is None or value == "*":
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    methods = frozenset(str(m).strip().upper() for m in names if str(m).strip())
    if not methods:
        raise ValueError("apply_methods needs at least one method; null means every method")
    if "*" in methods:
        return None
    return methods


def _copy(s: FaultSettings) -> FaultSettings:
    return FaultSettings(
        dict(s.rates),
        s.storm_length,
        s.storm_retry_after,
        s.slow_seconds,
        s.apply_to,
        deque(s.queue),
        s.apply_methods,
    )

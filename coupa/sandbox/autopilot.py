"""The auto-pilot: moves submitted requisitions along without control calls (demos, benchmarks).

`--autopilot approve=30,order=60,receive=300` approves a requisition 30 s after the
auto-pilot sees it waiting for approval (or a buyer), orders it 60 s after it is seen
approved, and receives it in full 300 s after it is seen ordered. A step left out does not
happen; a step done by hand (a control call, a page button) counts like its own, so the
next step follows from it.

Only requisitions created after the sandbox started (or was last reset) are driven: the
generated data stays as the seed made it. Time comes from a clock seam, the same one the
rate limit uses: the real monotonic clock, or with `--manual-clock` one that moves only on
`POST /_sandbox/clock`, so tests advance it and see the change on the next request. Steps
fall due on `tick`, which the app calls at the start of every request, once a second in
the background, and on `POST /_sandbox/autopilot/run`. A step's delay counts from the
moment the previous one fell due, so one tick after a long clock jump applies a whole
chain.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from coupa.sandbox import lifecycle
from coupa.sandbox.store import Store

log = logging.getLogger("coupa.sandbox")

#: The steps, in order, and the requisition statuses each applies to.
STEPS: Mapping[str, tuple[str, ...]] = {
    "approve": lifecycle.APPROVABLE,
    "order": lifecycle.ORDERABLE,
    "receive": lifecycle.RECEIVABLE,
}
#: Statuses nothing follows from: the requisition is no longer watched.
_DONE = frozenset({"received", "withdrawn"})
_RECENT = 100


def parse_steps(text: str) -> dict[str, float]:
    """Parse `approve=30,order=60,receive=300` into {step: seconds}; raise ValueError."""
    steps: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        steps.update(check_steps({name.strip(): value.strip() if sep else None}))
    return steps


def check_steps(values: Mapping[str, Any]) -> dict[str, float]:
    """Return {step: seconds} for the given values (seconds >= 0); raise ValueError."""
    out: dict[str, float] = {}
    for name, value in values.items():
        if name not in STEPS:
            raise ValueError(f"unknown autopilot step {name!r}; steps: {', '.join(STEPS)}")
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"autopilot step {name} needs seconds, e.g. {name}=30") from None
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"autopilot step {name} needs seconds >= 0")
        out[name] = seconds
    return out


class Autopilot:
    """Applies the configured steps to watched requisitions when they fall due."""

    def __init__(self, clock: Callable[[], float], steps: Mapping[str, float]) -> None:
        self.clock = clock
        self.steps: dict[str, float] = dict(steps)
        self._watermark = 0
        self._scanned = 0
        # Watched requisition id -> (status last seen, clock reading it dates from).
        self._seen: dict[int, tuple[str, float]] = {}
        self._failing: dict[int, str] = {}  # requisition id -> the step's last refusal
        self.applied: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=_RECENT)

    def start(self, store: Store, steps: Mapping[str, float] | None = None) -> None:
        """Watch only requisitions created from now on; forget counts (start and reset)."""
        ids = store.collection("requisitions").ids
        self._watermark = self._scanned = ids[-1] if ids else 0
        self._seen.clear()
        self._failing.clear()
        self.applied.clear()
        self.failed.clear()
        self.recent.clear()
        if steps is not None:
            self.steps = dict(steps)

    def tick(self, store: Store) -> list[dict[str, Any]]:
        """Apply every step that is due; return what was done, in order."""
        if not self.steps:
            return []
        now = self.clock()
        coll = store.collection("requisitions")
        start = bisect.bisect_right(coll.ids, self._scanned)
        for req_id in coll.ids[start:]:
            self._seen.setdefault(req_id, ("", now))
            self._scanned = req_id
        done: list[dict[str, Any]] = []
        for req_id in list(self._seen):
            req = coll.records.get(req_id)
            if req is None:
                del self._seen[req_id]
                continue
            self._advance(store, req, now, done)
            if req["status"] in _DONE:
                del self._seen[req_id]
                self._failing.pop(req_id, None)
        return done

    def _advance(self, store: Store, req: dict[str, Any], now: float, done: list[Any]) -> None:
        req_id = req["id"]
        status, since = self._seen[req_id]
        if status != req["status"]:
            # Changed outside the auto-pilot (created, submitted, a control call): from now.
            status, since = req["status"], now
            self._seen[req_id] = (status, since)
        while True:
            step = next((s for s, allowed in STEPS.items() if status in allowed), None)
            delay = self.steps.get(step) if step is not None else None
            if step is None or delay is None or since + delay > now:
                return
            due = since + delay
            try:
                if step == "approve":
                    lifecycle.requisition_approve(store, req_id)
                elif step == "order":
                    lifecycle.requisition_order(store, req_id)
                else:
                    lifecycle.requisition_receive(store, req_id)
            except lifecycle.LifecycleError as exc:
                # Retried on every tick (a held purchase order may be released), but
                # counted and logged once per refusal.
                if self._failing.get(req_id) != str(exc):
                    self._failing[req_id] = str(exc)
                    log.warning("autopilot: %s", exc)
                    self.failed[step] += 1
                    self.recent.append({"requisition": req_id, "step": step, "error": str(exc)})
                return
            self._failing.pop(req_id, None)
            self.applied[step] += 1
            entry = {"requisition": req_id, "step": step, "status": req["status"], "at": due}
            self.recent.append(entry)
            done.append(entry)
            status, since = req["status"], due
            self._seen[req_id] = (status, since)

    def public(self) -> dict[str, Any]:
        """Return the settings and counters as JSON."""
        return {
            "steps": dict(self.steps),
            "now": self.clock(),
            "watching": len(self._seen),
            "watched_after_id": self._watermark,
            "applied": {s: self.applied[s] for s in STEPS},
            "failed": {s: self.failed[s] for s in STEPS},
            "recent": list(self.recent),
        }

"""The concurrent walk's request count on every id layout (issue: paging stays cheap).

An in-memory collection answers the walk's keyset queries (with an `active` filter),
so the tests count requests exactly: on dense, sparse and clustered ids and on filters
that leave most of the id range empty, the walk costs at most 1.25 x the minimal pages
+ 2, returns every record once, and still runs its workers side by side on dense ids.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from coupa.client.paging import PAGE_SIZE, concurrent_pages

WORKERS = 8


class Collection:
    """Records by id; answers id[gt], id[lt_or_eq], dir, limit and `active=true`."""

    def __init__(self, ids: list[int], *, inactive: frozenset[int] = frozenset()) -> None:
        self.lock = threading.Lock()
        self.active = {i: i not in inactive for i in ids}
        self.requests = 0
        self.in_flight = 0
        self.peak = 0
        self.on_request: Callable[[Collection, int], None] | None = None

    def fetch(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.on_request is not None:
                self.on_request(self, self.requests)
            ids = sorted(i for i, on in self.active.items() if on or params.get("active") != "true")
        try:
            # Let other workers run, so requests overlap as they do over the network.
            threading.Event().wait(0.0005)
            if params.get("dir") == "desc":
                return [{"id": ids[-1]}] if ids else []
            lo = bisect.bisect_right(ids, int(params["id[gt]"]))
            hi = len(ids)
            if "id[lt_or_eq]" in params:
                hi = bisect.bisect_right(ids, int(params["id[lt_or_eq]"]))
            return [{"id": i} for i in ids[lo : min(hi, lo + int(params["limit"]))]]
        finally:
            with self.lock:
                self.in_flight -= 1

    def matching(self) -> list[int]:
        return sorted(i for i, on in self.active.items() if on)


def walk(collection: Collection, params: dict[str, Any] | None = None) -> Counter[int]:
    seen: Counter[int] = Counter()
    for page in concurrent_pages(collection.fetch, params or {"active": "true"}, workers=WORKERS):
        seen.update(r["id"] for r in page)
    return seen


def goal(records: int) -> float:
    return 1.25 * math.ceil(records / PAGE_SIZE) + 2


def sparse(n: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    ids, at = [], 1
    for _ in range(n):
        ids.append(at)
        at += rng.randint(1, 199_999)
    return ids


def clustered(n: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    ids: list[int] = []
    for k, share in enumerate((0.5, 0.05, 0.3, 0.01, 0.14)):
        start = k * 50_000_000 + 1
        ids.extend(range(start, start + int(n * share)))
    ids.extend(rng.randint(1, 250_000_000) for _ in range(5))
    return sorted(set(ids))


LAYOUTS: dict[str, Callable[[], Collection]] = {
    "dense": lambda: Collection(list(range(1, 5_001))),
    "sparse 1,100": lambda: Collection(sparse(1_100)),
    "sparse 20,000": lambda: Collection(sparse(20_000)),
    "clustered": lambda: Collection(clustered(20_000)),
    "5% active": lambda: Collection(
        list(range(1, 40_001)),
        inactive=frozenset(i for i in range(1, 40_001) if random.Random(i).random() >= 0.05),
    ),
    "2 of 30 charts": lambda: Collection([*range(7_001, 8_001), *range(22_001, 23_001)]),
    "1% changed": lambda: Collection(sorted(random.Random(3).sample(range(1, 40_001), 400))),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_requests_stay_within_the_goal_on_every_layout(layout: str) -> None:
    collection = LAYOUTS[layout]()
    expected = collection.matching()
    seen = walk(collection)
    assert seen == Counter(expected)
    assert collection.requests <= goal(len(expected))


@pytest.mark.parametrize("records", [0, 1, 49, 50, 51, 99, 100, 101, 150, 199, 200, 201, 250])
def test_small_collections_cost_their_pages_and_no_more_than_the_goal(records: int) -> None:
    """Up to two full pages the walk is sequential: no highest-id call, no slices."""
    collection = Collection(list(range(1, records + 1)))
    assert walk(collection) == Counter(range(1, records + 1))
    minimal = records // PAGE_SIZE + 1  # a walk ends on a short (maybe empty) page
    if records < 2 * PAGE_SIZE:
        assert collection.requests == minimal
    assert collection.requests <= goal(records)


def test_a_large_dense_walk_runs_every_worker_at_once() -> None:
    """Slices multiply on dense ids (one per four pages), so all workers overlap."""
    collection = Collection(list(range(1, 40_001)))
    assert walk(collection) == Counter(range(1, 40_001))
    assert collection.peak == WORKERS
    assert collection.requests <= 800 * 1.02 + 2


@pytest.mark.parametrize("layout", ["dense", "sparse 20,000", "clustered"])
def test_records_created_changed_and_deactivated_mid_walk(layout: str) -> None:
    """Each record once: deactivated ones are not returned, new ones above the top are."""
    collection = LAYOUTS[layout]()
    ids = collection.matching()
    gone = set(ids[1::97])
    top = ids[-1]
    created = [top + 10, top + 1_000, top + 123_456, *range(top + 200_000, top + 200_060)]

    def change(c: Collection, number: int) -> None:
        if number == 12:
            for rid in gone:
                c.active[rid] = False
            for rid in created:
                c.active[rid] = True

    collection.on_request = change
    seen = walk(collection)
    assert max(seen.values()) == 1
    # A record deactivated before its page was read is not returned; one read earlier is.
    assert set(ids) - gone <= set(seen)
    assert set(created) <= set(seen)
    assert set(seen) <= set(ids) | set(created)
    assert collection.requests <= goal(len(seen))

"""Walk a Coupa collection by id: keyset paging, optionally over concurrent id slices.

Coupa returns at most 50 records per GET, and offset paging over changing data skips or
repeats rows (coupa-api.md §3, §9.1-9.2). Both walks here page by `id[gt]=<last id>` with
`order_by=id&dir=asc`, so a record updated during the walk keeps its place (its id) and
is returned exactly once; records created during the walk with higher ids are picked up
by the open-ended slice.

Concurrent mode, built to cost about the minimal number of pages whatever the id
layout (dense, sparse after a data migration, clustered, or a selective filter that
leaves most of the id range empty):

- The walk starts as one open-ended keyset slice. Once two full pages came back (so at
  least three requests are due anyway), one `dir=desc&limit=1` call finds the highest id.
- An idle worker may split the active slice with the most records still expected
  (observed density x remaining id width) at its middle: the thief takes the upper half.
- Every request but a slice's last one is a full page of 50 records the walk keeps, so
  the requests are at most `full pages + slices + 1`. The walk therefore opens a new
  slice only while `slices <= 1 + full_pages // 4`: the total stays within
  1.25 x ceil(records / 50) + 2 on any layout, while on dense ids the slices multiply
  fast enough (one per four pages) to keep the rate budget busy.

Pages go through a bounded queue: memory stays at about two pages per worker whatever
the collection size. The shared rate limiter (in `CoupaClient._request`) bounds the
request rate; threads only hide latency.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections

from coupa.client.exceptions import CoupaProtocolError

__all__ = ["PAGE_SIZE", "Fetch", "Page", "concurrent_pages", "keyset_pages", "slice_budget"]

PAGE_SIZE = 50  # the documented maximum (coupa-api.md §3)

# A new slice per this many full pages (see the module docstring for the bound).
PAGES_PER_SLICE = 4
# Full pages seen before the walk asks for the highest id (the split points need it).
TOP_AFTER_PAGES = 2
# A slice is split only when both halves are expected to hold a page or more.
SPLIT_MIN_PAGES = 2

Page = list[dict[str, Any]]
Fetch = Callable[[dict[str, Any]], Page]


def slice_budget(full_pages: int) -> int:
    """How many slices a walk may have opened after `full_pages` full pages."""
    return 1 + full_pages // PAGES_PER_SLICE


def _page_params(
    params: Mapping[str, Any], cursor: int, hi: int | None, page_size: int
) -> dict[str, Any]:
    # The walk owns the id range: a filter's own id bound would cut it short unseen.
    query = {k: v for k, v in params.items() if k != "id[lt_or_eq]"}
    query.update({"id[gt]": cursor, "order_by": "id", "dir": "asc", "limit": page_size})
    if hi is not None:
        query["id[lt_or_eq]"] = hi
    return query


def _check_page(page: Page, cursor: int, hi: int | None) -> None:
    # Keyset paging is only correct if Coupa honours id[gt] and ascending order; a
    # silently ignored parameter would skip records, so fail loudly instead.
    previous = cursor
    for record in page:
        rid = record["id"]
        if rid <= previous:
            raise CoupaProtocolError(
                "Coupa did not return records in ascending id order above the cursor"
            )
        previous = rid
    if hi is not None and page and page[-1]["id"] > hi:
        raise CoupaProtocolError("Coupa returned records above id[lt_or_eq]")


def keyset_pages(
    fetch: Fetch,
    params: Mapping[str, Any],
    *,
    after: int = 0,
    upto: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Page]:
    """Yield the non-empty pages of ids in `(after, upto]`, one request at a time.

    Ends on a short page (fewer than `page_size` records). Raises what `fetch` raises
    and CoupaProtocolError when Coupa ignores the ordering.
    """
    cursor = after
    while True:
        page = fetch(_page_params(params, cursor, upto, page_size))
        _check_page(page, cursor, upto)
        if page:
            cursor = page[-1]["id"]
            yield page
        if len(page) < page_size:
            return


@dataclass
class _Slice:
    """Ids in `(cursor, hi]` still to walk; `hi=None` is the open-ended slice."""

    cursor: int  # exclusive lower bound: the last id kept
    hi: int | None
    start: int  # where the slice began: with `records`, its observed density
    density: float  # records per id expected before the slice has data of its own
    records: int = 0

    def expected_density(self) -> float:
        """Records per id: what the slice has seen, else what it was given."""
        walked = self.cursor - self.start
        return min(1.0, self.records / walked) if self.records and walked > 0 else self.density

    def remaining(self, top: int) -> float:
        """Records still expected in the slice (`top`: the highest id known)."""
        end = top if self.hi is None else self.hi
        return max(0, end - self.cursor) * self.expected_density()


_TOP = object()  # a worker's task: ask for the highest id


class _Scheduler:
    """Hand slices to workers, ask once for the highest id, split within the budget."""

    def __init__(self, first: _Slice, page_size: int, full_pages: int) -> None:
        self.lock = threading.Condition()
        self._page_size = page_size
        self._pending: list[_Slice] = [first]
        self._active: list[_Slice] = []
        self._slices = 1
        self._full = full_pages
        self._top: int | None = None  # the highest id known (None: not asked yet)
        self._top_asked = False
        self._splits = True  # False once `dir=desc` turned out to be ignored
        self._stopped = False

    def stop(self) -> None:
        with self.lock:
            self._stopped = True
            self.lock.notify_all()

    def take(self) -> _Slice | object | None:
        """Block until there is work: a slice, `_TOP`, or None when the walk is over."""
        with self.lock:
            while not self._stopped:
                if self._pending:
                    piece = self._pending.pop()
                    self._active.append(piece)
                    return piece
                if not self._active:
                    return None
                if self._splits and not self._top_asked and self._full >= TOP_AFTER_PAGES:
                    self._top_asked = True
                    return _TOP
                stolen = self._split()
                if stolen is not None:
                    return stolen
                self.lock.wait()
            return None

    def _split(self) -> _Slice | None:
        top = self._top
        if top is None or not self._splits or self._slices >= slice_budget(self._full):
            return None
        best = max(self._active, key=lambda s: s.remaining(top), default=None)
        if best is None or best.remaining(top) < SPLIT_MIN_PAGES * self._page_size:
            return None
        end = top if best.hi is None else best.hi
        mid = best.cursor + (end - best.cursor) // 2
        if not best.cursor < mid < end:
            return None
        # The thief gets (mid, hi]; the owner keeps (cursor, mid] and drops anything
        # above mid from the page it may have in flight (see `advance`).
        stolen = _Slice(cursor=mid, hi=best.hi, start=mid, density=best.expected_density())
        best.hi = mid
        self._active.append(stolen)
        self._slices += 1
        return stolen

    def bounds(self, piece: _Slice) -> tuple[int, int | None]:
        with self.lock:
            return piece.cursor, piece.hi

    def advance(self, piece: _Slice, page: Page) -> tuple[Page, bool]:
        """Record a fetched page; return the records that are still the slice's, and done."""
        with self.lock:
            hi = piece.hi
            keep = page if hi is None else [r for r in page if r["id"] <= hi]
            if keep:
                piece.cursor = keep[-1]["id"]
                piece.records += len(keep)
            if len(keep) == self._page_size:
                self._full += 1
            done = len(keep) < len(page) or len(page) < self._page_size
            if done:
                self._active.remove(piece)
            self.lock.notify_all()
            return keep, done

    def topped(self, top: Page, highest_seen: int) -> None:
        """Record the answer to the highest-id question."""
        with self.lock:
            top_id = top[0]["id"] if top else None
            if top_id is None or top_id < highest_seen:
                # Nothing there, or `dir=desc` is not honoured: walk on without splits.
                self._splits = False
            else:
                self._top = top_id
            self.lock.notify_all()

    def highest_seen(self) -> int:
        with self.lock:
            return max((s.cursor for s in self._active), default=0)


_DONE = object()


def concurrent_pages(
    fetch: Fetch,
    params: Mapping[str, Any],
    *,
    workers: int,
    page_size: int = PAGE_SIZE,
    transform: Callable[[Page], Any] | None = None,
) -> Iterator[Any]:
    """Yield the non-empty pages of a collection, walking id slices on `workers` threads.

    Pages come in no particular order across slices, each record exactly once. With
    `workers <= 1`, or a collection that fits in one page, this is `keyset_pages`.
    `transform` (parsing, say) is applied to each page before it is yielded, on the
    worker threads: the consumer then spends its time on what it does with the pages
    (writing them, while the workers parse the next ones) and an error `transform`
    raises reaches it like a fetch error. Closing the generator early stops the
    threads. Raises the first error a worker met (after stopping the others).
    """
    shape: Callable[[Page], Any] = transform or (lambda page: page)
    first = fetch(_page_params(params, 0, None, page_size))
    _check_page(first, 0, None)
    if first:
        yield shape(first)
    if len(first) < page_size:
        return
    cursor = first[-1]["id"]
    if workers <= 1:
        for page in keyset_pages(fetch, params, after=cursor, page_size=page_size):
            yield shape(page)
        return

    density = len(first) / cursor
    scheduler = _Scheduler(
        _Slice(cursor=cursor, hi=None, start=0, density=density, records=len(first)),
        page_size,
        full_pages=1,
    )
    top_query = dict(params)
    top_query.update({"order_by": "id", "dir": "desc", "limit": 1, "fields": json.dumps(["id"])})

    out: queue.Queue[Any] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def walk(piece: _Slice) -> bool:
        done = False
        while not done and not stop.is_set():
            lo, hi = scheduler.bounds(piece)
            page = fetch(_page_params(params, lo, hi, page_size))
            _check_page(page, lo, hi)
            keep, done = scheduler.advance(piece, page)
            if keep and not put(shape(keep)):
                return False
        return True

    def work() -> None:
        try:
            while not stop.is_set():
                task = scheduler.take()
                if task is None:
                    return
                if task is _TOP:
                    seen = scheduler.highest_seen()
                    scheduler.topped(fetch(top_query), seen)
                elif isinstance(task, _Slice) and not walk(task):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
            stop.set()
            scheduler.stop()
        finally:
            put(_DONE)
            # Worker threads open their own DB connections (token cache, DB limiter).
            connections.close_all()

    threads = [
        threading.Thread(target=work, name=f"coupa-pages-{i}", daemon=True) for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < len(threads):
            item = out.get()
            if item is _DONE:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        scheduler.stop()
        # Unblock workers waiting on a full queue, then wait for them.
        while any(t.is_alive() for t in threads):
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        for thread in threads:
            thread.join()

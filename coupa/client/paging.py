"""Walk a Coupa collection by id: keyset paging, optionally over concurrent id slices.

Coupa returns at most 50 records per GET, and offset paging over changing data skips or
repeats rows (coupa-api.md §3, §9.1-9.2). Both walks here page by `id[gt]=<last id>` with
`order_by=id&dir=asc`, so a record updated during the walk keeps its place (its id) and
is returned exactly once; records created during the walk with higher ids are picked up
by the last (open-ended) slice.

Concurrent mode: after the first page, one `dir=desc&limit=1` call finds the highest id;
the remaining id range is cut into slices, one per worker thread, each walked by keyset
with an inclusive upper bound `id[lt_or_eq]`. An idle worker takes half of the widest
remaining slice (work stealing), so uneven id density does not leave workers idle. Pages
go through a bounded queue: memory stays at about two pages per worker whatever the
collection size. The shared rate limiter (in `CoupaClient._request`) bounds the request
rate; threads only hide latency.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections

from coupa.client.exceptions import CoupaProtocolError

__all__ = ["PAGE_SIZE", "Fetch", "Page", "concurrent_pages", "keyset_pages"]

PAGE_SIZE = 50  # the documented maximum (coupa-api.md §3)

Page = list[dict[str, Any]]
Fetch = Callable[[dict[str, Any]], Page]


def _page_params(
    params: Mapping[str, Any], cursor: int, hi: int | None, page_size: int
) -> dict[str, Any]:
    query = dict(params)
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
    cursor: int  # exclusive lower bound: the last id seen
    hi: int | None  # inclusive upper bound; None for the open-ended last slice
    nominal_hi: int  # upper bound used to estimate the remaining width

    def width(self) -> int:
        return self.nominal_hi - self.cursor


class _Scheduler:
    """Hand out id slices to workers; split the widest one when none is pending."""

    def __init__(self, slices: list[_Slice], min_split_width: int) -> None:
        self.lock = threading.Lock()
        self._pending = deque(slices)
        self._active: list[_Slice] = []
        self._min_split_width = min_split_width

    def take(self) -> _Slice | None:
        with self.lock:
            if self._pending:
                piece = self._pending.popleft()
                self._active.append(piece)
                return piece
            candidates = [s for s in self._active if s.width() >= self._min_split_width]
            if not candidates:
                return None
            widest = max(candidates, key=_Slice.width)
            mid = widest.cursor + widest.width() // 2
            # The thief gets (mid, hi]; the owner keeps (cursor, mid] and drops anything
            # above mid from the page it may already have in flight (see `advance`).
            stolen = _Slice(cursor=mid, hi=widest.hi, nominal_hi=widest.nominal_hi)
            widest.hi = mid
            widest.nominal_hi = mid
            self._active.append(stolen)
            return stolen

    def advance(self, piece: _Slice, page: Page, page_size: int) -> tuple[Page, bool]:
        """Record a fetched page; return the records that are still the slice's, and done."""
        with self.lock:
            hi = piece.hi
            keep = page if hi is None else [r for r in page if r["id"] <= hi]
            if keep:
                piece.cursor = keep[-1]["id"]
            done = len(keep) < len(page) or len(page) < page_size
            if done:
                self._active.remove(piece)
            return keep, done


_DONE = object()


def concurrent_pages(
    fetch: Fetch,
    params: Mapping[str, Any],
    *,
    workers: int,
    page_size: int = PAGE_SIZE,
) -> Iterator[Page]:
    """Yield the non-empty pages of a collection, walking id slices on `workers` threads.

    Pages come in no particular order across slices, each record exactly once. With
    `workers <= 1`, or a collection that fits in one page, this is `keyset_pages`.
    Closing the generator early stops the threads. Raises the first error a worker
    met (after stopping the others).
    """
    first = fetch(_page_params(params, 0, None, page_size))
    _check_page(first, 0, None)
    if first:
        yield first
    if len(first) < page_size:
        return
    cursor = first[-1]["id"]
    if workers <= 1:
        yield from keyset_pages(fetch, params, after=cursor, page_size=page_size)
        return

    top_query = dict(params)
    top_query.update({"order_by": "id", "dir": "desc", "limit": 1, "fields": json.dumps(["id"])})
    top = fetch(top_query)
    max_id = top[0]["id"] if top else cursor
    if max_id <= cursor:
        # Either nothing beyond the first page, or `dir=desc` is not honoured: walk on.
        yield from keyset_pages(fetch, params, after=cursor, page_size=page_size)
        return

    width = max_id - cursor
    count = max(1, min(workers, width // page_size))
    step = width // count
    slices = [
        _Slice(
            cursor=cursor + i * step, hi=cursor + (i + 1) * step, nominal_hi=cursor + (i + 1) * step
        )
        for i in range(count - 1)
    ]
    last_lo = cursor + (count - 1) * step
    slices.append(_Slice(cursor=last_lo, hi=None, nominal_hi=max_id))
    scheduler = _Scheduler(slices, min_split_width=2 * page_size)

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

    def work() -> None:
        try:
            while not stop.is_set():
                piece = scheduler.take()
                if piece is None:
                    return
                done = False
                while not done and not stop.is_set():
                    with scheduler.lock:
                        lo, hi = piece.cursor, piece.hi
                    page = fetch(_page_params(params, lo, hi, page_size))
                    _check_page(page, lo, hi)
                    keep, done = scheduler.advance(piece, page, page_size)
                    if keep and not put(keep):
                        return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
            stop.set()
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
        # Unblock workers waiting on a full queue, then wait for them.
        while any(t.is_alive() for t in threads):
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        for thread in threads:
            thread.join()

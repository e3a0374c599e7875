"""Properties of the Coupa collection walks and the queries they send (`id[gt]` keyset).

For any collection, page size and caller's filter, a walk yields every record exactly
once; every query keeps the caller's filter and sets the cursor, order and limit itself (a
filter naming them cannot override them); and the number of requests is bounded by the
pages the collection fills.
"""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from coupa.client.paging import concurrent_pages, keyset_pages

RESERVED = ("id[gt]", "id[lt_or_eq]", "order_by", "dir", "limit")

collections = st.lists(st.integers(1, 10_000), unique=True, max_size=120).map(sorted)
filters = st.dictionaries(
    st.sampled_from(["active", "status", "updated-at[gt]", "name[contains]", *RESERVED]),
    st.one_of(st.booleans(), st.integers(), st.text(max_size=10)),
    max_size=4,
)


class FakeCoupa:
    """A collection that answers keyset queries as Coupa does, recording each query."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        self.queries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def fetch(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            self.queries.append(dict(query))
        if query["dir"] == "desc":  # the concurrent walk's question: the highest id
            assert (query["order_by"], query["limit"]) == ("id", 1)
            return [{"id": i} for i in self.ids[-1:]]
        assert (query["order_by"], query["dir"]) == ("id", "asc")
        lo, hi = query["id[gt]"], query.get("id[lt_or_eq]")
        found = [i for i in self.ids if i > lo and (hi is None or i <= hi)]
        return [{"id": i} for i in found[: query["limit"]]]


def _check_queries(coupa: FakeCoupa, params: dict[str, Any], page_size: int) -> None:
    for query in coupa.queries:
        if query["dir"] == "desc":
            continue
        assert query["limit"] == page_size and isinstance(query["id[gt]"], int)
        assert {k: v for k, v in query.items() if k not in RESERVED} == {
            k: v for k, v in params.items() if k not in RESERVED
        }


@given(collections, filters, st.integers(1, 50), st.integers(0, 200))
def test_a_keyset_walk_yields_every_record_above_the_cursor_once_in_order(
    ids: list[int], params: dict[str, Any], page_size: int, after: int
) -> None:
    coupa = FakeCoupa(ids)
    walked = [
        r["id"]
        for page in keyset_pages(coupa.fetch, params, after=after, page_size=page_size)
        for r in page
    ]
    expected = [i for i in ids if i > after]
    assert walked == expected
    _check_queries(coupa, params, page_size)
    assert len(coupa.queries) <= len(expected) // page_size + 1


@given(collections, filters, st.integers(1, 20), st.integers(1, 3))
def test_a_concurrent_walk_yields_every_record_once(
    ids: list[int], params: dict[str, Any], page_size: int, workers: int
) -> None:
    coupa = FakeCoupa(ids)
    pages = list(concurrent_pages(coupa.fetch, params, workers=workers, page_size=page_size))
    walked = sorted(r["id"] for page in pages for r in page)
    assert walked == ids
    assert all(pages)  # only non-empty pages
    _check_queries(coupa, params, page_size)


def test_a_filters_own_upper_id_bound_does_not_cut_the_walk_short() -> None:
    """Found by the walk's property: the walk owns the id range, the filter keeps the rest."""
    coupa = FakeCoupa(list(range(1, 8)))
    pages = keyset_pages(coupa.fetch, {"active": True, "id[lt_or_eq]": 3}, page_size=2)
    assert [r["id"] for page in pages for r in page] == list(range(1, 8))
    assert all("id[lt_or_eq]" not in q and q["active"] is True for q in coupa.queries)

"""Filters on indexed links (a PO's requisition, a PO line's PO) give what a scan gives.

In-process, on the store and the query engine: the index is an optimisation only, so
every answer is compared with the records filtered by hand.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from coupa.sandbox.query import execute, parse_query
from coupa.sandbox.resources import Registry
from coupa.sandbox.store import Store

SIZES = {"accounts": 30, "suppliers": 20, "items": 40, "users": 10, "requisitions": 300}


def _store(seed: int = 4) -> Store:
    store = Store(registry=Registry.build(), seed=seed, anchor=1750000000, sizes=SIZES)
    store.generate()
    return store


def _query(store: Store, resource: str, params: list[tuple[str, str]]) -> list[int]:
    spec = store.registry.specs[resource]
    q = parse_query(spec, params, resolver=store.resolver, renderer=store.renderer)
    return [r["id"] for r in execute(store.collections[resource], q)]


def _po_ids(store: Store, req_ids: set[int]) -> list[int]:
    coll = store.collections["purchase_orders"]
    return [i for i in coll.ids if coll.records[i]["requisition-header"] in req_ids]


def _joined(ids: Any) -> str:
    return ",".join(map(str, ids))


@pytest.fixture(scope="module")
def store() -> Store:
    return _store()


def test_requisition_header_in_matches_a_scan(store: Store) -> None:
    """requisition-header[id][in], its foreign-key and bare forms, paged and ordered."""
    rng = random.Random(2)
    req_ids = store.collections["requisitions"].ids
    for _ in range(20):
        chosen = set(rng.sample(req_ids, 40))
        expected = _po_ids(store, chosen)
        for key in ("requisition-header[id][in]", "requisition_header_id[in]"):
            assert _query(store, "purchase_orders", [(key, _joined(chosen))]) == expected[:50]
        assert (
            _query(
                store,
                "purchase_orders",
                [("requisition-header[id][in]", _joined(chosen)), ("dir", "desc"), ("limit", "5")],
            )
            == sorted(expected, reverse=True)[:5]
        )
        assert (
            _query(
                store,
                "purchase_orders",
                [("requisition-header[id][in]", _joined(chosen)), ("offset", "3"), ("limit", "4")],
            )
            == expected[3:7]
        )
    one = next(iter(chosen))
    assert _query(store, "purchase_orders", [("requisition-header", str(one))]) == _po_ids(
        store, {one}
    )


def test_indexed_link_combines_with_other_filters(store: Store) -> None:
    """With an id range, a status filter and another order, the same records as a scan."""
    coll = store.collections["purchase_orders"]
    req_ids = set(store.collections["requisitions"].ids[::3])
    expected = [
        i for i in _po_ids(store, req_ids) if i > 20 and coll.records[i]["status"] == "issued"
    ]
    got = _query(
        store,
        "purchase_orders",
        [("requisition-header[id][in]", _joined(req_ids)), ("id[gt]", "20"), ("status", "issued")],
    )
    assert got == expected[:50]
    by_updated = _query(
        store,
        "purchase_orders",
        [("requisition-header[id][in]", _joined(req_ids)), ("order_by", "updated-at")],
    )
    # A stable sort of the id-ordered matches, as the scan does.
    by_time = sorted(_po_ids(store, req_ids), key=lambda i: coll.records[i]["updated-at"])
    assert by_updated == by_time[:50]


def test_order_header_id_matches_a_scan(store: Store) -> None:
    """order-header-id= and order-header-id[in]= on PO lines."""
    lines = store.collections["purchase_order_lines"]
    for po_id in store.collections["purchase_orders"].ids[:30]:
        expected = [i for i in lines.ids if lines.records[i]["order-header-id"] == po_id]
        assert _query(store, "purchase_order_lines", [("order-header-id", str(po_id))]) == expected
    some = store.collections["purchase_orders"].ids[10:25]
    expected = [i for i in lines.ids if lines.records[i]["order-header-id"] in set(some)]
    assert (
        _query(store, "purchase_order_lines", [("order-header-id[in]", _joined(some))])
        == (expected[:50])
    )


def test_index_follows_additions_and_removals() -> None:
    """Records added later are found; a removed record is not; a regenerated store's
    collections get their own index."""
    store = _store(seed=8)
    reqs = store.collections["requisitions"]
    before = set(reqs.ids)
    assert _query(store, "purchase_orders", [("requisition-header[id][in]", _joined(before))])
    added = store.seed_requisitions(20, ordered_share=1.0)
    new = set(added["requisitions"])
    assert (
        _query(store, "purchase_orders", [("requisition-header[id][in]", _joined(new))])
        == (added["purchase_orders"])
    )
    pos = store.collections["purchase_orders"]
    gone = added["purchase_orders"][0]
    del pos.records[gone]
    pos.ids.remove(gone)
    assert (
        _query(store, "purchase_orders", [("requisition-header[id][in]", _joined(new))])
        == (added["purchase_orders"][1:])
    )
    store.generate()
    chosen = set(store.collections["requisitions"].ids[:40])
    assert _query(
        store, "purchase_orders", [("requisition-header[id][in]", _joined(chosen))]
    ) == _po_ids(store, chosen)

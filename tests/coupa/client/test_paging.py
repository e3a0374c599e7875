"""Collection walks: keyset paging, concurrent slices, query parameters, fields."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from coupa.client import types
from coupa.client.base import CoupaClient, format_datetime
from coupa.client.exceptions import CoupaProtocolError
from coupa.reference.registry import RESOURCES
from coupa.reference.walk import charts_fetch_active
from tests.coupa.conftest import FakeCollection

pytestmark = pytest.mark.django_db


def _walk(client: CoupaClient, collection: FakeCollection, **kw: object) -> Counter[int]:
    return Counter(s.id for s in client.iter_records(types.Supplier, **kw))  # type: ignore[arg-type]


@pytest.fixture
def suppliers(coupa_mock: respx.MockRouter) -> FakeCollection:
    collection = FakeCollection(list(range(1, 238)))
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    return collection


def test_keyset_paging_returns_every_record_once(
    coupa_client: CoupaClient, suppliers: FakeCollection
) -> None:
    """237 records: 5 pages of 50 by id[gt], ending on the short page."""
    seen = _walk(coupa_client, suppliers)
    assert seen == Counter(range(1, 238))
    assert len(suppliers.requests) == 5
    cursors = [int(p["id[gt]"]) for p in suppliers.requests]
    assert cursors == [0, 50, 100, 150, 200]
    for params in suppliers.requests:
        assert (params["order_by"], params["dir"], params["limit"]) == ("id", "asc", "50")
        assert "offset" not in params


def test_exact_multiple_of_page_size_ends_on_empty_page(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """100 records: the third request gets [] and the walk stops."""
    collection = FakeCollection(list(range(1, 101)))
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    assert _walk(coupa_client, collection) == Counter(range(1, 101))
    assert len(collection.requests) == 3


def _mutate_mid_walk(collection: FakeCollection, number: int) -> None:
    # Before the 3rd request: rename early and late records, deactivate one, and
    # create records with higher ids (as Coupa would while an import runs).
    if number == 3:
        for rid in (10, 120, 200):
            collection.records[rid]["name"] = "renamed"
        collection.records[150]["active"] = False
        for rid in range(1000, 1003):
            collection.records[rid] = {"id": rid, "name": "new", "active": True}


def test_records_changing_mid_walk_are_neither_skipped_nor_doubled(
    coupa_client: CoupaClient, suppliers: FakeCollection
) -> None:
    """Updates keep their id (seen once); records created meanwhile are picked up."""
    suppliers.on_request = _mutate_mid_walk
    seen = _walk(coupa_client, suppliers)
    assert seen == Counter([*range(1, 238), 1000, 1001, 1002])


def test_concurrent_walk_returns_every_record_once(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """Four threads over sparse, uneven ids: each record exactly once."""
    rng = random.Random(7)
    ids = sorted(rng.sample(range(1, 40_000), 1_500) + list(range(50_000, 51_000)))
    collection = FakeCollection(ids)
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    client = make_client(concurrency=4)
    threads_seen: set[str] = set()
    original = collection.__call__

    def record_thread(request: object) -> object:
        threads_seen.add(threading.current_thread().name)
        return original(request)  # type: ignore[arg-type]

    coupa_mock.get("/api/suppliers").mock(side_effect=record_thread)
    seen = _walk(client, collection)
    assert seen == Counter(ids)
    assert len([t for t in threads_seen if t.startswith("coupa-pages")]) >= 2
    # Slices and steals cost a few short pages, not a request per record.
    assert len(collection.requests) < len(ids) / 50 * 1.5 + 10


def test_concurrent_walk_with_changes_mid_walk(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """Concurrent slices stay exact while records change and new ones arrive."""
    collection = FakeCollection(list(range(1, 2_001)))

    def mutate(c: FakeCollection, number: int) -> None:
        if number == 3:
            for rid in (10, 700, 1999):
                c.records[rid]["name"] = "renamed"
            for rid in range(3_000, 3_003):
                c.records[rid] = {"id": rid, "name": "new"}

    collection.on_request = mutate
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    seen = _walk(make_client(concurrency=4), collection)
    assert seen == Counter([*range(1, 2_001), *range(3_000, 3_003)])


def test_concurrent_walk_picks_up_records_created_above_max_id(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """The last slice is open-ended: ids above the initial maximum are included."""
    collection = FakeCollection(list(range(1, 1_001)))

    def grow(c: FakeCollection, number: int) -> None:
        if number == 5:
            for rid in range(5_000, 5_120):
                c.records[rid] = {"id": rid, "name": "late"}

    collection.on_request = grow
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    seen = _walk(make_client(concurrency=3), collection)
    assert seen == Counter([*range(1, 1_001), *range(5_000, 5_120)])


def test_concurrent_walk_falls_back_when_desc_is_ignored(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """If dir=desc is not honoured the walk goes on sequentially, still exact."""
    collection = FakeCollection(list(range(1, 301)))
    collection.honour_desc = False
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    assert _walk(make_client(concurrency=4), collection) == Counter(range(1, 301))


def test_concurrent_walks_parse_on_the_paging_threads(
    make_client: Callable[..., CoupaClient],
    coupa_mock: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caller gets parsed pages without parsing them itself: while it writes one
    batch, the paging threads parse the next (bench case 3)."""
    collection = FakeCollection(list(range(1, 1_001)))
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    parsed_on: Counter[str] = Counter()
    parse = types.Supplier.from_json

    def recording(data: dict[str, object]) -> types.Supplier:
        parsed_on[threading.current_thread().name.split("-")[0]] += 1
        return parse(data)

    monkeypatch.setattr(types.Supplier, "from_json", recording)
    pages = list(make_client(concurrency=4).iter_record_pages(types.Supplier))
    assert sorted(r.id for page in pages for r in page) == list(range(1, 1_001))
    assert all(isinstance(r, types.Supplier) for page in pages for r in page)
    # Only the first page (fetched before the threads start) is parsed by the caller.
    assert parsed_on == {"MainThread": 50, "coupa": 950}


def test_a_record_that_does_not_parse_on_a_paging_thread_reaches_the_caller(
    make_client: Callable[..., CoupaClient],
    coupa_mock: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collection = FakeCollection(list(range(1, 1_001)))
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    parse = types.Supplier.from_json

    def refusing_425(data: dict[str, object]) -> types.Supplier:
        if data["id"] == 425:
            raise CoupaProtocolError("expected a Supplier object")
        return parse(data)

    monkeypatch.setattr(types.Supplier, "from_json", refusing_425)
    with pytest.raises(CoupaProtocolError):
        list(make_client(concurrency=4).iter_record_pages(types.Supplier))
    assert not [t for t in threading.enumerate() if t.name.startswith("coupa-pages")]


def test_stopping_early_stops_the_threads(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """Closing the iterator after a few records ends the walk without leaking threads."""
    collection = FakeCollection(list(range(1, 5_001)))
    coupa_mock.get("/api/suppliers").mock(side_effect=collection)
    records = make_client(concurrency=4).iter_records(types.Supplier)
    first = [next(records) for _ in range(60)]
    records.close()  # type: ignore[attr-defined]
    assert len(first) == 60
    assert not [t for t in threading.enumerate() if t.name.startswith("coupa-pages")]
    assert len(collection.requests) < 30


def test_worker_error_reaches_the_caller(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> None:
    """A failure in a paging thread is raised by the iterator, and threads stop."""
    collection = FakeCollection(list(range(1, 1_001)))
    calls = Counter[str]()

    def flaky(request: httpx.Request) -> httpx.Response:
        # The 5th page (the highest-id question runs beside the pages, in no fixed order).
        if request.url.params.get("dir") != "desc":
            calls["n"] += 1
            if calls["n"] == 5:
                return httpx.Response(200, json=[{"id": 5}, {"id": 3}])
        return collection(request)

    coupa_mock.get("/api/suppliers").mock(side_effect=flaky)
    with pytest.raises(CoupaProtocolError):
        list(make_client(concurrency=4).iter_records(types.Supplier))
    assert not [t for t in threading.enumerate() if t.name.startswith("coupa-pages")]


def test_query_parameters_use_hyphenated_keys_and_encoded_offsets(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """updated-at[gt_or_eq] with %2B offset, account-type[id][in], fields as JSON."""
    collection = FakeCollection([1, 2])
    route = coupa_mock.get("/api/accounts").mock(side_effect=collection)
    since = datetime(2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    accounts = list(
        coupa_client.iter_records(
            types.Account,
            params={"account-type[id][in]": "1,3", "updated-at[gt_or_eq]": format_datetime(since)},
            fields=["name", {"account-type": ["id", "name"]}],
        )
    )
    assert [a.id for a in accounts] == [1, 2]
    request = route.calls.last.request
    raw_query = request.url.query.decode()
    assert "updated-at%5Bgt_or_eq%5D=2024-05-01T08%3A30%3A00%2B05%3A30" in raw_query
    assert "+" not in raw_query
    params = request.url.params
    assert params["updated-at[gt_or_eq]"] == "2024-05-01T08:30:00+05:30"
    assert params["account-type[id][in]"] == "1,3"
    assert json.loads(params["fields"]) == ["id", "name", {"account-type": ["id", "name"]}]
    assert "active" not in params  # never filter imports on active (coupa-api.md §9.10)


def test_fields_always_carry_the_id(coupa_client: CoupaClient, suppliers: FakeCollection) -> None:
    """Keyset paging needs every record's id, so `fields` gets it even when not asked."""
    list(coupa_client.iter_records(types.Supplier, fields=["name", {"payment-term": ["code"]}]))
    fields = json.loads(suppliers.requests[0]["fields"])
    assert fields == ["id", "name", {"payment-term": ["code"]}]


def test_active_set_filters_come_from_the_registry(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Charts use active=true, suppliers status=active (coupa-api.md §5), as declared."""
    charts = coupa_mock.get("/api/account_types").respond(200, json=[{"id": 1, "name": "COA"}])
    suppliers = coupa_mock.get("/api/suppliers").respond(200, json=[])
    assert [t.name for t in charts_fetch_active(coupa_client)] == ["COA"]
    list(coupa_client.iter_records(types.Supplier, params=RESOURCES["vendors"].active_params()))
    assert charts.calls.last.request.url.params["active"] == "true"
    assert json.loads(charts.calls.last.request.url.params["fields"]) == [
        "id", *RESOURCES["charts"].fields[1:]
    ]
    assert suppliers.calls.last.request.url.params["status"] == "active"


def test_get_record(coupa_client: CoupaClient, coupa_mock: respx.MockRouter) -> None:
    """One chart of accounts by id, currency code flattened."""
    coupa_mock.get("/api/account_types/4").respond(
        200, json={"id": 4, "name": "US COA", "currency": {"code": "USD"}, "active": True}
    )
    chart = coupa_client.get_record(types.AccountType, 4)
    assert (chart.id, chart.name, chart.currency_code) == (4, "US COA", "USD")


def test_ignored_ordering_is_a_protocol_error(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Records not above the cursor in ascending order would break keyset paging."""
    coupa_mock.get("/api/suppliers").respond(200, json=[{"id": 5}, {"id": 3}])
    with pytest.raises(CoupaProtocolError):
        list(coupa_client.iter_records(types.Supplier))

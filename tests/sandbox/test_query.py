"""Query semantics: paging, operators, associations, fields, return_object, errors (coupa-api.md 3)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from coupa.sandbox.testing import SandboxHandle

COLLECTIONS = [
    "account_types",
    "accounts",
    "suppliers",
    "items",
    "users",
    "addresses",
    "currencies",
    "commodities",
    "uoms",
    "departments",
    "payment_terms",
    "shipping_terms",
    "countries",
    "requisitions",
    "requisition_lines",
    "purchase_orders",
    "purchase_order_lines",
]


@pytest.mark.parametrize("resource", COLLECTIONS)
def test_keyset_paging_returns_every_record_once(
    sandbox: SandboxHandle, api: Any, resource: str
) -> None:
    """Walking id[gt] pages yields each record exactly once, at most 50 per page."""
    records = api.walk(resource)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert ids == sorted(sandbox.ids(resource))


@pytest.mark.parametrize("resource", ["accounts", "items", "suppliers"])
def test_offset_paging_returns_every_record_once(
    sandbox: SandboxHandle, api: Any, resource: str
) -> None:
    """Offset pages (offset=50 -> records 51-100) cover the collection exactly once."""
    seen: list[int] = []
    offset = 0
    while True:
        page = api.ok(f"/api/{resource}", {"offset": offset, "limit": 50})
        assert len(page) <= 50
        seen += [r["id"] for r in page]
        if len(page) < 50:
            break
        offset += 50
    assert seen == sorted(sandbox.ids(resource))


def test_limit_is_capped_at_50_and_defaults_to_50(api: Any) -> None:
    """Larger limits are capped; without limit a page holds 50."""
    assert len(api.ok("/api/items", {"limit": 500})) == 50
    assert len(api.ok("/api/items")) == 50
    assert len(api.ok("/api/items", {"limit": 7})) == 7


def test_plain_list_starts_at_id_1_ascending(api: Any) -> None:
    """A plain list is in ascending id order from the first record."""
    ids = [r["id"] for r in api.ok("/api/accounts")]
    assert ids == sorted(ids)
    assert ids[0] == 1


def test_order_by_and_dir(api: Any) -> None:
    """order_by with dir=desc sorts by that attribute, descending."""
    names = [
        r["name"]
        for r in api.ok("/api/suppliers", {"order_by": "name", "dir": "desc", "limit": 50})
    ]
    assert names == sorted(names, reverse=True)
    ids = [r["id"] for r in api.ok("/api/items", {"order_by": "id", "dir": "desc", "limit": 5})]
    assert ids == sorted(ids, reverse=True)
    assert ids[0] == max(r["id"] for r in api.walk("items"))


def test_empty_result_is_empty_array(api: Any) -> None:
    """A query that matches nothing returns [] (JSON), not 404."""
    resp = api.get("/api/suppliers", {"name": "No Such Supplier"})
    assert resp.status_code == 200
    assert resp.json() == []


def _all(api: Any, resource: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.walk(resource)
    return result


def _ids(api: Any, resource: str, params: dict[str, Any]) -> set[int]:
    return {r["id"] for r in api.walk(resource, params)}


def test_exact_filters(api: Any) -> None:
    """Exact filters match strings, booleans and ids."""
    suppliers = _all(api, "suppliers")
    name = suppliers[3]["name"]
    assert _ids(api, "suppliers", {"name": name}) == {
        s["id"] for s in suppliers if s["name"] == name
    }
    assert _ids(api, "suppliers", {"status": "inactive"}) == {
        s["id"] for s in suppliers if s["status"] == "inactive"
    }
    accounts = _all(api, "accounts")
    assert _ids(api, "accounts", {"active": "false"}) == {
        a["id"] for a in accounts if not a["active"]
    }
    assert [r["id"] for r in api.ok("/api/accounts", {"id": "5"})] == [5]


@pytest.mark.parametrize(
    ("op", "value", "check"),
    [
        ("contains", "office", lambda v: "office" in v.lower()),
        ("starts_with", "Apex", lambda v: v.lower().startswith("apex")),
        ("ends_with", "LLC", lambda v: v.lower().endswith("llc")),
        ("not_eq", "Apex Office Inc.", lambda v: v != "Apex Office Inc."),
        ("gt", "M", lambda v: v > "M"),
        ("lt", "D", lambda v: v < "D"),
        ("gt_or_eq", "Summit", lambda v: v >= "Summit"),
        ("lt_or_eq", "Beacon", lambda v: v <= "Beacon"),
    ],
)
def test_string_operators(api: Any, op: str, value: str, check: Any) -> None:
    """Each string operator selects exactly the matching suppliers."""
    suppliers = _all(api, "suppliers")
    expected = {s["id"] for s in suppliers if check(s["name"])}
    assert expected, "the demo data should have matches"
    assert _ids(api, "suppliers", {f"name[{op}]": value}) == expected


def test_in_and_not_in(api: Any) -> None:
    """in/not_in take comma-separated lists."""
    suppliers = _all(api, "suppliers")
    assert _ids(api, "suppliers", {"status[in]": "inactive,draft"}) == {
        s["id"] for s in suppliers if s["status"] in ("inactive", "draft")
    }
    assert _ids(api, "suppliers", {"status[not_in]": "active"}) == {
        s["id"] for s in suppliers if s["status"] != "active"
    }
    assert [r["id"] for r in api.ok("/api/items", {"id[in]": "8,3,5,99999"})] == [3, 5, 8]


def test_numeric_comparisons_on_id(api: Any) -> None:
    """gt, lt, gt_or_eq, lt_or_eq and not_eq on ids."""

    def page(params: dict[str, str]) -> set[int]:
        return {r["id"] for r in api.ok("/api/accounts", params)}

    assert page({"id[gt]": "10", "id[lt]": "15"}) == {11, 12, 13, 14}
    assert page({"id[gt_or_eq]": "10", "id[lt_or_eq]": "12"}) == {10, 11, 12}
    assert page({"id[not_eq]": "7", "id[lt]": "9"}) == {1, 2, 3, 4, 5, 6, 8}


def test_blank_operator(api: Any) -> None:
    """blank=true matches null or empty values; blank=false the others."""
    accounts = _all(api, "accounts")
    blank = {a["id"] for a in accounts if a["name"] in (None, "")}
    assert blank
    assert _ids(api, "accounts", {"name[blank]": "true"}) == blank
    assert _ids(api, "accounts", {"name[blank]": "false"}) == {a["id"] for a in accounts} - blank


def test_association_filters(api: Any) -> None:
    """Filters through associations: account-type[id][in], account-type[name], commodity[name][starts_with]."""
    accounts = _all(api, "accounts")
    by_chart = {a["id"] for a in accounts if a["account-type"]["id"] in (2, 3)}
    assert _ids(api, "accounts", {"account-type[id][in]": "2,3"}) == by_chart
    assert _ids(api, "accounts", {"account_type[id][in]": "2,3"}) == by_chart
    assert _ids(api, "accounts", {"account_type_id": "2"}) == {
        a["id"] for a in accounts if a["account-type"]["id"] == 2
    }
    name = accounts[0]["account-type"]["name"]
    assert _ids(api, "accounts", {"account-type[name]": name}) == {
        a["id"] for a in accounts if a["account-type"]["name"] == name
    }
    items = _all(api, "items")
    assert _ids(api, "items", {"commodity[name][starts_with]": "Lap"}) == {
        i["id"] for i in items if i["commodity"] and i["commodity"]["name"].startswith("Lap")
    }
    users = _all(api, "users")
    dept = users[5]["department"]["name"]
    assert _ids(api, "users", {"department[name]": dept}) == {
        u["id"] for u in users if u["department"] and u["department"]["name"] == dept
    }
    suppliers = _all(api, "suppliers")
    assert _ids(api, "suppliers", {"payment-term[code]": "Net 30"}) == {
        s["id"] for s in suppliers if s["payment-term"] and s["payment-term"]["code"] == "Net 30"
    }
    assert _ids(api, "suppliers", {"primary-contact[email][ends_with]": ".example"}) == {
        s["id"] for s in suppliers
    }


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_datetime_filters_with_offsets(api: Any) -> None:
    """updated-at filters accept offsets, both key spellings and a `+` decoded as a space."""
    items = _all(api, "items")
    pivot = sorted(i["updated-at"] for i in items)[len(items) // 2]
    expected = {i["id"] for i in items if _epoch(i["updated-at"]) > _epoch(pivot)}
    assert _ids(api, "items", {"updated-at[gt]": pivot}) == expected
    assert _ids(api, "items", {"updated_at[gt]": pivot}) == expected
    # The same instant in UTC+05:30, with the + left unencoded (it arrives as a space).
    shifted = datetime.fromtimestamp(_epoch(pivot)).astimezone(
        datetime.fromisoformat("2020-01-01T00:00:00+05:30").tzinfo
    )
    resp = api.http.get(f"/api/items?updated-at[gt]={shifted.isoformat()}&limit=50&order_by=id")
    assert resp.status_code == 200
    assert {i["id"] for i in resp.json()} <= expected
    assert len(resp.json()) == min(50, len(expected))
    lo, hi = sorted(i["created-at"] for i in items)[10], sorted(i["created-at"] for i in items)[-10]
    assert _ids(api, "items", {"created-at[gt_or_eq]": lo, "created-at[lt]": hi}) == {
        i["id"] for i in items if _epoch(lo) <= _epoch(i["created-at"]) < _epoch(hi)
    }
    # A date alone means midnight UTC.
    assert _ids(api, "items", {"created-at[lt]": "2000-01-01"}) == set()


def test_fields_projection_with_nested_association(api: Any) -> None:
    """fields selects attributes, nested objects select association fields."""
    fields = json.dumps(["id", "code", {"account-type": ["id", "name"]}])
    page = api.ok("/api/accounts", {"fields": fields, "limit": 3})
    assert [set(r) for r in page] == [{"id", "code", "account-type"}] * 3
    assert set(page[0]["account-type"]) == {"id", "name"}
    one = api.ok("/api/accounts/1", {"fields": json.dumps(["id", "updated_at"])})
    assert set(one) == {"id", "updated-at"}


def test_return_object_limited_and_shallow(api: Any) -> None:
    """limited returns ids only; shallow keeps attributes but only keys of associations."""
    limited = api.ok("/api/items", {"return_object": "limited", "limit": 3})
    assert limited == [{"id": 1}, {"id": 2}, {"id": 3}]
    shallow = api.ok("/api/items", {"return_object": "shallow", "limit": 1})[0]
    full = api.ok("/api/items", {"limit": 1})[0]
    assert set(shallow) == set(full)
    assert set(shallow["commodity"]) == {"id", "name"}
    assert "created-by" in full["commodity"]


@pytest.mark.parametrize(
    "params",
    [
        {"nope": "1"},
        {"name[foo]": "x"},
        {"name[]": "x"},
        {"id": "abc"},
        {"active": "maybe"},
        {"updated-at[contains]": "2024"},
        {"updated-at[gt]": "yesterday"},
        {"account-type[nope]": "1"},
        {"order_by": "nope"},
        {"dir": "sideways"},
        {"limit": "-1"},
        {"fields": "not json"},
        {"fields": '["id","nope"]'},
        {"return_object": "everything"},
    ],
)
def test_unknown_attribute_or_malformed_operator_is_400(api: Any, params: dict[str, str]) -> None:
    """Bad queries get 400 with a JSON message keyed by the object name, never an unfiltered list."""
    resp = api.get("/api/accounts", params)
    assert resp.status_code == 400
    assert list(resp.json()["errors"]) == ["account"]
    assert resp.json()["errors"]["account"][0]


def test_unknown_id_and_resource_are_404(api: Any) -> None:
    """Unknown ids and unknown resources get 404."""
    resp = api.get("/api/items/99999999")
    assert resp.status_code == 404
    assert "item" in resp.json()["errors"]
    assert api.get("/api/items/abc").status_code == 404
    assert api.get("/api/nothing_here").status_code == 404

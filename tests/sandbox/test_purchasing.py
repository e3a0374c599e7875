"""Requisitions, purchase orders and their lines: read-only collections (coupa-api.md 6 and 7)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from coupa.sandbox.testing import SandboxHandle, running_sandbox

#: Line keys coupa-api.md 6.3 documents (inputs a PR builder sets, and outputs).
DOCUMENTED_LINE_KEYS = frozenset(
    {
        "id",
        "line-num",
        "line-type",
        "description",
        "item",
        "quantity",
        "uom",
        "unit-price",
        "currency",
        "supplier",
        "commodity",
        "account",
        "account-allocations",
        "payment-term",
        "shipping-term",
        "need-by-date",
        "source-part-num",
        "supp-aux-part-num",
        "contract",
        "status",
        "order-line-id",
        "total",
        "source-type",
    }
)
ORDERED = {"ordered", "partially_received", "received"}
REQUISITION_STATUSES = {
    "draft",
    "cart",
    "pending_buyer_action",
    "pending_approval",
    "approved",
    "ordered",
    "partially_received",
    "received",
    "abandoned",
    "backgrounded",
    "withdrawn",
}


@pytest.fixture(scope="module")
def requisitions(api: Any) -> list[dict[str, Any]]:
    return list(api.walk("requisitions"))


def _ids(records: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in records]


def test_requisitions_have_coupa_statuses_and_some_are_ordered(
    requisitions: list[dict[str, Any]],
) -> None:
    """Default data: 120 requisitions, statuses from Coupa's set, ordered ones among them."""
    assert len(requisitions) == 120
    statuses = {r["status"] for r in requisitions}
    assert statuses <= REQUISITION_STATUSES
    assert {"draft", "pending_approval", "approved", "ordered"} <= statuses


def test_requisition_lines_carry_documented_keys_and_snapshots(
    requisitions: list[dict[str, Any]],
) -> None:
    """Lines are nested with the documented keys, decimals as strings, references as snapshots."""
    kinds = set()
    for req in requisitions:
        lines = req["requisition-lines"]
        assert [ln["line-num"] for ln in lines] == list(range(1, len(lines) + 1))
        total = Decimal(0)
        for line in lines:
            assert set(line) >= DOCUMENTED_LINE_KEYS
            assert isinstance(line["unit-price"], str) and isinstance(line["total"], str)
            assert line["currency"] == req["currency"]
            assert {"id", "name", "number"} <= set(line["supplier"])
            assert {"id", "code"} <= set(line["account"])
            # A day, sent as the instance's local midnight (purchase_order_get_2400.json).
            assert line["need-by-date"][10:19] == "T00:00:00"
            kinds.add(line["line-type"])
            if line["line-type"] == "RequisitionQuantityLine":
                assert line["uom"]["code"] and line["item"]["id"]
                assert Decimal(line["total"]) == Decimal(line["unit-price"]) * Decimal(
                    str(line["quantity"])
                )
            else:
                assert line["quantity"] is None and line["uom"] is None
                assert line["total"] == line["unit-price"]
            total += Decimal(line["total"])
            assert (line["order-line-id"] is not None) == (req["status"] in ORDERED)
        assert isinstance(req["total"], str) and Decimal(req["total"]) == total
        assert {"id", "login"} <= set(req["requested-by"])
        assert "requester" not in req
    assert kinds == {"RequisitionQuantityLine", "RequisitionAmountLine"}


def test_requisition_filters(api: Any, requisitions: list[dict[str, Any]]) -> None:
    """requested-by[login], req-title/justification[contains], updated-at, status[in] filter."""
    login = requisitions[0]["requested-by"]["login"]
    got = api.walk("requisitions", {"requested-by[login]": login})
    assert _ids(got) == [r["id"] for r in requisitions if r["requested-by"]["login"] == login]
    assert got

    word = requisitions[3]["req-title"].split()[0]
    got = api.walk("requisitions", {"req-title[contains]": word})
    assert _ids(got) == [r["id"] for r in requisitions if word in r["req-title"]]

    name = requisitions[5]["requested-by"]["firstname"]
    got = api.walk("requisitions", {"justification[contains]": name})
    assert _ids(got) == [r["id"] for r in requisitions if name in r["justification"]]
    assert got

    stamps = sorted(r["updated-at"] for r in requisitions)
    since = stamps[len(stamps) // 2]
    got = api.walk("requisitions", {"updated-at[gt_or_eq]": since})
    expected = [r["id"] for r in requisitions if r["updated-at"] >= since]
    assert _ids(got) == expected
    assert 0 < len(expected) < len(requisitions)

    got = api.walk("requisitions", {"status[in]": "ordered,received"})
    assert _ids(got) == [r["id"] for r in requisitions if r["status"] in ("ordered", "received")]
    assert got


def test_purchase_orders_by_requisition_header_one_per_supplier(
    api: Any, requisitions: list[dict[str, Any]]
) -> None:
    """Ordered requisitions have one PO per supplier, linked header and lines both ways."""
    ordered = [r for r in requisitions if r["status"] in ORDERED]
    assert ordered
    chosen = ordered[:10]
    pos = api.walk(
        "purchase_orders", {"requisition-header[id][in]": ",".join(str(r["id"]) for r in chosen)}
    )
    by_req: dict[int, list[dict[str, Any]]] = {}
    for po in pos:
        by_req.setdefault(po["requisition-header"]["id"], []).append(po)
    assert set(by_req) == {r["id"] for r in chosen}
    assert any(len(v) > 1 for v in by_req.values())  # some requisitions make several POs
    for req in chosen:
        req_pos = by_req[req["id"]]
        suppliers = {ln["supplier"]["id"] for ln in req["requisition-lines"]}
        assert sorted(po["supplier"]["id"] for po in req_pos) == sorted(suppliers)
        lines = {str(ln["id"]): ln for ln in req["requisition-lines"]}
        po_line_ids = []
        for po in req_pos:
            assert po["requisition-header"]["requester"]["id"] == req["requested-by"]["id"]
            assert po["po-number"] == str(po["id"])
            for pol in po["order-lines"]:
                line = lines[pol["requisition-line-id"]]
                assert line["order-line-id"] == pol["id"]
                assert pol["order-header-id"] == po["id"]
                assert pol["supplier"]["id"] == po["supplier"]["id"] == line["supplier"]["id"]
                assert pol["total"] == line["total"]
                po_line_ids.append(pol["id"])
        assert len(po_line_ids) == len(lines)
    # Requisitions not ordered have no PO.
    unordered = [r["id"] for r in requisitions if r["status"] not in ORDERED][:10]
    assert api.ok("/api/purchase_orders", {"requisition-header[id][in]": unordered}) == []


def test_purchase_order_lines_by_id_and_filters(api: Any) -> None:
    """PO lines by id[in], by order header, and one by id, with the §7 fallback fields."""
    pos = api.ok("/api/purchase_orders", {"limit": 5})
    line_ids = [pol["id"] for po in pos for pol in po["order-lines"]]
    fields = '["id","order-header-id","order-header-number","requisition-line-id"]'
    got = api.ok(
        "/api/purchase_order_lines",
        {"id[in]": ",".join(map(str, line_ids)), "fields": fields},
    )
    assert [r["id"] for r in got] == sorted(line_ids)
    assert all(set(r) == set(json.loads(fields)) for r in got)
    got = api.walk("purchase_order_lines", {"order-header-id": str(pos[0]["id"])})
    assert _ids(got) == [pol["id"] for pol in pos[0]["order-lines"]]
    one = api.ok(f"/api/purchase_order_lines/{line_ids[0]}")
    assert one["id"] == line_ids[0] and one["order-header-id"] == pos[0]["id"]


def test_daily_sync_fields_and_return_object(api: Any, requisitions: list[dict[str, Any]]) -> None:
    """The §6.6 daily-sync query returns exactly the asked keys; limited and by id work."""
    ids = [r["id"] for r in requisitions[:50]]
    fields = [
        "id",
        "status",
        "updated-at",
        {"requisition-lines": ["id", "line-num", "status", "order-line-id"]},
    ]
    got = api.ok(
        "/api/requisitions", {"id[in]": ",".join(map(str, ids)), "fields": json.dumps(fields)}
    )
    assert [r["id"] for r in got] == ids
    for rec, full in zip(got, requisitions[:50], strict=True):
        assert set(rec) == {"id", "status", "updated-at", "requisition-lines"}
        assert rec["status"] == full["status"]
        assert rec["requisition-lines"] == [
            {k: ln[k] for k in ("id", "line-num", "status", "order-line-id")}
            for ln in full["requisition-lines"]
        ]
    limited = api.ok("/api/purchase_orders", {"return_object": "limited", "limit": 3})
    assert all(set(r) == {"id"} for r in limited)
    shallow = api.ok("/api/requisitions", {"return_object": "shallow", "limit": 3})
    assert all(set(ln) == {"id", "line-num"} for r in shallow for ln in r["requisition-lines"])
    one = api.ok(f"/api/requisitions/{ids[7]}")
    assert one == requisitions[7]
    missing = api.get("/api/requisitions/999999")
    assert missing.status_code == 404
    assert "requisition-header" in missing.json()["errors"]


def test_requisitions_option_scales_purchasing_data(make_api: Any) -> None:
    """--requisitions sets how many are generated; lines and POs follow from them."""
    with running_sandbox(
        seed=3, requisitions=7, accounts=20, suppliers=10, items=20, users=5
    ) as sb:
        api = make_api(sb)
        reqs = api.walk("requisitions")
        assert len(reqs) == 7
        lines = api.walk("requisition_lines")
        assert len(lines) == sum(len(r["requisition-lines"]) for r in reqs)
        pos = api.walk("purchase_orders")
        assert {po["requisition-header"]["id"] for po in pos} == {
            r["id"] for r in reqs if r["status"] in ORDERED
        }
        api.close()


def test_control_add_refuses_purchasing_documents(fresh_sandbox: SandboxHandle) -> None:
    """The control API's `add` refuses requisitions: they come from --requisitions only."""
    resp = httpx.post(
        f"{fresh_sandbox.base_url}/_sandbox/mutate",
        json={"operations": [{"op": "add", "resource": "requisitions"}]},
    )
    assert resp.status_code == 400
    assert "requisitions" in resp.json()["error"]

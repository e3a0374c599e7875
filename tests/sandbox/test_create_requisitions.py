"""Creating requisitions over HTTP: draft and submitted, Coupa's rules (coupa-api.md 6.2)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from coupa.sandbox.testing import SandboxHandle
from tests.sandbox.bodies import amount_line, errors, quantity_line, requisition_body, valid


def test_quantity_line_creates_a_draft(client: Any, refs: dict[str, Any]) -> None:
    """A quantity line makes a draft with ids, decimal-string totals and snapshots."""
    resp = client.http.post("/api/requisitions", json=requisition_body(refs, quantity_line(refs)))
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    assert rec["status"] == "draft"
    assert rec["submitted-at"] is None
    assert rec["total"] == "600.00"
    assert rec["created-at"] and rec["updated-at"]
    assert rec["requested-by"]["login"] == refs["requested-by"]["login"]
    assert rec["ship-to-address"]["name"] == refs["ship-to-address"]["name"]
    (line,) = rec["requisition-lines"]
    assert isinstance(line["id"], int)
    assert line["line-type"] == "RequisitionQuantityLine"
    assert line["quantity"] == 2.0
    assert line["uom"]["code"] == "EA"
    assert line["unit-price"] == "300.00"
    assert line["total"] == "600.00"
    assert line["supplier"]["name"] == refs["supplier"]["name"]
    assert line["account"]["code"] == refs["account"]["code"]
    # Terms default from the supplier (6.2).
    supplier = refs["supplier_record"]
    for key in ("payment-term", "shipping-term"):
        assert (line[key] or {}).get("id") == (supplier[key] or {}).get("id")
    valid(rec)


def test_amount_line_has_no_quantity_or_uom(client: Any, refs: dict[str, Any]) -> None:
    """An amount line without line-type is an amount line; its price is its total."""
    resp = client.http.post("/api/requisitions", json=requisition_body(refs, amount_line(refs)))
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    (line,) = rec["requisition-lines"]
    assert line["line-type"] == "RequisitionAmountLine"
    assert line["quantity"] is None
    assert line["uom"] is None
    assert line["total"] == rec["total"] == "3000.00"
    assert line["need-by-date"].startswith("2025-09-23")
    valid(rec)


def test_catalog_item_line_takes_item_defaults(client: Any, refs: dict[str, Any]) -> None:
    """A line naming an item takes its description and UoM."""
    line = {
        "item": refs["item"],
        "line-num": 1,
        "quantity": 1,
        "currency": {"code": "USD"},
        "account": refs["account"],
    }
    resp = client.http.post("/api/requisitions", json=requisition_body(refs, line))
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    (got,) = rec["requisition-lines"]
    item = refs["item_record"]
    assert got["item"]["id"] == item["id"]
    assert got["description"] == item["name"]
    assert got["uom"]["id"] == item["uom"]["id"]
    assert got["line-type"] == "RequisitionQuantityLine"
    valid(rec)


@pytest.mark.parametrize(
    "path", ["/api/requisitions/submit_for_approval", "/api/requisitions/new/submit_for_approval"]
)
def test_submit_creates_pending_approval(client: Any, refs: dict[str, Any], path: str) -> None:
    """Both submit URLs create a submitted multi-line requisition with the lines' total."""
    body = requisition_body(
        refs, quantity_line(refs, 1), amount_line(refs, 2), quantity_line(refs, 3)
    )
    resp = client.http.post(path, json=body)
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    assert rec["status"] == "pending_approval"
    assert rec["submitted-at"] is not None
    assert [line["line-num"] for line in rec["requisition-lines"]] == [1, 2, 3]
    assert {line["status"] for line in rec["requisition-lines"]} == {"pending_approval"}
    assert rec["total"] == "4200.00"
    valid(rec)


def test_repeated_line_num_is_dropped_silently(client: Any, refs: dict[str, Any]) -> None:
    """A line repeating a line-num is dropped without an error (6.2)."""
    body = requisition_body(
        refs, quantity_line(refs, 1), amount_line(refs, 2), amount_line(refs, 2)
    )
    resp = client.http.post("/api/requisitions", json=body)
    assert resp.status_code == 201, resp.text
    assert [line["line-num"] for line in resp.json()["requisition-lines"]] == [1, 2]
    assert resp.json()["total"] == "3600.00"


def test_same_body_twice_makes_two_requisitions(
    client: Any, refs: dict[str, Any], fresh_sandbox: SandboxHandle
) -> None:
    """No idempotency: two POSTs of one body create two requisitions (6.5)."""
    before = fresh_sandbox.count("requisitions")
    body = requisition_body(refs, quantity_line(refs))
    first = client.http.post("/api/requisitions", json=body)
    second = client.http.post("/api/requisitions", json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert fresh_sandbox.count("requisitions") == before + 2


def test_created_requisition_is_found_by_get(client: Any, refs: dict[str, Any]) -> None:
    """The created requisition is served by id and found by req-title[contains]."""
    body = requisition_body(refs, quantity_line(refs))
    body["req-title"] = "[F90210] Found again"
    created = client.http.post("/api/requisitions", json=body).json()
    by_id = client.ok(f"/api/requisitions/{created['id']}")
    assert by_id == created
    found = client.ok("/api/requisitions", {"req-title[contains]": "[F90210]"})
    assert [r["id"] for r in found] == [created["id"]]
    line_id = created["requisition-lines"][0]["id"]
    assert client.ok(f"/api/requisition_lines/{line_id}")["line-num"] == 1


def test_write_scope_is_required(
    fresh_sandbox: SandboxHandle, make_api: Any, refs: dict[str, Any]
) -> None:
    """Without core.requisition.write the POST is refused with 403 and nothing is created."""
    before = fresh_sandbox.count("requisitions")
    fresh_sandbox.remove_scope(fresh_sandbox.client_id, "core.requisition.write")
    api = make_api(fresh_sandbox)
    try:
        resp = api.http.post("/api/requisitions", json=requisition_body(refs, quantity_line(refs)))
    finally:
        api.close()
    assert resp.status_code == 403
    assert "core.requisition.write" in resp.headers["www-authenticate"]
    assert fresh_sandbox.count("requisitions") == before


def _refused(client: Any, body: dict[str, Any]) -> list[str]:
    return errors(client.http.post("/api/requisitions", json=body))


def test_refusals_name_every_problem(
    client: Any, refs: dict[str, Any], fresh_sandbox: SandboxHandle
) -> None:
    """One 400 lists every problem, with the line it is on; nothing is created."""
    before = fresh_sandbox.count("requisitions")
    bad_supplier = amount_line(refs, 2)
    bad_supplier["supplier"] = {"name": "No Such Supplier"}
    body = requisition_body(refs, quantity_line(refs, 1), bad_supplier)
    del body["ship-to-address"]
    body["requested-by"] = {"login": "nobody-here"}
    errors = _refused(client, body)
    assert "ship-to-address required" in errors
    assert "requested-by not found (login=nobody-here)" in errors
    assert "Line 2: supplier not found (name=No Such Supplier)" in errors
    assert fresh_sandbox.count("requisitions") == before


def test_refused_header_rules(client: Any, refs: dict[str, Any]) -> None:
    """No lines, no requester, and unknown header keys are refused."""
    body = requisition_body(refs)
    del body["requested-by"]
    body["colour"] = "blue"
    errors = _refused(client, body)
    assert errors == [
        "unknown key 'colour'",
        "requested-by required",
        "at least one requisition line required",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": None}, "Line 1: description or item required"),
        ({"currency": None}, "Line 1: currency required"),
        ({"quantity": None}, "Line 1: quantity required"),
        ({"uom": None}, "Line 1: uom required"),
        ({"colour": "blue"}, "Line 1: unknown key 'colour'"),
        ({"uom": {"code": "XX"}}, "Line 1: uom not found (code=XX)"),
        ({"currency": {"code": "USD", "id": 999}}, "Line 1: currency not found (code=USD, id=999)"),
        ({"line-num": 2}, "at least one requisition line required: no line has line-num 1"),
        ({"line-num": None}, "Line 1: line-num required (an integer)"),
    ],
)
def test_refused_quantity_line_rules(
    client: Any, refs: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    """Each line rule of 6.2 is checked with its own message."""
    line = quantity_line(refs)
    line.update(change)
    line = {k: v for k, v in line.items() if v is not None}
    assert message in _refused(client, requisition_body(refs, line))


def test_amount_line_refuses_quantity_and_uom(client: Any, refs: dict[str, Any]) -> None:
    """An amount line with quantity or UoM is refused."""
    line = amount_line(refs)
    line.update({"line-type": "RequisitionAmountLine", "quantity": 1, "uom": {"code": "EA"}})
    errors = _refused(client, requisition_body(refs, line))
    assert "Line 1: quantity not allowed on an amount line" in errors
    assert "Line 1: uom not allowed on an amount line" in errors


def test_inactive_references_are_refused(
    client: Any, refs: dict[str, Any], fresh_sandbox: SandboxHandle
) -> None:
    """Inactive users and suppliers are refused (6.2)."""
    supplier = fresh_sandbox.records("suppliers", active_only=True)[0]
    fresh_sandbox.deactivate("suppliers", supplier["id"])
    line = copy.deepcopy(amount_line(refs))
    line["supplier"] = {"id": supplier["id"]}
    errors = _refused(client, requisition_body(refs, line))
    assert errors == [f"Line 1: supplier inactive (id={supplier['id']})"]


def test_all_given_keys_must_match(client: Any, refs: dict[str, Any]) -> None:
    """A reference by id and name must name one record by both."""
    line = amount_line(refs)
    line["account"] = {**refs["account"], "account-type": {"name": "No Such Chart"}}
    errors = _refused(client, requisition_body(refs, line))
    assert len(errors) == 1
    assert errors[0].startswith("Line 1: account not found (code=")


def test_inactive_requester_is_refused(
    client: Any, refs: dict[str, Any], fresh_sandbox: SandboxHandle
) -> None:
    """An inactive requested-by user is refused, named by the keys given."""
    login = refs["requested-by"]["login"]
    user = next(u for u in fresh_sandbox.records("users") if u["login"] == login)
    fresh_sandbox.deactivate("users", user["id"])
    errors = _refused(client, requisition_body(refs, quantity_line(refs)))
    assert errors == [f"requested-by inactive (login={login})"]

"""Updating and submitting drafts over HTTP, line numbering, and submission routing (6.1, 6.2)."""

from __future__ import annotations

from typing import Any

import pytest

from coupa.sandbox.testing import SandboxHandle
from tests.sandbox.bodies import amount_line, errors, quantity_line, requisition_body, valid


def _draft(client: Any, refs: dict[str, Any], *lines: dict[str, Any]) -> dict[str, Any]:
    resp = client.http.post("/api/requisitions", json=requisition_body(refs, *lines))
    assert resp.status_code == 201, resp.text
    rec: dict[str, Any] = resp.json()
    return rec


def _no_supplier(line: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in line.items() if k != "supplier"}


def test_put_changes_header_and_lines(client: Any, refs: dict[str, Any]) -> None:
    """A PUT changes the header keys it gives, the line it names by id, and adds new lines."""
    draft = _draft(client, refs, quantity_line(refs))
    (line,) = draft["requisition-lines"]
    change = {
        "req-title": "[F4711] Projector bulbs, revised",
        "requisition-lines": [
            {"id": line["id"], "quantity": 5},
            amount_line(refs, 2),
        ],
    }
    resp = client.http.put(f"/api/requisitions/{draft['id']}", json=change)
    assert resp.status_code == 200, resp.text
    rec = resp.json()
    assert rec["id"] == draft["id"]
    assert rec["status"] == "draft"
    assert rec["req-title"] == "[F4711] Projector bulbs, revised"
    assert rec["justification"] == draft["justification"]
    first, second = rec["requisition-lines"]
    assert first["id"] == line["id"]
    assert first["quantity"] == 5.0
    assert first["total"] == "1500.00"
    assert second["line-num"] == 2
    assert second["line-type"] == "RequisitionAmountLine"
    assert rec["total"] == "4500.00"
    assert rec["created-at"] == draft["created-at"]
    assert rec["updated-at"] >= draft["updated-at"]
    valid(rec)
    # What GET serves afterwards is the updated requisition, lines included.
    assert client.ok(f"/api/requisitions/{draft['id']}") == rec
    served = client.ok("/api/requisition_lines", {"id": str(line["id"])})
    assert served[0]["quantity"] == 5.0


def test_patch_updates_too(client: Any, refs: dict[str, Any]) -> None:
    """PATCH is the same update (coupa-api.md 6.1)."""
    draft = _draft(client, refs, quantity_line(refs))
    resp = client.http.patch(f"/api/requisitions/{draft['id']}", json={"justification": "Why"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["justification"] == "Why"


def test_put_merged_requisition_must_pass_every_rule(
    client: Any, refs: dict[str, Any], fresh_sandbox: SandboxHandle
) -> None:
    """A PUT that breaks a rule is refused with every problem and changes nothing."""
    draft = _draft(client, refs, quantity_line(refs))
    (line,) = draft["requisition-lines"]
    resp = client.http.put(
        f"/api/requisitions/{draft['id']}",
        json={
            "requested-by": {"login": "nobody-here"},
            "requisition-lines": [{"id": line["id"], "quantity": None}, {"line-num": 2}],
        },
    )
    assert errors(resp) == [
        "requested-by not found (login=nobody-here)",
        "Line 1: quantity required",
        "Line 2: description or item required",
        "Line 2: currency required",
    ]
    assert fresh_sandbox.record("requisitions", draft["id"]) == draft


def test_put_refuses_a_line_of_another_requisition(client: Any, refs: dict[str, Any]) -> None:
    """A line id must belong to the requisition being updated."""
    one = _draft(client, refs, quantity_line(refs))
    other = _draft(client, refs, quantity_line(refs))
    foreign = other["requisition-lines"][0]["id"]
    resp = client.http.put(
        f"/api/requisitions/{one['id']}",
        json={"requisition-lines": [{"id": foreign, "line-num": 2, "quantity": 1}]},
    )
    assert errors(resp) == [f"Line 2: id {foreign} is not a line of this requisition"]


def test_put_unknown_requisition_is_404(client: Any) -> None:
    resp = client.http.put("/api/requisitions/999999", json={"req-title": "x"})
    assert resp.status_code == 404
    assert "Couldn't find" in resp.json()["errors"]["requisition-header"][0]


def test_update_and_submit_without_body_submits_the_draft(
    client: Any, refs: dict[str, Any]
) -> None:
    """update_and_submit_for_approval takes an optional body and submits the draft."""
    draft = _draft(client, refs, quantity_line(refs))
    resp = client.http.put(f"/api/requisitions/{draft['id']}/update_and_submit_for_approval")
    assert resp.status_code == 200, resp.text
    rec = resp.json()
    assert rec["status"] == "pending_approval"
    assert rec["submitted-at"] is not None
    assert {line["status"] for line in rec["requisition-lines"]} == {"pending_approval"}
    valid(rec)


def test_update_and_submit_applies_the_body(client: Any, refs: dict[str, Any]) -> None:
    draft = _draft(client, refs, quantity_line(refs))
    resp = client.http.put(
        f"/api/requisitions/{draft['id']}/update_and_submit_for_approval",
        json={"justification": "Needed for the board meeting"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["justification"] == "Needed for the board meeting"
    assert resp.json()["status"] == "pending_approval"


def test_only_drafts_can_be_updated_or_submitted(client: Any, refs: dict[str, Any]) -> None:
    """A submitted requisition is no longer editable through the API."""
    resp = client.http.post(
        "/api/requisitions/submit_for_approval", json=requisition_body(refs, quantity_line(refs))
    )
    rec_id = resp.json()["id"]
    for path in (
        f"/api/requisitions/{rec_id}",
        f"/api/requisitions/{rec_id}/update_and_submit_for_approval",
    ):
        refused = client.http.put(path, json={"req-title": "changed"})
        assert refused.status_code == 400
        assert refused.json()["errors"]["requisition-header"] == [
            f"requisition {rec_id} is pending_approval; only drafts can be updated or submitted"
        ]
    assert client.ok(f"/api/requisitions/{rec_id}")["req-title"] == "[F4711] Projector bulbs"


def test_update_needs_the_write_scope(
    fresh_sandbox: SandboxHandle, make_api: Any, refs: dict[str, Any]
) -> None:
    writer = make_api(fresh_sandbox)
    draft = _draft(writer, refs, quantity_line(refs))
    reader = make_api(fresh_sandbox, scope="core.requisition.read")
    try:
        resp = reader.http.put(f"/api/requisitions/{draft['id']}", json={"req-title": "x"})
        assert resp.status_code == 403
    finally:
        reader.close()
        writer.close()


def test_lines_after_a_gap_are_dropped_silently(client: Any, refs: dict[str, Any]) -> None:
    """line-num must run 1, 2, 3...: lines after a gap are dropped without a word (9.8)."""
    body = requisition_body(
        refs, quantity_line(refs, 1), amount_line(refs, 2), amount_line(refs, 4)
    )
    resp = client.http.post("/api/requisitions", json=body)
    assert resp.status_code == 201, resp.text
    assert [line["line-num"] for line in resp.json()["requisition-lines"]] == [1, 2]
    assert resp.json()["total"] == "3600.00"


def test_lines_may_come_in_any_order(client: Any, refs: dict[str, Any]) -> None:
    body = requisition_body(refs, amount_line(refs, 2), quantity_line(refs, 1))
    rec = client.http.post("/api/requisitions", json=body).json()
    assert [line["line-num"] for line in rec["requisition-lines"]] == [1, 2]


def test_put_repeating_a_line_num_drops_the_new_line(client: Any, refs: dict[str, Any]) -> None:
    """A line added by PUT with a number already taken is dropped, as on create."""
    draft = _draft(client, refs, quantity_line(refs))
    resp = client.http.put(
        f"/api/requisitions/{draft['id']}", json={"requisition-lines": [amount_line(refs, 1)]}
    )
    assert resp.status_code == 200, resp.text
    (line,) = resp.json()["requisition-lines"]
    assert line["line-type"] == "RequisitionQuantityLine"


def test_submission_without_a_supplier_waits_for_a_buyer(client: Any, refs: dict[str, Any]) -> None:
    """By default a submitted line without a supplier routes to pending_buyer_action."""
    body = requisition_body(refs, quantity_line(refs, 1), _no_supplier(amount_line(refs, 2)))
    resp = client.http.post("/api/requisitions/submit_for_approval", json=body)
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    assert rec["status"] == "pending_buyer_action"
    assert {line["status"] for line in rec["requisition-lines"]} == {"pending_buyer_action"}
    valid(rec)
    # A draft without a supplier is still a draft: routing happens on submission.
    draft = _draft(client, refs, _no_supplier(quantity_line(refs)))
    assert draft["status"] == "draft"
    submitted = client.http.put(f"/api/requisitions/{draft['id']}/update_and_submit_for_approval")
    assert submitted.json()["status"] == "pending_buyer_action"


@pytest.mark.parametrize(
    ("rule", "with_supplier", "without_supplier"),
    [
        ("never", "pending_approval", "pending_approval"),
        ("always", "pending_buyer_action", "pending_buyer_action"),
        ("no-supplier", "pending_approval", "pending_buyer_action"),
    ],
)
def test_routing_rule_is_configurable(
    client: Any,
    refs: dict[str, Any],
    fresh_sandbox: SandboxHandle,
    rule: str,
    with_supplier: str,
    without_supplier: str,
) -> None:
    assert fresh_sandbox.settings(buyer_action=rule)["buyer_action"] == rule
    got = []
    for line in (quantity_line(refs), _no_supplier(quantity_line(refs))):
        resp = client.http.post(
            "/api/requisitions/submit_for_approval", json=requisition_body(refs, line)
        )
        assert resp.status_code == 201, resp.text
        got.append(resp.json()["status"])
    assert got == [with_supplier, without_supplier]


def test_unknown_routing_rule_is_refused(fresh_sandbox: SandboxHandle) -> None:
    with pytest.raises(RuntimeError, match="buyer_action must be one of"):
        fresh_sandbox.settings(buyer_action="sometimes")

"""The requisition and purchase-order lifecycle over HTTP: control calls, auto-pilot, pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from coupa.sandbox.testing import SandboxHandle, running_sandbox
from coupa.spec import SpecValidator

ANCHOR_DATE = "2025-06-30"  # as in conftest.py

DEFINITIONS = {
    "requisitions": "RequisitionHeader",
    "requisition_lines": "RequisitionLine",
    "purchase_orders": "OrderHeader",
    "purchase_order_lines": "OrderLine",
}


@pytest.fixture
def client(fresh_sandbox: SandboxHandle, make_api: Any) -> Iterator[Any]:
    api = make_api(fresh_sandbox)
    yield api
    api.close()


def _valid(resource: str, *bodies: dict[str, Any]) -> None:
    """Each body passes the R39 validator, nested lines included."""
    validator = SpecValidator.default()
    for body in bodies:
        result = validator.validate(DEFINITIONS[resource], body, direction="response")
        assert list(result.errors) == [], (resource, body.get("id"))
        nested = {"requisitions": "requisition-lines", "purchase_orders": "order-lines"}
        for line in body.get(nested.get(resource, ""), None) or ():
            line_resource = (
                "requisition_lines" if resource == "requisitions" else "purchase_order_lines"
            )
            result = validator.validate(DEFINITIONS[line_resource], line, direction="response")
            assert list(result.errors) == [], (line_resource, line.get("id"))


def _valid_answer(answer: dict[str, Any]) -> None:
    _valid("requisitions", answer["requisition"])
    _valid("purchase_orders", *answer["purchase_orders"])


def _with_status(sb: SandboxHandle, status: str) -> dict[str, Any]:
    return next(r for r in sb.records("requisitions") if r["status"] == status)


def _control(sb: SandboxHandle, path: str, body: Any = None) -> httpx.Response:
    return httpx.post(f"{sb.base_url}/_sandbox/{path}", json=body)


def _active(sb: SandboxHandle, resource: str) -> list[dict[str, Any]]:
    return sb.records(resource, active_only=True)


def _create(
    sb: SandboxHandle,
    api: Any,
    *,
    suppliers: list[int | None],
    submit: bool = True,
    title: str = "Lifecycle test",
) -> dict[str, Any]:
    """Create a requisition over the API, one amount line per entry of `suppliers`."""
    user = next(u for u in _active(sb, "users") if u["id"] != 1)
    lines = []
    for num, supplier in enumerate(suppliers, start=1):
        line: dict[str, Any] = {
            "line-num": num,
            "description": f"Service {num}",
            "unit-price": f"{100 * num}.00",
            "currency": {"code": "USD"},
        }
        if supplier is not None:
            line["supplier"] = {"id": supplier}
        lines.append(line)
    lines.append(
        {
            "line-num": len(lines) + 1,
            "line-type": "RequisitionQuantityLine",
            "description": "Projector bulbs",
            "quantity": 3,
            "uom": {"code": "EA"},
            "unit-price": "25.00",
            "currency": {"code": "USD"},
            **({"supplier": {"id": suppliers[0]}} if suppliers[0] is not None else {}),
        }
    )
    body = {
        "requested-by": {"id": user["id"]},
        "ship-to-address": {"id": _active(sb, "addresses")[0]["id"]},
        "req-title": title,
        "requisition-lines": lines,
    }
    path = "/api/requisitions/submit_for_approval" if submit else "/api/requisitions"
    resp = api.http.post(path, json=body)
    assert resp.status_code == 201, resp.text
    rec: dict[str, Any] = resp.json()
    return rec


def _two_suppliers(sb: SandboxHandle) -> list[int]:
    first, second = (s["id"] for s in _active(sb, "suppliers")[:2])
    return [first, second, first]


# -- requisition transitions --------------------------------------------------


@pytest.mark.parametrize("status", ["pending_approval", "pending_buyer_action"])
def test_approve_moves_a_waiting_requisition_and_its_lines(
    fresh_sandbox: SandboxHandle, client: Any, status: str
) -> None:
    """Approving sets the header and every line to approved; the API shows it."""
    req = _with_status(fresh_sandbox, status)
    answer = fresh_sandbox.approve(req["id"])
    assert answer["requisition"]["status"] == "approved"
    assert answer["purchase_orders"] == []
    got = client.ok(f"/api/requisitions/{req['id']}")
    assert got["status"] == "approved"
    assert {ln["status"] for ln in got["requisition-lines"]} == {"approved"}
    assert got["updated-at"] > req["updated-at"]
    _valid("requisitions", got)
    _valid_answer(answer)


@pytest.mark.parametrize("status", ["draft", "approved", "ordered", "received", "withdrawn"])
def test_approve_is_refused_outside_waiting_statuses(
    fresh_sandbox: SandboxHandle, status: str
) -> None:
    """409 naming the status and the allowed ones; nothing changes."""
    req = _with_status(fresh_sandbox, status)
    resp = _control(fresh_sandbox, f"requisitions/{req['id']}/approve")
    assert resp.status_code == 409
    assert resp.json() == {
        "error": f"requisition {req['id']} is {status}; "
        "only pending_approval or pending_buyer_action can be approved"
    }
    assert fresh_sandbox.record("requisitions", req["id"]) == req


def test_unknown_requisition_or_action_is_refused(fresh_sandbox: SandboxHandle) -> None:
    """Unknown ids get 404, unknown actions 400, each with an error."""
    resp = _control(fresh_sandbox, "requisitions/99999/approve")
    assert resp.status_code == 404
    assert resp.json()["error"] == "requisition 99999 not found"
    assert _control(fresh_sandbox, "purchase_orders/99999/close").status_code == 404
    req = _with_status(fresh_sandbox, "pending_approval")
    resp = _control(fresh_sandbox, f"requisitions/{req['id']}/explode")
    assert resp.status_code == 400
    assert "unknown requisition action" in resp.json()["error"]


def test_reject_returns_the_requisition_to_draft_with_the_reason(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    """Coupa has no rejected status: draft, reject-reason-comment set, submitted-at cleared."""
    req = _with_status(fresh_sandbox, "pending_approval")
    answer = fresh_sandbox.reject(req["id"], "Over budget; split it")
    got = client.ok(f"/api/requisitions/{req['id']}")
    assert got == answer["requisition"]
    assert got["status"] == "draft"
    assert got["reject-reason-comment"] == "Over budget; split it"
    assert got["submitted-at"] is None
    assert {ln["status"] for ln in got["requisition-lines"]} == {"draft"}
    _valid("requisitions", got)
    # A draft cannot be rejected or approved again; a reason is required.
    assert (
        _control(fresh_sandbox, f"requisitions/{req['id']}/reject", {"comment": "x"}).status_code
        == 409
    )
    other = _with_status(fresh_sandbox, "pending_buyer_action")
    resp = _control(fresh_sandbox, f"requisitions/{other['id']}/reject", {"comment": " "})
    assert resp.status_code == 400
    assert "comment" in resp.json()["error"]
    assert fresh_sandbox.record("requisitions", other["id"])["status"] == "pending_buyer_action"


@pytest.mark.parametrize(
    "status", ["draft", "pending_approval", "pending_buyer_action", "approved"]
)
def test_withdraw_from_every_unordered_status(
    fresh_sandbox: SandboxHandle, client: Any, status: str
) -> None:
    """draft, pending_* and approved requisitions can be withdrawn."""
    req = _with_status(fresh_sandbox, status)
    answer = fresh_sandbox.withdraw(req["id"])
    assert answer["requisition"]["status"] == "withdrawn"
    got = client.ok(f"/api/requisitions/{req['id']}")
    assert {ln["status"] for ln in got["requisition-lines"]} == {"withdrawn"}
    _valid("requisitions", got)


@pytest.mark.parametrize("status", ["ordered", "partially_received", "received", "withdrawn"])
def test_withdraw_is_refused_once_ordered(fresh_sandbox: SandboxHandle, status: str) -> None:
    req = _with_status(fresh_sandbox, status)
    resp = _control(fresh_sandbox, f"requisitions/{req['id']}/withdraw")
    assert resp.status_code == 409
    assert resp.json()["error"].startswith(f"requisition {req['id']} is {status}; only draft,")


# -- ordering -----------------------------------------------------------------


def test_order_makes_one_purchase_order_per_supplier_linked_both_ways(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    """Lines of two suppliers give two POs; PO lines and requisition lines point at each other."""
    sb = fresh_sandbox
    suppliers = _two_suppliers(sb)
    pos_before = sb.count("purchase_orders")
    created = _create(sb, client, suppliers=suppliers)
    assert created["status"] == "pending_approval"
    resp = _control(sb, f"requisitions/{created['id']}/order")
    assert resp.status_code == 409
    assert "only approved can be ordered" in resp.json()["error"]
    sb.approve(created["id"])
    answer = sb.order(created["id"])
    req, orders = answer["requisition"], answer["purchase_orders"]
    assert req["status"] == "ordered"
    assert len(orders) == 2
    assert sb.count("purchase_orders") == pos_before + 2
    assert [po["supplier"]["id"] for po in orders] == suppliers[:2]
    lines = {ln["id"]: ln for ln in req["requisition-lines"]}
    for po in orders:
        assert po["status"] == "issued"
        assert po["requisition-header"]["id"] == req["id"]
        assert po["po-number"] == str(po["id"])
        assert po["version"] == 1
        for pol in po["order-lines"]:
            line = lines[int(pol["requisition-line-id"])]
            assert line["order-line-id"] == pol["id"]
            assert line["supplier"]["id"] == po["supplier"]["id"]
            assert pol["order-header-id"] == po["id"]
            assert pol["total"] == line["total"]
            assert pol["received"] == 0.0
            assert pol["status"] == "created"
    # Lines 1, 3 and 4 share a supplier: its PO has three lines numbered 1, 2, 3.
    assert [[pol["line-num"] for pol in po["order-lines"]] for po in orders] == [[1, 2, 3], [1]]
    assert all(ln["order-line-id"] is not None for ln in lines.values())
    assert {ln["status"] for ln in lines.values()} == {"ordered"}
    # The API serves the same, and the PR-to-PO query finds both.
    assert client.ok(f"/api/requisitions/{req['id']}") == req
    found = client.ok("/api/purchase_orders", {"requisition-header[id][in]": str(req["id"])})
    assert found == orders
    pol_ids = ",".join(str(ln["order-line-id"]) for ln in lines.values())
    po_lines = client.ok("/api/purchase_order_lines", {"id[in]": pol_ids})
    assert {p["requisition-line-id"] for p in po_lines} == {str(i) for i in lines}
    _valid_answer(answer)
    _valid("purchase_order_lines", *po_lines)
    # Ordering twice is refused.
    assert _control(sb, f"requisitions/{req['id']}/order").status_code == 409


def test_order_refuses_a_line_without_supplier(fresh_sandbox: SandboxHandle, client: Any) -> None:
    """Nothing is ordered when a line has no supplier; the error names the line."""
    sb = fresh_sandbox
    supplier = _active(sb, "suppliers")[0]["id"]
    created = _create(sb, client, suppliers=[supplier, None])
    sb.approve(created["id"])
    pos_before = sb.count("purchase_orders")
    resp = _control(sb, f"requisitions/{created['id']}/order")
    assert resp.status_code == 409
    assert resp.json() == {
        "error": f"requisition {created['id']} cannot be ordered: line 2 has no supplier"
    }
    assert sb.count("purchase_orders") == pos_before
    got = client.ok(f"/api/requisitions/{created['id']}")
    assert got["status"] == "approved"
    assert all(ln["order-line-id"] is None for ln in got["requisition-lines"])


# -- receiving ------------------------------------------------------------------


def test_receive_partially_then_fully(fresh_sandbox: SandboxHandle, client: Any) -> None:
    """Half, then all: PO lines' received and status, POs closed, the requisition received."""
    sb = fresh_sandbox
    created = _create(sb, client, suppliers=_two_suppliers(sb))
    sb.approve(created["id"])
    sb.order(created["id"])
    half = sb.receive(created["id"], share=0.5)
    assert half["requisition"]["status"] == "partially_received"
    assert {ln["status"] for ln in half["requisition"]["requisition-lines"]} == {
        "partially_received"
    }
    for po in half["purchase_orders"]:
        assert po["status"] == "issued"
        assert po["internal-revision"] == 2
        for pol in po["order-lines"]:
            full = float(pol["total"]) if pol["type"] == "OrderAmountLine" else pol["quantity"]
            assert pol["received"] == pytest.approx(full / 2)
            assert pol["status"] == "partially_received"
    _valid_answer(half)
    # The same share again receives nothing more: refused.
    resp = _control(sb, f"requisitions/{created['id']}/receive", {"share": 0.5})
    assert resp.status_code == 409
    assert "already has at least 50%" in resp.json()["error"]
    for bad in (0, 1.5, "half", True):
        resp = _control(sb, f"requisitions/{created['id']}/receive", {"share": bad})
        assert resp.status_code == 400, bad
    full = sb.receive(created["id"])
    assert full["requisition"]["status"] == "received"
    for po in full["purchase_orders"]:
        assert po["status"] == "closed"
        for pol in po["order-lines"]:
            assert pol["status"] == "received"
            expected = float(pol["total"]) if pol["type"] == "OrderAmountLine" else pol["quantity"]
            assert pol["received"] == expected
    assert client.ok(f"/api/requisitions/{created['id']}") == full["requisition"]
    _valid_answer(full)
    assert _control(sb, f"requisitions/{created['id']}/receive").status_code == 409


def test_receive_skips_purchase_orders_that_are_not_issued(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    """A held PO takes no receipts; once none is issued, receiving is refused."""
    sb = fresh_sandbox
    created = _create(sb, client, suppliers=_two_suppliers(sb))
    sb.approve(created["id"])
    first, second = sb.order(created["id"])["purchase_orders"]
    sb.po_action(second["id"], "hold")
    answer = sb.receive(created["id"])
    by_id = {po["id"]: po for po in answer["purchase_orders"]}
    assert by_id[first["id"]]["status"] == "closed"
    assert by_id[second["id"]]["status"] == "buyer_hold"
    assert {p["received"] for p in by_id[second["id"]]["order-lines"]} == {0.0}
    assert answer["requisition"]["status"] == "partially_received"
    resp = _control(sb, f"requisitions/{created['id']}/receive")
    assert resp.status_code == 409
    assert "no issued purchase order" in resp.json()["error"]
    sb.po_action(second["id"], "cancel")
    # Cancelled POs do not count; nothing is left to receive against.
    assert _control(sb, f"requisitions/{created['id']}/receive").status_code == 409


# -- purchase orders -------------------------------------------------------------


def test_purchase_order_actions_follow_coupa_statuses(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    """hold, release, close, reopen, cancel: statuses from the enum, revisions and updated-at move."""
    sb = fresh_sandbox
    po = next(
        p
        for p in sb.records("purchase_orders")
        if p["status"] == "issued" and not any(ln["received"] for ln in p["order-lines"])
    )
    steps = [
        ("hold", "buyer_hold"),
        ("release", "issued"),
        ("buyer_hold", "buyer_hold"),
        ("release_from_buyer_hold", "issued"),
        ("close", "closed"),
        ("reopen", "issued"),
    ]
    revision = po["internal-revision"]
    for action, status in steps:
        got = sb.po_action(po["id"], action)
        revision += 1
        assert (got["status"], got["internal-revision"]) == (status, revision), action
        assert got["updated-at"] > po["updated-at"]
        assert got["version"] == po["version"]
        _valid("purchase_orders", got)
    assert client.ok(f"/api/purchase_orders/{po['id']}") == got
    for action, needs in (("reopen", "closed"), ("release", "buyer_hold")):
        resp = _control(sb, f"purchase_orders/{po['id']}/{action}")
        assert resp.status_code == 409
        assert resp.json()["error"].startswith(f"purchase order {po['id']} is issued;")
        assert needs in resp.json()["error"]
    resp = _control(sb, f"purchase_orders/{po['id']}/explode")
    assert resp.status_code == 400
    cancelled = sb.po_action(po["id"], "cancel")
    assert cancelled["status"] == "cancelled"
    for action in ("issue", "close", "reopen", "cancel", "hold"):
        assert _control(sb, f"purchase_orders/{po['id']}/{action}").status_code == 409


def test_a_purchase_order_with_receipts_cannot_be_cancelled(
    fresh_sandbox: SandboxHandle,
) -> None:
    sb = fresh_sandbox
    req = _with_status(sb, "partially_received")
    po = next(
        p
        for p in sb.records("purchase_orders")
        if p["requisition-header"]["id"] == req["id"] and p["status"] == "issued"
    )
    resp = _control(sb, f"purchase_orders/{po['id']}/cancel")
    assert resp.status_code == 409
    assert "has receipts" in resp.json()["error"]
    assert sb.record("purchase_orders", po["id"])["status"] == "issued"


# -- incremental polling ---------------------------------------------------------


def _since(client: Any, resource: str, since: str) -> list[int]:
    return [r["id"] for r in client.walk(resource, {"updated-at[gt_or_eq]": since})]


def test_status_changes_are_seen_by_updated_at_polling(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    """Each change moves updated-at on the requisition, its lines and the affected POs and PO lines."""
    sb = fresh_sandbox
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    # Generated data lies before the anchor date: nothing has changed since now.
    for resource in DEFINITIONS:
        assert _since(client, resource, since) == []
    req = _with_status(sb, "approved")
    answer = sb.order(req["id"])
    po_ids = [po["id"] for po in answer["purchase_orders"]]
    pol_ids = [pol["id"] for po in answer["purchase_orders"] for pol in po["order-lines"]]
    assert _since(client, "requisitions", since) == [req["id"]]
    assert _since(client, "requisition_lines", since) == [
        ln["id"] for ln in req["requisition-lines"]
    ]
    assert _since(client, "purchase_orders", since) == po_ids
    assert _since(client, "purchase_order_lines", since) == pol_ids
    assert answer["requisition"]["updated-by"]["id"] == 1
    other = next(p for p in sb.records("purchase_orders") if p["status"] == "closed")
    sb.po_action(other["id"], "reopen")
    assert _since(client, "purchase_orders", since) == sorted([*po_ids, other["id"]])
    # A PO action leaves the requisition and PO lines alone.
    assert _since(client, "requisitions", since) == [req["id"]]
    assert _since(client, "purchase_order_lines", since) == pol_ids


def test_generated_data_is_unchanged_by_the_lifecycle_code(fresh_sandbox: SandboxHandle) -> None:
    """Generated POs still follow from the seed: one per supplier, received per status."""
    sb = fresh_sandbox
    reqs = {r["id"]: r for r in sb.records("requisitions")}
    orders = sb.records("purchase_orders")
    assert [po["id"] for po in orders] == list(range(1, len(orders) + 1))
    for po in orders:
        req = reqs[po["requisition-header"]["id"]]
        assert po["status"] == ("closed" if req["status"] == "received" else "issued")
    with running_sandbox(
        seed=7, anchor_date=ANCHOR_DATE, rate=0, accounts=120, suppliers=80, items=150
    ) as other:
        for resource in DEFINITIONS:
            assert other.records(resource) == sb.records(resource), resource


# -- auto-pilot -----------------------------------------------------------------


@pytest.fixture(scope="module")
def _piloted_process() -> Iterator[SandboxHandle]:
    with running_sandbox(
        seed=7,
        anchor_date=ANCHOR_DATE,
        rate=0,
        accounts=60,
        suppliers=40,
        items=60,
        requisitions=30,
        manual_clock=True,
        autopilot="approve=30,order=60,receive=300",
    ) as sb:
        yield sb


@pytest.fixture
def piloted(_piloted_process: SandboxHandle) -> SandboxHandle:
    """A sandbox on the manual clock with the auto-pilot on, reset before each test."""
    _piloted_process.reset(tokens=True)
    return _piloted_process


@pytest.fixture
def piloted_api(piloted: SandboxHandle, make_api: Any) -> Iterator[Any]:
    api = make_api(piloted)
    yield api
    api.close()


def _status(api: Any, req_id: int) -> str:
    status: str = api.ok(f"/api/requisitions/{req_id}")["status"]
    return status


def test_autopilot_moves_a_submitted_requisition_along(
    piloted: SandboxHandle, piloted_api: Any
) -> None:
    """approve 30 s after submission, order 60 s later, receive 300 s after that."""
    sb, api = piloted, piloted_api
    generated = sb.records("requisitions")
    created = _create(sb, api, suppliers=_two_suppliers(sb))
    assert _status(api, created["id"]) == "pending_approval"  # seen at this clock reading
    sb.advance_clock(29)
    assert _status(api, created["id"]) == "pending_approval"
    sb.advance_clock(1)
    assert _status(api, created["id"]) == "approved"
    sb.advance_clock(59)
    assert _status(api, created["id"]) == "approved"
    sb.advance_clock(1)
    got = api.ok(f"/api/requisitions/{created['id']}")
    assert got["status"] == "ordered"
    orders = api.ok("/api/purchase_orders", {"requisition-header[id]": str(created["id"])})
    assert len(orders) == 2
    sb.advance_clock(300)
    got = api.ok(f"/api/requisitions/{created['id']}")
    assert got["status"] == "received"
    orders = api.ok("/api/purchase_orders", {"requisition-header[id]": str(created["id"])})
    assert {po["status"] for po in orders} == {"closed"}
    _valid("requisitions", got)
    _valid("purchase_orders", *orders)
    status = sb.autopilot()
    assert status["applied"] == {"approve": 1, "order": 1, "receive": 1}
    assert [e["step"] for e in status["recent"]] == ["approve", "order", "receive"]
    # Requisitions generated at start are left alone.
    assert sb.records("requisitions")[: len(generated)] == generated


def test_autopilot_applies_a_whole_chain_after_one_clock_jump(
    piloted: SandboxHandle, piloted_api: Any
) -> None:
    sb, api = piloted, piloted_api
    created = [_create(sb, api, suppliers=_two_suppliers(sb)) for _ in range(3)]
    draft = _create(sb, api, suppliers=_two_suppliers(sb), submit=False)
    seen_at = sb.run_autopilot()["now"]  # the auto-pilot sees them now
    sb.advance_clock(1000)
    done = sb.run_autopilot()["done"]
    assert [(e["requisition"], e["step"]) for e in done] == [
        (r["id"], step) for r in created for step in ("approve", "order", "receive")
    ]
    # Each delay counts from the moment the step before fell due.
    assert [e["at"] - seen_at for e in done[:3]] == [30.0, 90.0, 390.0]
    assert {_status(api, r["id"]) for r in created} == {"received"}
    assert _status(api, draft["id"]) == "draft"
    assert sb.autopilot()["watching"] == 1  # the draft; received ones are done


def test_autopilot_steps_left_out_do_not_happen_and_can_change_at_runtime(
    piloted: SandboxHandle, piloted_api: Any
) -> None:
    sb, api = piloted, piloted_api
    status = sb.autopilot(order=None, receive=None)
    assert status["steps"] == {"approve": 30.0}
    created = _create(sb, api, suppliers=_two_suppliers(sb))
    sb.run_autopilot()
    sb.advance_clock(10_000)
    assert _status(api, created["id"]) == "approved"
    sb.advance_clock(10_000)
    assert _status(api, created["id"]) == "approved"
    # Switched on at runtime, ordering counts from when the approval was seen: due at once.
    sb.autopilot(order=5)
    assert _status(api, created["id"]) == "ordered"
    resp = _control(sb, "autopilot", {"bogus": 1})
    assert resp.status_code == 400
    assert _control(sb, "autopilot", {"approve": -1}).status_code == 400
    assert sb.autopilot()["steps"] == {"approve": 30.0, "order": 5.0}
    assert _control(sb, "autopilot", {"clear": True}).json()["steps"] == {}
    # reset restores the steps given at start.
    sb.reset()
    assert sb.autopilot()["steps"] == {"approve": 30.0, "order": 60.0, "receive": 300.0}


def test_autopilot_follows_manual_steps_and_reports_refusals(
    piloted: SandboxHandle, piloted_api: Any
) -> None:
    """A hand approval starts the order delay; a line without supplier is refused, counted once."""
    sb, api = piloted, piloted_api
    by_hand = _create(sb, api, suppliers=_two_suppliers(sb))
    no_supplier = _create(sb, api, suppliers=[_active(sb, "suppliers")[0]["id"], None])
    sb.approve(by_hand["id"])
    sb.advance_clock(30)  # no_supplier falls due for approval
    assert _status(api, no_supplier["id"]) == "approved"
    sb.advance_clock(30)
    assert _status(api, by_hand["id"]) == "ordered"  # 60 s after the hand approval
    sb.advance_clock(60)
    for _ in range(3):
        sb.run_autopilot()
    assert _status(api, no_supplier["id"]) == "approved"
    status = sb.autopilot()
    assert status["failed"] == {"approve": 0, "order": 1, "receive": 0}
    assert status["applied"] == {"approve": 1, "order": 1, "receive": 0}
    assert "line 2 has no supplier" in status["recent"][-1]["error"]


def test_autopilot_option_is_checked(tmp_path: Any) -> None:
    """An unknown step or a bad number stops the sandbox at start with a message."""
    from coupa.sandbox.testing import SandboxStartError

    with (
        pytest.raises(SandboxStartError, match="unknown autopilot step 'ship'"),
        running_sandbox(autopilot="ship=3", startup_timeout=20),
    ):
        pass


# -- pages ----------------------------------------------------------------------


def _page(sb: SandboxHandle, path: str) -> httpx.Response:
    return httpx.get(f"{sb.base_url}{path}")


def _buttons(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="/[a-z_]+/\d+/([a-z_]+)"', html)


def test_requisition_page_shows_the_requisition_and_its_actions(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    sb = fresh_sandbox
    created = _create(sb, client, suppliers=_two_suppliers(sb), title="Desks <for> R&D")
    sb.reset_stats()
    resp = _page(sb, f"/requisition_headers/{created['id']}")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    text = resp.text
    assert f"Requisition {created['id']}: Desks &lt;for&gt; R&amp;D" in text
    assert "<for>" not in text
    assert created["requested-by"]["login"] in text
    assert "pending_approval" in text
    assert f"{created['total']} USD" in text
    for line in created["requisition-lines"]:
        assert line["description"] in text
        assert line["supplier"]["name"] in text
    assert _buttons(text) == ["approve", "reject", "withdraw"]
    assert "Not ordered yet." in text
    # Pages are not counted, limited or faulted, and need no token.
    assert sb.stats()["total"] == 0


def test_page_buttons_drive_the_lifecycle(fresh_sandbox: SandboxHandle, client: Any) -> None:
    """Approve, order, receive half, then close a PO by hand, following the redirects."""
    sb = fresh_sandbox
    created = _create(sb, client, suppliers=_two_suppliers(sb))
    base = f"{sb.base_url}/requisition_headers/{created['id']}"
    with httpx.Client(follow_redirects=False) as browser:
        resp = browser.post(f"{base}/approve")
        assert resp.status_code == 303
        assert resp.headers["location"] == f"/requisition_headers/{created['id']}"
        page = browser.get(base).text
        assert _buttons(page) == ["withdraw", "order"]
        browser.post(f"{base}/order")
        page = browser.get(base).text
        assert _buttons(page) == ["receive", "receive"]
        po_ids = [int(i) for i in re.findall(r'<a href="/order_headers/(\d+)">', page)]
        assert len(set(po_ids)) == 2
        browser.post(f"{base}/receive", data={"share": "0.5"})
        # An action the status does not allow shows the page with the error.
        resp = browser.post(f"{base}/approve")
        assert resp.status_code == 409
        assert "is partially_received; only pending_approval" in resp.text
        po_page = browser.get(f"{sb.base_url}/order_headers/{po_ids[0]}")
        assert po_page.status_code == 200
        assert f'href="/requisition_headers/{created["id"]}"' in po_page.text
        # Received in part: it can be closed or held, no longer cancelled.
        assert _buttons(po_page.text) == ["close", "buyer_hold"]
        resp = browser.post(f"{sb.base_url}/order_headers/{po_ids[0]}/close")
        assert resp.status_code == 303
        resp = browser.post(f"{sb.base_url}/order_headers/{po_ids[0]}/cancel")
        assert resp.status_code == 409
        assert "closed; cancel needs" in resp.text
    got = client.ok(f"/api/requisitions/{created['id']}")
    assert got["status"] == "partially_received"
    po = client.ok(f"/api/purchase_orders/{po_ids[0]}")
    assert po["status"] == "closed"
    _valid("requisitions", got)
    _valid("purchase_orders", po)


def test_reject_button_needs_a_reason(fresh_sandbox: SandboxHandle, client: Any) -> None:
    sb = fresh_sandbox
    created = _create(sb, client, suppliers=_two_suppliers(sb))
    base = f"{sb.base_url}/requisition_headers/{created['id']}"
    resp = httpx.post(f"{base}/reject", data={"comment": ""})
    assert resp.status_code == 400
    assert "needs a comment" in resp.text
    resp = httpx.post(f"{base}/reject", data={"comment": "Wrong <supplier>"})
    assert resp.status_code == 303
    page = _page(sb, f"/requisition_headers/{created['id']}").text
    assert "Wrong &lt;supplier&gt;" in page
    assert client.ok(f"/api/requisitions/{created['id']}")["reject-reason-comment"] == (
        "Wrong <supplier>"
    )


def test_purchase_order_page_shows_lines_and_supplier(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    sb = fresh_sandbox
    po = next(p for p in sb.records("purchase_orders") if p["status"] == "closed")
    text = _page(sb, f"/order_headers/{po['id']}").text
    assert f"Purchase order {po['po-number']}" in text
    assert po["supplier"]["name"] in text
    assert f'href="/requisition_headers/{po["requisition-header"]["id"]}"' in text
    for line in po["order-lines"]:
        assert line["description"] in text
    assert _buttons(text) == ["reopen"]


def test_pages_answer_404_for_unknown_documents(fresh_sandbox: SandboxHandle) -> None:
    for path in ("/requisition_headers/99999", "/order_headers/99999", "/order_headers/x"):
        resp = _page(fresh_sandbox, path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"].startswith("text/html")
        assert "Not found" in resp.text
    resp = httpx.post(f"{fresh_sandbox.base_url}/requisition_headers/99999/approve")
    assert resp.status_code == 404


def test_home_page_lists_recent_requisitions_and_orders(
    fresh_sandbox: SandboxHandle, client: Any
) -> None:
    sb = fresh_sandbox
    created = _create(sb, client, suppliers=_two_suppliers(sb), title="Newest requisition")
    text = _page(sb, "/").text
    assert f'<a href="/requisition_headers/{created["id"]}">' in text
    assert "Newest requisition" in text
    requisitions, orders = text.split("<h2>Requisitions</h2>")[1].split("<h2>Purchase orders</h2>")
    reqs = re.findall(r'<a href="/requisition_headers/(\d+)">\d+</a>', requisitions)
    assert len(reqs) == 20
    assert int(reqs[0]) == created["id"]  # most recently updated first
    assert len(re.findall(r'<a href="/order_headers/(\d+)">', orders.split("<h2>")[0])) == 20

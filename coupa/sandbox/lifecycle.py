"""The requisition and purchase-order lifecycle: store-level status changes.

Requisitions (coupa-api.md 6.4) are approved, rejected, withdrawn, ordered into purchase
orders and received; purchase orders (coupa-api.md 7) are issued, closed, cancelled,
reopened, put on buyer hold and released. Every function takes the `Store`, changes the
records in place, and raises `LifecycleError` when the document's status does not allow
the change, e.g. "requisition 12 is ordered; only pending_approval or
pending_buyer_action can be approved".

Coupa's requisition statuses have no `rejected`: a rejected requisition goes back to its
requester as a `draft`, with the approver's reason in `reject-reason-comment` (an
output field of the header, coupa-api.md 6.3) and `submitted-at` cleared, as on any draft.

Each change sets `updated-at` to now and `updated-by` to the API user on every record it
touches (the requisition and its lines, the affected purchase orders and PO lines), so
incremental polling with `updated-at[gt_or_eq]=` sees it; a touched purchase order also
bumps `internal-revision`. Requisition lines repeat their header's status, as generated
ones do. Cached JSON of the touched records is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from coupa.sandbox import generator
from coupa.sandbox.render import utc_now
from coupa.sandbox.store import Record, Store

#: Requisition statuses each action starts from (coupa-api.md 6.4).
APPROVABLE = ("pending_approval", "pending_buyer_action")
WITHDRAWABLE = ("draft", "pending_approval", "pending_buyer_action", "approved")
ORDERABLE = ("approved",)
RECEIVABLE = ("ordered", "partially_received")
REQUISITION_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "approve": APPROVABLE,
    "reject": APPROVABLE,
    "withdraw": WITHDRAWABLE,
    "order": ORDERABLE,
    "receive": RECEIVABLE,
}

_PAST = {
    "approve": "approved",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "order": "ordered",
    "receive": "received against",
}

#: Purchase-order actions (named as Coupa's PUT actions, coupa-api.md 7): the statuses
#: each starts from and the status it leads to, all from the R39 `OrderHeader` enum.
_HOLDS = ("buyer_hold", "supplier_hold", "supplier_window_hold", "currency_hold")
PURCHASE_ORDER_ACTIONS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "issue": (("draft", "error", *_HOLDS), "issued"),
    "close": (("issued",), "closed"),
    "cancel": (("draft", "issued", "error", *_HOLDS), "cancelled"),
    "reopen": (("closed",), "issued"),
    "buyer_hold": (("draft", "issued"), "buyer_hold"),
    "release_from_buyer_hold": (("buyer_hold",), "issued"),
}
#: Short names the control API and the pages also accept.
PURCHASE_ORDER_ALIASES: Mapping[str, str] = {
    "hold": "buyer_hold",
    "release": "release_from_buyer_hold",
}


class LifecycleError(ValueError):
    """A status change the document's current status does not allow (HTTP 409)."""

    status = 409


class DocumentNotFoundError(LifecycleError):
    """No requisition or purchase order with that id (HTTP 404)."""

    status = 404


class LifecycleArgumentError(LifecycleError):
    """The change was asked for with an unusable argument (HTTP 400)."""

    status = 400


def _either(statuses: Iterable[str]) -> str:
    names = list(statuses)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def requisition_get(store: Store, req_id: int) -> Record:
    """Return requisition `req_id`; raise DocumentNotFoundError."""
    rec = store.lookup("requisitions", req_id)
    if rec is None:
        raise DocumentNotFoundError(f"requisition {req_id} not found")
    return rec


def purchase_order_get(store: Store, po_id: int) -> Record:
    """Return purchase order `po_id`; raise DocumentNotFoundError."""
    rec = store.lookup("purchase_orders", po_id)
    if rec is None:
        raise DocumentNotFoundError(f"purchase order {po_id} not found")
    return rec


def _check(req: Record, action: str) -> None:
    allowed = REQUISITION_ACTIONS[action]
    if req["status"] not in allowed:
        raise LifecycleError(
            f"requisition {req['id']} is {req['status']}; only {_either(allowed)} can be {_PAST[action]}"
        )


def requisition_lines(store: Store, req: Record) -> list[Record]:
    """Return the lines of requisition `req`, in line order."""
    coll = store.collection("requisition_lines")
    return [coll.records[i] for i in req.get("requisition-lines") or () if i in coll.records]


def _touch(rec: Record, now: int) -> None:
    rec["updated-at"] = now
    rec["updated-by"] = generator.API_USER_ID


def _set_status(store: Store, req: Record, status: str, now: int) -> None:
    """Give the requisition and its lines `status`; touch them; drop their cached JSON."""
    req["status"] = status
    _touch(req, now)
    line_ids = []
    for line in requisition_lines(store, req):
        line["status"] = status
        _touch(line, now)
        line_ids.append(line["id"])
    store.renderer.invalidate("requisition_lines", line_ids)
    store.renderer.invalidate("requisitions", [req["id"]])


def _touch_order(store: Store, po: Record, now: int) -> None:
    _touch(po, now)
    po["internal-revision"] = int(po.get("internal-revision") or 0) + 1
    store.renderer.invalidate("purchase_orders", [po["id"]])


# -- reading ---------------------------------------------------------------


def requisition_purchase_orders(store: Store, req: Record) -> list[Record]:
    """Return the purchase orders ordering `req` made, by id (through its lines' links)."""
    pol = store.collection("purchase_order_lines").records
    ids: set[int] = set()
    for line in requisition_lines(store, req):
        order_line = pol.get(line.get("order-line-id") or 0)
        if order_line is not None:
            ids.add(order_line["order-header-id"])
    orders = (store.lookup("purchase_orders", i) for i in sorted(ids))
    return [po for po in orders if po is not None]


def purchase_order_lines(store: Store, po: Record) -> list[Record]:
    """Return the lines of purchase order `po`, in line order."""
    coll = store.collection("purchase_order_lines")
    return [coll.records[i] for i in po.get("order-lines") or () if i in coll.records]


def requisition_actions(req: Record) -> list[str]:
    """Return the actions `req`'s status allows, in lifecycle order."""
    return [a for a, allowed in REQUISITION_ACTIONS.items() if req["status"] in allowed]


def purchase_order_actions(store: Store, po: Record) -> list[str]:
    """Return the actions `po` allows (Coupa's action names): by status, and no cancel
    once anything is received."""
    actions = [a for a, (allowed, _) in PURCHASE_ORDER_ACTIONS.items() if po["status"] in allowed]
    if "cancel" in actions and _has_receipts(store, po):
        actions.remove("cancel")
    return actions


def _has_receipts(store: Store, po: Record) -> bool:
    return any(float(line.get("received") or 0.0) > 0 for line in purchase_order_lines(store, po))


# -- requisitions ------------------------------------------------------------


def requisition_approve(store: Store, req_id: int, *, now: int | None = None) -> Record:
    """Approve a requisition waiting for approval or a buyer: it becomes `approved`."""
    req = requisition_get(store, req_id)
    _check(req, "approve")
    _set_status(store, req, "approved", utc_now() if now is None else now)
    return req


def requisition_reject(
    store: Store, req_id: int, *, comment: str | None, now: int | None = None
) -> Record:
    """Reject a requisition waiting for approval or a buyer, with a reason.

    Coupa has no `rejected` status: the requisition goes back to its requester as a
    `draft`, `reject-reason-comment` holds the reason and `submitted-at` is cleared.
    """
    if not isinstance(comment, str) or not comment.strip():
        raise LifecycleArgumentError("a rejection needs a comment (the reason)")
    req = requisition_get(store, req_id)
    _check(req, "reject")
    req["reject-reason-comment"] = comment.strip()
    req["submitted-at"] = None
    _set_status(store, req, "draft", utc_now() if now is None else now)
    return req


def requisition_withdraw(store: Store, req_id: int, *, now: int | None = None) -> Record:
    """Withdraw a requisition that has not been ordered: it becomes `withdrawn`."""
    req = requisition_get(store, req_id)
    _check(req, "withdraw")
    _set_status(store, req, "withdrawn", utc_now() if now is None else now)
    return req


def requisition_order(store: Store, req_id: int, *, now: int | None = None) -> list[Record]:
    """Order an approved requisition: one purchase order per supplier of its lines.

    The requisition and its lines become `ordered`; the new purchase orders are `issued`
    with nothing received, linked both ways exactly as generated ones are
    (`generator.build_orders`). A line without a supplier cannot be ordered, and then
    nothing is. Returns the new purchase orders.
    """
    req = requisition_get(store, req_id)
    _check(req, "order")
    lines = requisition_lines(store, req)
    if not lines:
        raise LifecycleError(f"requisition {req_id} has no lines to order")
    missing = [str(line["line-num"]) for line in lines if line.get("supplier") is None]
    if missing:
        which = "line " if len(missing) == 1 else "lines "
        raise LifecycleError(
            f"requisition {req_id} cannot be ordered: {which}{_either(missing)} "
            f"{'has' if len(missing) == 1 else 'have'} no supplier"
        )
    at = utc_now() if now is None else now
    _set_status(store, req, "ordered", at)
    po_coll = store.collection("purchase_orders")
    pol_coll = store.collection("purchase_order_lines")
    orders, order_lines = generator.build_orders(
        req,
        lines,
        ordered_at=at,
        first_po_id=po_coll.next_id(),
        first_line_id=pol_coll.next_id(),
    )
    for rec in order_lines:
        pol_coll.add(rec)
    for rec in orders:
        po_coll.add(rec)
    store.renderer.invalidate("purchase_order_lines", [r["id"] for r in order_lines])
    store.renderer.invalidate("purchase_orders", [r["id"] for r in orders])
    # The lines' new order-line-id links.
    store.renderer.invalidate("requisition_lines", [line["id"] for line in lines])
    return orders


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LifecycleArgumentError("share must be a number above 0 and at most 1")
    share = float(value)
    if not 0 < share <= 1:
        raise LifecycleArgumentError("share must be a number above 0 and at most 1")
    return share


def requisition_receive(
    store: Store, req_id: int, *, share: float = 1.0, now: int | None = None
) -> Record:
    """Record receipts for an ordered requisition: `share` of each PO line, 1 = in full.

    `received` on each line of the requisition's issued purchase orders rises to `share`
    of its quantity (its amount on amount lines) and never falls; a line's status becomes
    `partially_received` or `received`, a purchase order whose lines are all received is
    `closed`. The requisition becomes `received` once every line of its purchase orders
    that are not cancelled is received in full, else `partially_received`. Purchase
    orders that are not issued (on hold, closed, cancelled) take no receipts.
    """
    part = _share(share)
    req = requisition_get(store, req_id)
    _check(req, "receive")
    orders = requisition_purchase_orders(store, req)
    open_orders = [po for po in orders if po["status"] == "issued"]
    if not open_orders:
        statuses = ", ".join(f"{po['id']} {po['status']}" for po in orders) or "none"
        raise LifecycleError(
            f"requisition {req_id} has no issued purchase order to receive against "
            f"(purchase orders: {statuses})"
        )
    at = utc_now() if now is None else now
    changed_lines: list[int] = []
    for po in open_orders:
        po_changed = False
        for line in purchase_order_lines(store, po):
            full = generator.order_line_quantity(line)
            target = full if part >= 1 else round(full * part, 6)
            if target > float(line.get("received") or 0.0):
                line["received"] = target
                line["status"] = "received" if target >= full else "partially_received"
                _touch(line, at)
                changed_lines.append(line["id"])
                po_changed = True
        if po_changed:
            if all(
                float(line.get("received") or 0.0) >= generator.order_line_quantity(line)
                for line in purchase_order_lines(store, po)
            ):
                po["status"] = "closed"
            _touch_order(store, po, at)
    if not changed_lines:
        raise LifecycleError(
            f"requisition {req_id} already has at least {part:.0%} of every line received"
        )
    store.renderer.invalidate("purchase_order_lines", changed_lines)
    lines = [
        line
        for po in orders
        if po["status"] != "cancelled"
        for line in purchase_order_lines(store, po)
    ]
    fully = all(
        float(ln.get("received") or 0.0) >= generator.order_line_quantity(ln) for ln in lines
    )
    _set_status(store, req, "received" if fully else "partially_received", at)
    return req


# -- purchase orders ---------------------------------------------------------


def purchase_order_action(
    store: Store, po_id: int, action: str, *, now: int | None = None
) -> Record:
    """Apply a purchase-order action (`issue`, `close`, `cancel`, `reopen`, `buyer_hold`,
    `release_from_buyer_hold`, or the short `hold`/`release`) and return the order.

    A purchase order with anything received cannot be cancelled (close it instead).
    The requisition is left as it is.
    """
    name = PURCHASE_ORDER_ALIASES.get(action, action)
    rule = PURCHASE_ORDER_ACTIONS.get(name)
    if rule is None:
        raise LifecycleArgumentError(
            f"unknown purchase order action {action!r}; one of {_either(PURCHASE_ORDER_ACTIONS)}"
        )
    allowed, target = rule
    po = purchase_order_get(store, po_id)
    if po["status"] not in allowed:
        raise LifecycleError(
            f"purchase order {po_id} is {po['status']}; {name} needs {_either(allowed)}"
        )
    if name == "cancel" and _has_receipts(store, po):
        raise LifecycleError(
            f"purchase order {po_id} has receipts and cannot be cancelled; close it instead"
        )
    po["status"] = target
    _touch_order(store, po, utc_now() if now is None else now)
    return po

"""Read-only HTML pages of requisitions and purchase orders, with lifecycle buttons.

The product links to `/requisition_headers/{id}` and `/order_headers/{id}` (coupa-api.md
8), so the sandbox serves them: plain server-rendered, escaped HTML. Each page has a
button (a form POSTing to `/requisition_headers/{id}/{action}` or
`/order_headers/{id}/{action}`) for every action the document's status allows; the
action goes through the lifecycle and the browser is sent back to the page. Like the
status page they need no token and are neither limited, faulted nor counted.
"""

from __future__ import annotations

import heapq
import html
import urllib.parse
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from coupa.sandbox import lifecycle
from coupa.sandbox.store import Record, Store

if TYPE_CHECKING:
    from coupa.sandbox.state import SandboxState

#: Paths the pages live under (the app leaves them out of limits, faults and stats).
PAGE_PREFIXES = ("/requisition_headers/", "/order_headers/")
#: Documents listed on the home page, most recently updated first.
RECENT = 20

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5rem}"
    "td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;font-size:.9rem}"
    "th{background:#f3f3f3}td.num{text-align:right}"
    "a{color:#0b5cad}.status{display:inline-block;padding:.1rem .5rem;border-radius:.8rem;"
    "background:#e8eef7;font-size:.85rem;font-weight:600;vertical-align:middle}"
    ".actions{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;margin:1rem 0 1.5rem}"
    ".actions form{margin:0;display:flex;gap:.3rem}"
    "button{font:inherit;font-size:.9rem;padding:.3rem .8rem;border:1px solid #0b5cad;"
    "border-radius:.3rem;background:#0b5cad;color:#fff;cursor:pointer}"
    "button.secondary{background:#fff;color:#0b5cad}"
    "input[type=text]{font:inherit;font-size:.9rem;padding:.25rem .4rem;width:16rem}"
    ".error{border:1px solid #c33;background:#fdeeee;color:#900;padding:.5rem .8rem;"
    "border-radius:.3rem;max-width:50rem}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;font-size:.95rem}"
    "dt{color:#666}dd{margin:0}"
)

#: Button labels; actions left out of a page's list have no button there.
REQUISITION_BUTTONS = {
    "approve": "Approve",
    "reject": "Reject",
    "withdraw": "Withdraw",
    "order": "Order",
    "receive": "Receive",
}
PURCHASE_ORDER_BUTTONS = {
    "issue": "Issue",
    "close": "Close",
    "cancel": "Cancel",
    "reopen": "Reopen",
    "buyer_hold": "Buyer hold",
    "release_from_buyer_hold": "Release from buyer hold",
}

esc = html.escape


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} - Coupa sandbox</title><style>{STYLE}</style></head>\n"
        f'<body><p><a href="/">Coupa sandbox</a></p>\n{body}\n</body></html>'
    )
    return HTMLResponse(text, status_code=status)


def _not_found(what: str) -> HTMLResponse:
    return _page(
        "Not found",
        f"<h1>Not found</h1><p>{esc(what)} does not exist on this instance.</p>",
        404,
    )


def _time(store: Store, epoch: Any) -> str:
    if not isinstance(epoch, int):
        return "&ndash;"
    text = store.renderer.format_time(epoch)  # 2024-03-01T10:15:00-08:00
    return esc(f"{text[:10]} {text[11:19]} {text[19:]}")


def _user(store: Store, user_id: Any) -> str:
    user = store.lookup("users", user_id) if isinstance(user_id, int) else None
    if user is None:
        return "&ndash;"
    name = user.get("fullname") or f"{user.get('firstname', '')} {user.get('lastname', '')}"
    return f"{esc(name.strip())} <small>({esc(str(user.get('login')))})</small>"


def _name(store: Store, resource: str, rec_id: Any, field: str = "name") -> str:
    rec = store.lookup(resource, rec_id) if isinstance(rec_id, int) else None
    return esc(str(rec.get(field) or "")) if rec is not None else "&ndash;"


def _money(store: Store, amount: Any, currency_id: Any) -> str:
    if amount is None:
        return "&ndash;"
    return f"{esc(str(amount))} {_name(store, 'currencies', currency_id, 'code')}"


def _number(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return esc(str(value))


def _status(value: Any) -> str:
    return f'<span class="status">{esc(str(value))}</span>'


def _table(headers: Iterable[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f"<p>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>{body}</table>"


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{esc(message)}</p>' if message else ""


def _sum(values: Iterable[Any]) -> str:
    total = Decimal(0)
    for value in values:
        try:
            total += Decimal(str(value))
        except InvalidOperation:
            continue
    return str(total.quantize(Decimal("0.01")))


# -- requisitions ------------------------------------------------------------


def _requisition_buttons(req: Record) -> str:
    base = f"/requisition_headers/{req['id']}"
    forms = []
    for action in lifecycle.requisition_actions(req):
        label = REQUISITION_BUTTONS[action]
        if action == "reject":
            forms.append(
                f'<form method="post" action="{base}/reject">'
                '<input type="text" name="comment" required placeholder="Reason for rejecting" '
                'aria-label="Reason for rejecting">'
                f'<button type="submit" class="secondary">{label}</button></form>'
            )
        elif action == "receive":
            forms.append(
                f'<form method="post" action="{base}/receive"><input type="hidden" name="share" '
                'value="0.5"><button type="submit" class="secondary">Receive half</button></form>'
                f'<form method="post" action="{base}/receive"><input type="hidden" name="share" '
                'value="1"><button type="submit">Receive all</button></form>'
            )
        else:
            cls = ' class="secondary"' if action == "withdraw" else ""
            forms.append(
                f'<form method="post" action="{base}/{action}">'
                f'<button type="submit"{cls}>{label}</button></form>'
            )
    if not forms:
        return "<p><em>No actions in this status.</em></p>"
    return '<div class="actions">' + "".join(forms) + "</div>"


def render_requisition(state: SandboxState, req: Record, error: str | None = None) -> str:
    """Return the body of a requisition's page."""
    store = state.store
    lines = lifecycle.requisition_lines(store, req)
    pol = store.collection("purchase_order_lines").records
    rows = []
    for line in lines:
        order_line = pol.get(line.get("order-line-id") or 0)
        link = (
            f'<a href="/order_headers/{order_line["order-header-id"]}">'
            f"PO {esc(str(order_line['order-header-number']))} line {order_line['line-num']}</a>"
            if order_line is not None
            else "&ndash;"
        )
        rows.append(
            f"<tr><td>{line['line-num']}</td><td>{esc(str(line.get('description') or ''))}</td>"
            f"<td>{_name(store, 'suppliers', line.get('supplier'))}</td>"
            f'<td class="num">{_number(line.get("quantity"))}</td>'
            f"<td>{_name(store, 'uoms', line.get('uom'), 'code')}</td>"
            f'<td class="num">{esc(str(line.get("unit-price") or ""))}</td>'
            f'<td class="num">{esc(str(line.get("total") or ""))}</td>'
            f"<td>{esc(str(line.get('status')))}</td><td>{link}</td></tr>"
        )
    orders = lifecycle.requisition_purchase_orders(store, req)
    po_rows = [
        f'<tr><td><a href="/order_headers/{po["id"]}">{esc(str(po["po-number"]))}</a></td>'
        f"<td>{_name(store, 'suppliers', po.get('supplier'))}</td><td>{_status(po['status'])}</td>"
        f'<td class="num">{len(po.get("order-lines") or ())}</td>'
        f'<td class="num">{_money(store, _po_total(store, po), po.get("currency"))}</td></tr>'
        for po in orders
    ]
    facts = [
        ("Status", _status(req["status"])),
        ("Requested by", _user(store, req.get("requested-by"))),
        ("Department", _name(store, "departments", req.get("department"))),
        ("Ship to", _name(store, "addresses", req.get("ship-to-address"))),
        ("Created", _time(store, req.get("created-at"))),
        ("Submitted", _time(store, req.get("submitted-at"))),
        ("Updated", _time(store, req.get("updated-at"))),
        ("Total", _money(store, req.get("total"), req.get("currency"))),
        ("Justification", esc(str(req.get("justification") or "")) or "&ndash;"),
    ]
    if req.get("reject-reason-comment"):
        facts.append(("Reject reason", esc(str(req["reject-reason-comment"]))))
    title = str(req.get("req-title") or "(untitled)")
    return (
        f"<h1>Requisition {req['id']}: {esc(title)} {_status(req['status'])}</h1>"
        f"{_error(error)}{_facts(facts)}{_requisition_buttons(req)}"
        "<h2>Lines</h2>"
        + _table(
            (
                "#",
                "Description",
                "Supplier",
                "Quantity",
                "UoM",
                "Unit price",
                "Total",
                "Status",
                "Order line",
            ),
            rows,
            "No lines.",
        )
        + "<h2>Purchase orders</h2>"
        + _table(("PO number", "Supplier", "Status", "Lines", "Total"), po_rows, "Not ordered yet.")
    )


# -- purchase orders ---------------------------------------------------------


def _po_total(store: Store, po: Record) -> str:
    return _sum(line.get("total") for line in lifecycle.purchase_order_lines(store, po))


def _order_buttons(store: Store, po: Record) -> str:
    forms = [
        f'<form method="post" action="/order_headers/{po["id"]}/{action}">'
        f'<button type="submit"{" class=secondary" if action == "cancel" else ""}>'
        f"{PURCHASE_ORDER_BUTTONS[action]}</button></form>"
        for action in lifecycle.purchase_order_actions(store, po)
    ]
    if not forms:
        return "<p><em>No actions in this status.</em></p>"
    return '<div class="actions">' + "".join(forms) + "</div>"


def render_order(state: SandboxState, po: Record, error: str | None = None) -> str:
    """Return the body of a purchase order's page."""
    store = state.store
    req_id = po.get("requisition-header")
    req = store.lookup("requisitions", req_id) if isinstance(req_id, int) else None
    req_link = (
        f'<a href="/requisition_headers/{req["id"]}">Requisition {req["id"]}: '
        f"{esc(str(req.get('req-title') or '(untitled)'))}</a> {_status(req['status'])}"
        if req is not None
        else "&ndash;"
    )
    rows = [
        f"<tr><td>{line['line-num']}</td><td>{esc(str(line.get('description') or ''))}</td>"
        f'<td class="num">{_number(line.get("quantity"))}</td>'
        f"<td>{_name(store, 'uoms', line.get('uom'), 'code')}</td>"
        f'<td class="num">{_number(line.get("received"))}</td>'
        f'<td class="num">{esc(str(line.get("price") or ""))}</td>'
        f'<td class="num">{esc(str(line.get("total") or ""))}</td>'
        f"<td>{esc(str(line.get('status')))}</td>"
        f"<td>{esc(str(line.get('requisition-line-id') or ''))}</td></tr>"
        for line in lifecycle.purchase_order_lines(store, po)
    ]
    facts = [
        ("Status", _status(po["status"])),
        ("Supplier", _name(store, "suppliers", po.get("supplier"))),
        ("Requisition", req_link),
        ("Ship to", _user(store, po.get("ship-to-user"))),
        ("Transmission", esc(str(po.get("transmission-status") or ""))),
        ("Version", f"{po.get('version')} (internal revision {po.get('internal-revision')})"),
        ("Created", _time(store, po.get("created-at"))),
        ("Updated", _time(store, po.get("updated-at"))),
        ("Total", _money(store, _po_total(store, po), po.get("currency"))),
    ]
    return (
        f"<h1>Purchase order {esc(str(po['po-number']))} {_status(po['status'])}</h1>"
        f"{_error(error)}{_facts(facts)}{_order_buttons(store, po)}<h2>Lines</h2>"
        + _table(
            (
                "#",
                "Description",
                "Quantity",
                "UoM",
                "Received",
                "Price",
                "Total",
                "Status",
                "Requisition line",
            ),
            rows,
            "No lines.",
        )
    )


# -- home page ---------------------------------------------------------------


def _recent(store: Store, resource: str) -> list[Record]:
    records = store.collection(resource).records.values()
    return heapq.nlargest(RECENT, records, key=lambda r: (r.get("updated-at") or 0, r["id"]))


def render_recent_documents(state: SandboxState) -> str:
    """Return the home page's lists of the most recently updated requisitions and POs."""
    store = state.store
    reqs = [
        f'<tr><td><a href="/requisition_headers/{r["id"]}">{r["id"]}</a></td>'
        f"<td>{esc(str(r.get('req-title') or ''))}</td><td>{esc(str(r['status']))}</td>"
        f"<td>{_user(store, r.get('requested-by'))}</td>"
        f'<td class="num">{_money(store, r.get("total"), r.get("currency"))}</td>'
        f"<td>{_time(store, r.get('updated-at'))}</td></tr>"
        for r in _recent(store, "requisitions")
    ]
    pos = [
        f'<tr><td><a href="/order_headers/{p["id"]}">{esc(str(p["po-number"]))}</a></td>'
        f"<td>{_name(store, 'suppliers', p.get('supplier'))}</td><td>{esc(str(p['status']))}</td>"
        f'<td><a href="/requisition_headers/{p.get("requisition-header")}">'
        f"{p.get('requisition-header')}</a></td><td>{_time(store, p.get('updated-at'))}</td></tr>"
        for p in _recent(store, "purchase_orders")
    ]
    steps = state.autopilot.steps
    pilot = (
        ", ".join(f"{esc(k)} after {v:g} s" for k, v in steps.items())
        if steps
        else "off (<code>--autopilot approve=30,order=60,receive=300</code>)"
    )
    return (
        f"<h2>Requisitions</h2><p>Most recently updated; auto-pilot: {pilot}.</p>"
        + _table(("Id", "Title", "Status", "Requested by", "Total", "Updated"), reqs, "None.")
        + "<h2>Purchase orders</h2>"
        + _table(("PO number", "Supplier", "Status", "Requisition", "Updated"), pos, "None.")
    )


# -- routes ------------------------------------------------------------------


def page_routes(state: SandboxState) -> list[BaseRoute]:
    """Return the page routes bound to `state`."""

    def _id(request: Request) -> int | None:
        raw = request.path_params["rec_id"]
        return int(raw) if raw.isdigit() else None

    async def requisition_page(request: Request) -> Response:
        req_id = _id(request)
        req = state.store.lookup("requisitions", req_id) if req_id is not None else None
        if req is None:
            return _not_found(f"Requisition {request.path_params['rec_id']}")
        return _page(f"Requisition {req['id']}", render_requisition(state, req))

    async def order_page(request: Request) -> Response:
        po_id = _id(request)
        po = state.store.lookup("purchase_orders", po_id) if po_id is not None else None
        if po is None:
            return _not_found(f"Purchase order {request.path_params['rec_id']}")
        return _page(f"Purchase order {po['po-number']}", render_order(state, po))

    async def _form(request: Request) -> dict[str, str]:
        raw = (await request.body()).decode("utf-8", "replace")
        return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

    async def requisition_post(request: Request) -> Response:
        req_id = _id(request)
        req = state.store.lookup("requisitions", req_id) if req_id is not None else None
        if req is None or req_id is None:
            return _not_found(f"Requisition {request.path_params['rec_id']}")
        action = request.path_params["action"]
        form = await _form(request)
        try:
            if action == "reject":
                lifecycle.requisition_reject(state.store, req_id, comment=form.get("comment"))
            elif action == "receive":
                try:
                    share = float(form.get("share", "1"))
                except ValueError:
                    raise lifecycle.LifecycleArgumentError("share must be a number") from None
                lifecycle.requisition_receive(state.store, req_id, share=share)
            elif action in REQUISITION_BUTTONS:
                {
                    "approve": lifecycle.requisition_approve,
                    "withdraw": lifecycle.requisition_withdraw,
                    "order": lifecycle.requisition_order,
                }[action](state.store, req_id)
            else:
                raise lifecycle.LifecycleArgumentError(f"unknown action {action!r}")
        except lifecycle.LifecycleError as exc:
            return _page(
                f"Requisition {req_id}", render_requisition(state, req, str(exc)), exc.status
            )
        state.save()
        return RedirectResponse(f"/requisition_headers/{req_id}", status_code=303)

    async def order_post(request: Request) -> Response:
        po_id = _id(request)
        po = state.store.lookup("purchase_orders", po_id) if po_id is not None else None
        if po is None or po_id is None:
            return _not_found(f"Purchase order {request.path_params['rec_id']}")
        try:
            lifecycle.purchase_order_action(state.store, po_id, request.path_params["action"])
        except lifecycle.LifecycleError as exc:
            return _page(
                f"Purchase order {po['po-number']}", render_order(state, po, str(exc)), exc.status
            )
        state.save()
        return RedirectResponse(f"/order_headers/{po_id}", status_code=303)

    return [
        Route("/requisition_headers/{rec_id}", requisition_page, methods=["GET"]),
        Route("/requisition_headers/{rec_id}/{action}", requisition_post, methods=["POST"]),
        Route("/order_headers/{rec_id}", order_page, methods=["GET"]),
        Route("/order_headers/{rec_id}/{action}", order_post, methods=["POST"]),
    ]

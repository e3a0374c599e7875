"""Creating requisitions through the API, with Coupa's validity rules (coupa-api.md 6.2).

`requisition_create` checks a posted body and, when every rule holds, adds the header
and its lines to the store. Every problem is collected, so one 400 lists them all, as
Coupa's `{"errors": {"requisition-header": [...]}}` does. Nothing is deduplicated: the
same body posted twice makes two requisitions (coupa-api.md 6.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from coupa.sandbox import generator
from coupa.sandbox.query import QueryError, parse_datetime
from coupa.sandbox.render import utc_now
from coupa.sandbox.store import Record, Store

#: Header keys accepted on create: what a PR builder sets (6.3), and the examples' extras.
HEADER_REFS: Mapping[str, str] = {
    "requested-by": "users",
    "ship-to-address": "addresses",
    "department": "departments",
}
HEADER_TEXT = frozenset({"req-title", "justification", "ship-to-attention", "buyer-note"})
#: Sent as null or [] by the examples; the sandbox has no pcards or attachment store.
HEADER_EMPTY = frozenset({"pcard", "attachments"})
LINE_REFS: Mapping[str, str] = {
    "item": "items",
    "uom": "uoms",
    "currency": "currencies",
    "supplier": "suppliers",
    "commodity": "commodities",
    "account": "accounts",
    "payment-term": "payment_terms",
    "shipping-term": "shipping_terms",
}
LINE_TEXT = frozenset({"description", "source-part-num", "supp-aux-part-num"})
LINE_TYPES = ("RequisitionQuantityLine", "RequisitionAmountLine")
_CENT = Decimal("0.01")


class _Problems(list[str]):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}{message}")


def _describe(ref: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_describe(v) if isinstance(v, Mapping) else v}" for k, v in ref.items())


def _find(store: Store, resource: str, ref: Any) -> tuple[Record | None, str | None]:
    """Return the record `ref` names, or None and why not.

    A reference names a record by id or by its fields (natural keys such as `login` or
    `code`, nested references such as an account's `account-type`); every key given must
    match the same record.
    """
    if not isinstance(ref, Mapping) or not ref:
        return None, "must be an object naming the record"
    coll = store.collection(resource)
    fmap = coll.spec.field_map()
    wanted: dict[str, Any] = {}
    for key, value in ref.items():
        f = fmap.get(key)
        if f is None or f.kind not in ("int", "str", "ref"):
            return None, f"unknown key {key!r}"
        if f.kind == "ref":
            assert f.target is not None
            target, _ = _find(store, f.target, value)
            if target is None:
                return None, f"not found ({_describe(ref)})"
            wanted[key] = target["id"]
        else:
            wanted[key] = value
    if "id" in wanted:
        rec_id = wanted["id"]
        found = coll.records.get(rec_id) if isinstance(rec_id, int) else None
        candidates = [found] if found is not None else []
    else:
        candidates = list(coll.records.values())
    for rec in candidates:
        if all(rec.get(k) == v for k, v in wanted.items()):
            if not coll.spec.is_active(rec):
                return None, f"inactive ({_describe(ref)})"
            return rec, None
    return None, f"not found ({_describe(ref)})"


def _resolve(
    store: Store, body: Mapping[str, Any], refs: Mapping[str, str], where: str, out: _Problems
) -> dict[str, Record]:
    found: dict[str, Record] = {}
    for key, resource in refs.items():
        value = body.get(key)
        if value is None:
            continue
        rec, why = _find(store, resource, value)
        if rec is None:
            out.add(where, f"{key} {why}")
        else:
            found[key] = rec
    return found


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        return None
    return dec if dec.is_finite() else None


def _date(value: Any, where: str, key: str, out: _Problems) -> int | None:
    if value is None:
        return None
    try:
        return int(parse_datetime(str(value)))
    except (QueryError, ValueError):
        out.add(where, f"{key} is not a date ({value})")
        return None


def _line(store: Store, raw: Mapping[str, Any], where: str, out: _Problems) -> Record:
    """Check one line and return its record (without id); problems go to `out`."""
    allowed = {*LINE_REFS, *LINE_TEXT, "line-num", "line-type", "quantity", "unit-price"}
    allowed |= {"need-by-date"}
    for key in raw:
        if key not in allowed:
            out.add(where, f"unknown key {key!r}")
    refs = _resolve(store, raw, LINE_REFS, where, out)
    item = refs.get("item")
    line_type = raw.get("line-type")
    if line_type is None:
        # The docs' examples omit line-type: an amount line is one without quantity,
        # UoM or item (coupa-api.md 6.3).
        quantity_shaped = any(raw.get(k) is not None for k in ("quantity", "uom", "item"))
        line_type = LINE_TYPES[0] if quantity_shaped else LINE_TYPES[1]
    elif line_type not in LINE_TYPES:
        out.add(where, f"line-type must be one of {', '.join(LINE_TYPES)}")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        out.add(where, "description must be a string")
    if not description and item is None and raw.get("item") is None:
        out.add(where, "description or item required")
    if raw.get("currency") is None:
        out.add(where, "currency required")
    price = Decimal(0)
    if raw.get("unit-price") is not None:
        parsed = _decimal(raw["unit-price"])
        if parsed is None:
            out.add(where, f"unit-price is not a decimal ({raw['unit-price']})")
        else:
            price = parsed
    quantity: Decimal | None = None
    uom = refs.get("uom")
    if line_type == "RequisitionAmountLine":
        for key in ("quantity", "uom"):
            if raw.get(key) is not None:
                out.add(where, f"{key} not allowed on an amount line")
        total = price
    else:
        if raw.get("quantity") is None:
            out.add(where, "quantity required")
        else:
            quantity = _decimal(raw["quantity"])
            if quantity is None or quantity <= 0:
                out.add(where, f"quantity must be a positive number ({raw['quantity']})")
                quantity = None
        if uom is None and item is not None and item.get("uom") is not None:
            uom = store.lookup("uoms", item["uom"])
        if uom is None and raw.get("uom") is None:
            out.add(where, "uom required")
        total = price * (quantity or 0)
    supplier = refs.get("supplier")
    commodity = refs.get("commodity")
    if commodity is None and item is not None and item.get("commodity") is not None:
        commodity = store.lookup("commodities", item["commodity"])
    # Normal defaulting: payment and shipping terms come from the supplier (6.2).
    payment = refs.get("payment-term")
    shipping = refs.get("shipping-term")

    def _id(rec: Record | None) -> int | None:
        return None if rec is None else int(rec["id"])

    return {
        "line-num": raw.get("line-num"),
        "line-type": line_type,
        "description": description or (item["name"] if item else None),
        "item": _id(item),
        "uom": _id(uom) if line_type == LINE_TYPES[0] else None,
        "quantity": float(quantity) if quantity is not None else None,
        "unit-price": str(price.quantize(_CENT)),
        "total": str(total.quantize(_CENT)),
        "currency": _id(refs.get("currency")),
        "supplier": _id(supplier),
        "commodity": _id(commodity),
        "account": _id(refs.get("account")),
        "payment-term": _id(payment) or (supplier.get("payment-term") if supplier else None),
        "shipping-term": _id(shipping) or (supplier.get("shipping-term") if supplier else None),
        "need-by-date": _date(raw.get("need-by-date"), where, "need-by-date", out),
        "source-part-num": raw.get("source-part-num")
        or (item.get("manufacturer-part-number") if item else None),
        "supp-aux-part-num": raw.get("supp-aux-part-num"),
    }


def requisition_create(store: Store, body: Any, *, submit: bool) -> tuple[Record | None, list[str]]:
    """Check `body` and add the requisition it describes; return it, or the problems.

    A draft when `submit` is false, else `pending_approval` with `submitted-at` set.
    Lines repeating a `line-num` are dropped without a word, as Coupa does (6.2).
    Not idempotent: every accepted call adds a new requisition.
    """
    out = _Problems()
    if not isinstance(body, Mapping):
        return None, ["the body must be a JSON object (the requisition header)"]
    allowed = {*HEADER_REFS, *HEADER_TEXT, *HEADER_EMPTY, "need-by-date", "requisition-lines"}
    for key in body:
        if key not in allowed:
            out.add("", f"unknown key {key!r}")
    for key in HEADER_TEXT:
        if body.get(key) is not None and not isinstance(body[key], str):
            out.add("", f"{key} must be a string")
    for key in HEADER_EMPTY:
        if body.get(key):
            out.add("", f"{key} not supported by the sandbox")
    for key in ("requested-by", "ship-to-address"):
        if body.get(key) is None:
            out.add("", f"{key} required")
    refs = _resolve(store, body, HEADER_REFS, "", out)
    need_by = _date(body.get("need-by-date"), "", "need-by-date", out)
    raw_lines = body.get("requisition-lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        out.add("", "at least one requisition line required")
        raw_lines = []
    lines: list[Record] = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_lines, 1):
        num = raw.get("line-num") if isinstance(raw, Mapping) else None
        where = f"Line {num if isinstance(num, int) else index}: "
        if not isinstance(raw, Mapping):
            out.add(where, "must be an object")
            continue
        if isinstance(num, bool) or not isinstance(num, int):
            out.add(where, "line-num required (an integer)")
            continue
        if num in seen:
            continue  # Coupa drops a line repeating a number silently (6.2).
        seen.add(num)
        lines.append(_line(store, raw, where, out))
    for expected, line in enumerate(sorted(lines, key=lambda r: r["line-num"]), 1):
        if line["line-num"] != expected:
            out.add(
                f"Line {line['line-num']}: ", f"line-num must run 1, 2, 3... (expected {expected})"
            )
            break
    if out:
        return None, list(out)
    now = utc_now()
    status = "pending_approval" if submit else "draft"
    requester = refs["requested-by"]
    department = refs.get("department")
    line_coll = store.collection("requisition_lines")
    line_ids = []
    for line in sorted(lines, key=lambda r: r["line-num"]):
        line_id = line_coll.next_id()
        line.update(
            {
                "id": line_id,
                "created-at": now,
                "updated-at": now,
                "status": status,
                "created-by": generator.API_USER_ID,
                "updated-by": generator.API_USER_ID,
            }
        )
        line_coll.add(line)
        line_ids.append(line_id)
    total = sum((Decimal(line["total"]) for line in lines), Decimal(0))
    req_coll = store.collection("requisitions")
    req: Record = {
        "id": req_coll.next_id(),
        "created-at": now,
        "updated-at": now,
        "req-title": body.get("req-title"),
        "justification": body.get("justification"),
        "buyer-note": body.get("buyer-note"),
        "need-by-date": need_by,
        "status": status,
        "submitted-at": now if submit else None,
        "ship-to-attention": body.get("ship-to-attention") or requester.get("fullname"),
        "total": str(total.quantize(_CENT)),
        # The header's currency is its first line's (every generated requisition has one).
        "currency": lines[0]["currency"],
        "department": department["id"] if department else requester.get("department"),
        "requested-by": requester["id"],
        "requester": requester["id"],
        "ship-to-address": refs["ship-to-address"]["id"],
        "requisition-lines": line_ids,
        "created-by": generator.API_USER_ID,
        "updated-by": generator.API_USER_ID,
    }
    req_coll.add(req)
    store.renderer.invalidate("requisition_lines", line_ids)
    store.renderer.invalidate("requisitions", [req["id"]])
    return req, []

"""Creating and updating requisitions through the API, with Coupa's rules (coupa-api.md 6.2).

`requisition_create` checks a posted body and, when every rule holds, adds the header
and its lines to the store; `requisition_update` applies a PUT to a draft the same way
(the merged requisition must pass every rule). Every problem is collected, so one 400
lists them all, as Coupa's `{"errors": {"requisition-header": [...]}}` does. Nothing
is deduplicated: the same body posted twice makes two requisitions (coupa-api.md 6.5).

Submission routes a requisition to `pending_approval`, or to `pending_buyer_action`
when the instance's routing rule says a buyer must act first (`ROUTING_RULES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


#: When a submitted requisition waits for a buyer instead of going to approval.
ROUTING_RULES: Mapping[str, str] = {
    "no-supplier": "a line has no supplier (a buyer must source it)",
    "always": "every submitted requisition",
    "never": "no requisition: all go to approval",
}
DEFAULT_ROUTING = "no-supplier"
#: Only drafts can be changed or submitted through the API.
EDITABLE_STATUSES = frozenset({"draft"})


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


def _custom(
    store: Store, on: str, raw: Mapping[str, Any], where: str, out: _Problems
) -> dict[str, Any]:
    """Check the custom fields declared for `on` ("header" or "line"); return stored values.

    A value may come as a top-level key or inside a `custom-fields` object.
    """
    declared = {f.name: f for f in store.registry.requisition_fields if f.on == on}
    given: dict[str, Any] = {name: raw[name] for name in declared if name in raw}
    nested = raw.get("custom-fields")
    if nested is not None and not isinstance(nested, Mapping):
        out.add(where, "custom-fields must be an object")
    elif nested:
        for key, value in nested.items():
            if key not in declared:
                out.add(where, f"unknown custom field {key!r}")
            elif key in given and given[key] != value:
                out.add(where, f"custom field {key} given twice with different values")
            else:
                given[key] = value
    values: dict[str, Any] = {}
    for name, f in declared.items():
        stored = None
        if given.get(name) is not None:
            stored, why = f.coerce(given[name])
            if why is not None:
                out.add(where, f"{name} {why}")
                continue
        if f.required and f.is_blank(stored):
            out.add(where, f"{name} required (a custom field this instance requires)")
        values[name] = stored
    return values


def _custom_names(store: Store, on: str) -> set[str]:
    return {f.name for f in store.registry.requisition_fields if f.on == on}


def _line(store: Store, raw: Mapping[str, Any], where: str, out: _Problems) -> Record:
    """Check one line and return its record (without id); problems go to `out`."""
    allowed = {*LINE_REFS, *LINE_TEXT, "line-num", "line-type", "quantity", "unit-price"}
    allowed |= {"need-by-date", "custom-fields", *_custom_names(store, "line")}
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
        **_custom(store, "line", raw, where, out),
    }


@dataclass
class _Checked:
    """A requisition body that passed every rule: header values and its kept lines."""

    header: Record
    lines: list[tuple[int | None, Record]]  # (existing line id or None, line values)


def _check(
    store: Store, body: Any, *, line_ids: frozenset[int] = frozenset()
) -> tuple[_Checked | None, list[str]]:
    """Apply Coupa's rules to a whole requisition body (6.2); return it checked, or the problems.

    `line_ids` are the ids of the lines an update may name (`{"id": ...}` on a line).
    Lines repeating a `line-num`, or following a gap in the numbering, are dropped
    without a word, as Coupa does (6.2, 9.8).
    """
    out = _Problems()
    if not isinstance(body, Mapping):
        return None, ["the body must be a JSON object (the requisition header)"]
    allowed = {*HEADER_REFS, *HEADER_TEXT, *HEADER_EMPTY, "need-by-date", "requisition-lines"}
    allowed |= {"custom-fields", *_custom_names(store, "header")}
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
    custom = _custom(store, "header", body, "", out)
    raw_lines = body.get("requisition-lines")
    if not isinstance(raw_lines, list):
        raw_lines = []
    numbered: dict[int, tuple[int | None, Record]] = {}
    for index, raw in enumerate(raw_lines, 1):
        num = raw.get("line-num") if isinstance(raw, Mapping) else None
        where = f"Line {num if isinstance(num, int) else index}: "
        if not isinstance(raw, Mapping):
            out.add(where, "must be an object")
            continue
        if isinstance(num, bool) or not isinstance(num, int):
            out.add(where, "line-num required (an integer)")
            continue
        line_id = raw.get("id")
        if line_id is not None and line_id not in line_ids:
            out.add(where, f"id {line_id} is not a line of this requisition")
            continue
        if num in numbered:
            continue  # Coupa drops a line repeating a number silently (6.2).
        fields = {k: v for k, v in raw.items() if k != "id"}
        numbered[num] = (line_id, _line(store, fields, where, out))
    lines: list[tuple[int | None, Record]] = []
    for expected in range(1, len(numbered) + 1):
        if expected not in numbered:
            break  # numbering stops at a gap: the later lines are dropped (9.8)
        lines.append(numbered[expected])
    if not raw_lines:
        out.add("", "at least one requisition line required")
    elif not lines and not any(m.startswith("Line ") for m in out):
        # Every line was dropped: numbering must start at 1 (6.2).
        out.add("", "at least one requisition line required: no line has line-num 1")
    if out:
        return None, list(out)
    requester = refs["requested-by"]
    department = refs.get("department")
    header: Record = {
        "req-title": body.get("req-title"),
        "justification": body.get("justification"),
        "buyer-note": body.get("buyer-note"),
        "need-by-date": need_by,
        "ship-to-attention": body.get("ship-to-attention") or requester.get("fullname"),
        "department": department["id"] if department else requester.get("department"),
        "requested-by": requester["id"],
        "requester": requester["id"],
        "ship-to-address": refs["ship-to-address"]["id"],
        **custom,
    }
    return _Checked(header, lines), []


def _submitted_status(lines: list[Record], routing: str) -> str:
    """Return where a submission goes: approval, or a buyer first (ROUTING_RULES)."""
    if routing == "always" or (
        routing == "no-supplier" and any(line["supplier"] is None for line in lines)
    ):
        return "pending_buyer_action"
    return "pending_approval"


def _save(
    store: Store, checked: _Checked, *, submit: bool, routing: str, req: Record | None
) -> Record:
    """Write a checked requisition: a new one when `req` is None, else over `req`."""
    now = utc_now()
    values = [line for _, line in checked.lines]
    status = _submitted_status(values, routing) if submit else "draft"
    line_coll = store.collection("requisition_lines")
    kept: list[int] = []
    dropped: list[int] = []
    for line_id, line in checked.lines:
        line.update({"status": status, "updated-at": now, "updated-by": generator.API_USER_ID})
        if line_id is None:
            line_id = line_coll.next_id()
            line.update({"id": line_id, "created-at": now, "created-by": generator.API_USER_ID})
            line_coll.add(line)
        else:
            line_coll.records[line_id].update(line)
        kept.append(line_id)
    if req is not None:
        dropped = sorted(set(req["requisition-lines"]) - set(kept))
        for line_id in dropped:
            line_coll.remove(line_id)
    total = sum((Decimal(line["total"]) for line in values), Decimal(0))
    header: Record = {
        **checked.header,
        "status": status,
        "total": str(total.quantize(_CENT)),
        # The header's currency is its first line's (every generated requisition has one).
        "currency": values[0]["currency"],
        "requisition-lines": kept,
        "updated-at": now,
        "updated-by": generator.API_USER_ID,
    }
    if submit:
        header["submitted-at"] = now
    req_coll = store.collection("requisitions")
    if req is None:
        req = {
            "id": req_coll.next_id(),
            "created-at": now,
            "submitted-at": None,
            "created-by": generator.API_USER_ID,
            **header,
        }
        req_coll.add(req)
    else:
        req.update(header)
    store.renderer.invalidate("requisition_lines", kept + dropped)
    store.renderer.invalidate("requisitions", [req["id"]])
    return req


def requisition_create(
    store: Store, body: Any, *, submit: bool, routing: str = DEFAULT_ROUTING
) -> tuple[Record | None, list[str]]:
    """Check `body` and add the requisition it describes; return it, or the problems.

    A draft when `submit` is false; else submitted (`submitted-at` set) to
    `pending_approval` or, when `routing` says so, `pending_buyer_action`.
    Not idempotent: every accepted call adds a new requisition.
    """
    checked, problems = _check(store, body)
    if checked is None:
        return None, problems
    return _save(store, checked, submit=submit, routing=routing, req=None), []


class UpdateError(ValueError):
    """An update the sandbox refuses before looking at the body (404 or 400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def requisition_update(
    store: Store, req_id: int, body: Any, *, submit: bool, routing: str = DEFAULT_ROUTING
) -> tuple[Record | None, list[str]]:
    """Apply a PUT to draft `req_id` (and submit it when `submit`); return it, or the problems.

    The body changes the header keys it gives; a line with an `id` changes that line,
    a line without one is added, lines not mentioned stay. The merged requisition must
    pass every create rule (drafts are fully validated, 6.2). The body may be empty
    (`update_and_submit_for_approval` with nothing to change). Raises UpdateError for an
    unknown id or a requisition that is no longer a draft.
    """
    req = store.lookup("requisitions", req_id)
    if req is None:
        raise UpdateError(404, f"Couldn't find RequisitionHeader with 'id'={req_id}")
    if req["status"] not in EDITABLE_STATUSES:
        raise UpdateError(
            400, f"requisition {req_id} is {req['status']}; only drafts can be updated or submitted"
        )
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        return None, ["the body must be a JSON object (the requisition header)"]
    merged = _as_input(store, req)
    given_lines = body.get("requisition-lines")
    merged.update({k: v for k, v in _flat_custom(body).items() if k != "requisition-lines"})
    if given_lines is not None:
        if not isinstance(given_lines, list):
            return None, ["requisition-lines must be a list"]
        lines = merged["requisition-lines"]
        by_id = {line["id"]: line for line in lines}
        for raw in given_lines:
            if isinstance(raw, Mapping) and raw.get("id") in by_id:
                by_id[raw["id"]].update(_flat_custom(raw))
            else:
                lines.append(raw)
    checked, problems = _check(store, merged, line_ids=frozenset(req["requisition-lines"]))
    if checked is None:
        return None, problems
    return _save(store, checked, submit=submit, routing=routing, req=req), []


def _flat_custom(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return a line's keys with its `custom-fields` object merged in at the top."""
    nested = raw.get("custom-fields")
    flat = {k: v for k, v in raw.items() if k != "custom-fields" or not isinstance(nested, Mapping)}
    if isinstance(nested, Mapping):
        flat.update(nested)
    return flat


def _as_input(store: Store, req: Record) -> dict[str, Any]:
    """Return a stored requisition as the body that would create it (for merging a PUT)."""
    fmt = store.renderer.format_time

    def ref(value: Any) -> dict[str, Any] | None:
        return None if value is None else {"id": value}

    def custom(on: str, rec: Record) -> dict[str, Any]:
        out = {}
        for f in store.registry.requisition_fields:
            if f.on == on:
                value = rec.get(f.name)
                out[f.name] = fmt(value) if f.type == "date" and value is not None else value
        return out

    body: dict[str, Any] = {key: ref(req.get(key)) for key in HEADER_REFS}
    body.update({key: req.get(key) for key in HEADER_TEXT})
    body["need-by-date"] = fmt(req["need-by-date"]) if req.get("need-by-date") else None
    body.update(custom("header", req))
    lines = []
    for line_id in req["requisition-lines"]:
        line = store.lookup("requisition_lines", line_id) or {}
        raw: dict[str, Any] = {
            "id": line_id,
            "line-num": line.get("line-num"),
            "line-type": line.get("line-type"),
            "quantity": line.get("quantity"),
            "unit-price": line.get("unit-price"),
            **{key: ref(line.get(key)) for key in LINE_REFS},
            **{key: line.get(key) for key in LINE_TEXT},
            "need-by-date": fmt(line["need-by-date"]) if line.get("need-by-date") else None,
            **custom("line", line),
        }
        lines.append(raw)
    body["requisition-lines"] = lines
    return body

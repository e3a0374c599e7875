"""Coupa query semantics (coupa-api.md section 3) over an in-memory collection.

`parse_query` turns query-string pairs into a `Query`; `execute` runs it on a
`Collection`. Everything is driven by the resource specs, so new resources only
need a spec. Conditions on `id` become bisect ranges over the sorted ids, which
keeps keyset paging (`id[gt]=N&order_by=id`) cheap on 200,000 records; `id[in]` looks
the ids up. Equality and `in` on the links in `INDEXED_LINKS` (a PO's requisition, a PO
line's PO) look records up in an index instead of scanning the collection.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from coupa.sandbox.render import Renderer, Selection, SelectionError
from coupa.sandbox.resources import Field, Kind, Registry, ResourceSpec

if TYPE_CHECKING:
    from coupa.sandbox.store import Collection

Record = dict[str, Any]

MAX_LIMIT = 50  # Coupa returns at most 50 records per GET (coupa-api.md 3)
OPERATORS = frozenset(
    {
        "contains",
        "starts_with",
        "ends_with",
        "gt",
        "lt",
        "gt_or_eq",
        "lt_or_eq",
        "not_eq",
        "in",
        "not_in",
        "blank",
    }
)
#: Links set when a record is created and never changed (coupa-api.md 7): `eq` and `in`
#: filters on them (`requisition-header[id][in]=`, `order-header-id=`) use an index.
INDEXED_LINKS: frozenset[tuple[str, str]] = frozenset(
    {("purchase_orders", "requisition-header"), ("purchase_order_lines", "order-header-id")}
)
RESERVED = frozenset({"limit", "offset", "order_by", "dir", "fields", "return_object", "filter"})
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class QueryError(ValueError):
    """A query the sandbox refuses with 400, as Coupa does for unknown attributes."""


@dataclass(frozen=True)
class Condition:
    """One `attr[op]=value` term: `getter` returns the record's value(s)."""

    path: tuple[str, ...]
    op: str
    value: Any
    kind: Kind
    getter: Callable[[Record], Any]
    many: bool  # the path crosses a list association: any element may match

    def matches(self, record: Record) -> bool:
        """Tell whether the record satisfies the term."""
        got = self.getter(record)
        if self.many:
            values = got or []
            if self.op == "blank":
                is_blank = all(v is None or v == "" for v in values)
                return bool(is_blank == self.value)
            if self.op in ("not_eq", "not_in"):
                return all(_test(self, v) for v in values)
            return any(_test(self, v) for v in values)
        return _test(self, got)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _cmp_value(kind: Kind, value: Any) -> Any:
    if kind == "decimal" and value is not None:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return value


def _test(cond: Condition, raw: Any) -> bool:
    op = cond.op
    if op == "blank":
        blank = raw is None or raw == "" or raw == []
        return bool(blank == cond.value)
    # As in SQL, a null value satisfies no comparison.
    if raw is None:
        return False
    value = _cmp_value(cond.kind, raw)
    target = cond.value
    if op == "eq":
        return bool(value == target)
    if op == "not_eq":
        return bool(value != target)
    if op == "in":
        return value in target
    if op == "not_in":
        return value not in target
    if op in ("contains", "starts_with", "ends_with"):
        # Coupa runs on MySQL, whose default collation matches LIKE case-insensitively.
        hay = _text(value).lower()
        if op == "contains":
            return target in hay
        return hay.startswith(target) if op == "starts_with" else hay.endswith(target)
    try:
        if op == "gt":
            return bool(value > target)
        if op == "lt":
            return bool(value < target)
        if op == "gt_or_eq":
            return bool(value >= target)
        return bool(value <= target)
    except TypeError:
        return False


def parse_datetime(text: str) -> float:
    """Parse an ISO 8601 filter value into epoch seconds.

    A `+` of an unencoded offset arrives as a space (coupa-api.md 3), so a space
    before the offset is read as `+`. A date alone means midnight UTC (section 3).
    """
    t = text.strip()
    if " " in t and "T" in t:
        t = t.replace(" ", "+")
    elif " " in t:
        date_part, _, rest = t.partition(" ")
        t = f"{date_part}T{rest}"
    try:
        parsed = datetime.fromisoformat(t)
    except ValueError:
        raise QueryError(f"invalid datetime {text!r}: use ISO 8601 with an offset") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def coerce(kind: Kind, text: str, name: str) -> Any:
    """Convert a query-string value to the attribute's type, or raise QueryError."""
    if kind in ("int", "ref"):
        try:
            return int(text)
        except ValueError:
            raise QueryError(f"{name}: {text!r} is not an integer") from None
    if kind in ("decimal", "float"):
        try:
            return Decimal(text)
        except InvalidOperation:
            raise QueryError(f"{name}: {text!r} is not a number") from None
    if kind == "bool":
        low = text.lower()
        if low in ("true", "1", "t", "yes"):
            return True
        if low in ("false", "0", "f", "no"):
            return False
        raise QueryError(f"{name}: {text!r} is not true or false")
    if kind == "datetime":
        return parse_datetime(text)
    return text


def _split_key(key: str) -> list[str]:
    m = _KEY.match(key)
    if not m:
        raise QueryError(f"malformed parameter {key!r}")
    return [m.group(1), *_PART.findall(m.group(2))]


@dataclass
class _Resolved:
    getter: Callable[[Record], Any]
    kind: Kind
    many: bool
    path: tuple[str, ...]


def _norm(name: str) -> str:
    # Query strings use both spellings (coupa-api.md 3): updated_at and updated-at.
    return name.replace("_", "-")


class Resolver:
    """Resolve attribute paths such as ("account-type", "name") to getters."""

    def __init__(self, registry: Registry, lookup: Callable[[str, int], Record | None]) -> None:
        self.registry = registry
        self.lookup = lookup

    def resolve(self, spec: ResourceSpec, parts: Sequence[str]) -> _Resolved:
        """Return the getter of an attribute path, or raise QueryError."""
        fmap = spec.field_map()
        name = _norm(parts[0])
        f = fmap.get(name)
        rest = list(parts[1:])
        if f is None and name.endswith("-id") and not rest:
            # Foreign-key form: account_type_id=1 is account-type[id]=1 (coupa-api.md 3).
            assoc = fmap.get(name[:-3])
            if assoc is not None and assoc.target is not None:
                f, rest = assoc, ["id"]
        if f is None and name == "status" and spec.active_field == "active":
            # The docs filter users with ?status=active although the field is `active`
            # (coupa-api.md 5 and 10); accept it as an alias.
            return _Resolved(_status_alias, "str", False, ("status",))
        if f is None:
            raise QueryError(f"unknown attribute {parts[0]!r}")
        return self._resolve_field(f, rest, (f.name,))

    def _resolve_field(self, f: Field, rest: list[str], path: tuple[str, ...]) -> _Resolved:
        key = f.name
        if f.kind in ("ref", "refs"):
            assert f.target is not None
            target = self.registry.specs[f.target]
            if not rest:
                # `supplier=5` compares the association's id.
                rest = ["id"]
            sub = self.resolve(target, rest)
            lookup, tname, sub_get = self.lookup, f.target, sub.getter
            if f.kind == "ref":

                def get_ref(rec: Record) -> Any:
                    ref = rec.get(key)
                    if ref is None:
                        return [] if sub.many else None
                    tgt = lookup(tname, ref)
                    if tgt is None:
                        return [] if sub.many else None
                    return sub_get(tgt)

                return _Resolved(get_ref, sub.kind, sub.many, path + sub.path)

            def get_refs(rec: Record) -> Any:
                out: list[Any] = []
                for ref in rec.get(key) or ():
                    tgt = lookup(tname, ref)
                    if tgt is not None:
                        val = sub_get(tgt)
                        out.extend(val if sub.many else [val])
                return out

            return _Resolved(get_refs, sub.kind, True, path + sub.path)
        if f.kind in ("object", "objects"):
            if len(rest) != 1:
                raise QueryError(f"{key} needs one sub-attribute, e.g. {key}[id]")
            sub_name = _norm(rest[0])
            sub_kind = f.subfields.get(sub_name)
            if sub_kind is None:
                raise QueryError(f"unknown attribute {rest[0]!r} of {key}")
            if f.kind == "object":
                return _Resolved(
                    lambda r: (r.get(key) or {}).get(sub_name), sub_kind, False, (*path, sub_name)
                )
            return _Resolved(
                lambda r: [o.get(sub_name) for o in r.get(key) or ()],
                sub_kind,
                True,
                (*path, sub_name),
            )
        if rest:
            raise QueryError(f"{key} is not an association: [{rest[0]}] is not an operator")
        default = f.default
        return _Resolved(lambda r: r.get(key, default), f.kind, False, path)


def _status_alias(rec: Record) -> str:
    return "active" if rec.get("active") is True else "inactive"


@dataclass
class Query:
    """A parsed collection query."""

    conditions: list[Condition] = field(default_factory=list)
    limit: int = MAX_LIMIT
    offset: int = 0
    order_by: str = "id"
    order_getter: Callable[[Record], Any] | None = None
    descending: bool = False
    selection: Selection | None = None
    return_none: bool = False

    @property
    def walks_ids(self) -> bool:
        """Tell whether the next page holds the ids right after this one's last.

        True for ascending id order filtered on nothing but a lower id bound
        (keyset paging) or paged by offset.
        """
        return (
            self.order_by == "id"
            and not self.descending
            and all(c.path == ("id",) and c.op in ("gt", "gt_or_eq") for c in self.conditions)
        )


def _parse_condition(resolver: Resolver, spec: ResourceSpec, key: str, text: str) -> Condition:
    parts = _split_key(key)
    op = "eq"
    if len(parts) > 1 and parts[-1] in OPERATORS:
        op = parts.pop()
    elif len(parts) > 1 and parts[-1] == "":
        raise QueryError(f"malformed parameter {key!r}: empty brackets")
    res = resolver.resolve(spec, parts)
    kind = res.kind
    if kind == "datetime" and op in ("contains", "starts_with", "ends_with", "blank"):
        # Coupa documents these operators as not for datetime fields (section 3).
        raise QueryError(f"operator {op} is not supported for datetime attribute {key!r}")
    value: Any
    if op == "blank":
        value = coerce("bool", text, key)
    elif op in ("in", "not_in"):
        items = [t for t in text.split(",") if t != ""]
        if not items:
            raise QueryError(f"{key}: empty list")
        value = frozenset(coerce(kind, t.strip(), key) for t in items)
    elif op in ("contains", "starts_with", "ends_with"):
        value = text.lower()
    else:
        value = coerce(kind, text, key)
    if kind == "float" and op not in ("blank", "contains", "starts_with", "ends_with"):
        kind = "decimal"  # compare floats as Decimal against Decimal filter values
    return Condition(tuple(res.path), op, value, kind, res.getter, res.many or False)


def _int_param(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None
    if value < 0:
        raise QueryError(f"{name} must not be negative")
    return value


def parse_query(
    spec: ResourceSpec,
    params: Iterable[tuple[str, str]],
    *,
    resolver: Resolver,
    renderer: Renderer,
    with_filters: bool = True,
) -> Query:
    """Parse query-string pairs into a Query; raise QueryError for anything unknown."""
    q = Query()
    return_object = None
    fields_text = None
    for key, text in params:
        if key == "limit":
            # Larger limits are capped at 50 rather than refused (coupa-api.md 3).
            q.limit = min(_int_param(text, "limit"), MAX_LIMIT) or MAX_LIMIT
        elif key == "offset":
            q.offset = _int_param(text, "offset")
        elif key == "order_by":
            res = resolver.resolve(spec, [text])
            if res.many or len(res.path) != 1:
                raise QueryError(f"cannot order by {text!r}")
            q.order_by = res.path[0]
            q.order_getter = res.getter
        elif key == "dir":
            if text.lower() not in ("asc", "desc"):
                raise QueryError("dir must be asc or desc")
            q.descending = text.lower() == "desc"
        elif key == "fields":
            fields_text = text
        elif key == "return_object":
            if text not in ("limited", "shallow", "none"):
                raise QueryError("return_object must be limited, shallow or none")
            return_object = text
        elif key == "filter":
            # Named filters live in the customer's instance; the sandbox has none.
            raise QueryError(f"unknown filter {text!r}")
        elif with_filters:
            q.conditions.append(_parse_condition(resolver, spec, key, text))
    if fields_text is not None:
        try:
            fields = json.loads(fields_text)
        except ValueError:
            raise QueryError('fields must be a JSON array, e.g. ["id","name"]') from None
        try:
            q.selection = renderer.projection(spec.name, fields)
        except SelectionError as exc:
            raise QueryError(str(exc)) from None
    elif return_object in ("limited", "shallow"):
        q.selection = renderer.named(spec.name, return_object)
    q.return_none = return_object == "none"
    if q.selection is None:
        q.selection = renderer.named(spec.name, "full")
    return q


def _id_bounds(
    ids: list[int], conditions: list[Condition]
) -> tuple[int, int, list[Condition], list[int] | None]:
    """Turn conditions on `id` into an index range (and an explicit id list for `in`)."""
    lo, hi = 0, len(ids)
    rest: list[Condition] = []
    explicit: list[int] | None = None
    for c in conditions:
        if c.path != ("id",) or c.many:
            rest.append(c)
            continue
        v = c.value
        if c.op == "gt":
            lo = max(lo, bisect.bisect_right(ids, v))
        elif c.op == "gt_or_eq":
            lo = max(lo, bisect.bisect_left(ids, v))
        elif c.op == "lt":
            hi = min(hi, bisect.bisect_left(ids, v))
        elif c.op == "lt_or_eq":
            hi = min(hi, bisect.bisect_right(ids, v))
        elif c.op == "eq":
            lo = max(lo, bisect.bisect_left(ids, v))
            hi = min(hi, bisect.bisect_right(ids, v))
        elif c.op == "in":
            wanted = sorted(v)
            explicit = wanted if explicit is None else [i for i in explicit if i in v]
        else:
            rest.append(c)
    return lo, hi, rest, explicit


class _LinkIndex:
    """Ids of a collection's records by the value of one link field, kept up to date.

    Records are only appended (ids grow) while a collection lives, so a refresh indexes
    the ids past the last one seen; any other change of the id list rebuilds it. Callers
    test their condition on every candidate, so an entry gone stale cannot match wrongly.
    """

    __slots__ = ("by_value", "collection", "field", "last_id", "size")

    def __init__(self, collection: Collection, field: str) -> None:
        self.collection = collection
        self.field = field
        self.by_value: dict[Any, list[int]] = {}
        self.last_id = 0
        self.size = 0

    def ids_for(self, values: Iterable[Any]) -> list[int]:
        """Return the sorted ids of records whose link holds one of `values`."""
        self._refresh()
        found: set[int] = set()
        for v in values:
            found.update(self.by_value.get(v, ()))
        return sorted(found)

    def _refresh(self) -> None:
        ids = self.collection.ids
        start = bisect.bisect_right(ids, self.last_id)
        if self.size + len(ids) - start != len(ids):
            # Not a pure append (a record removed or inserted below the last id).
            self.by_value, self.last_id, self.size, start = {}, 0, 0, 0
        if start == len(ids):
            return
        records, key, by_value = self.collection.records, self.field, self.by_value
        for rec_id in ids[start:]:
            by_value.setdefault(records[rec_id].get(key), []).append(rec_id)
        self.last_id = ids[-1]
        self.size = len(ids)


#: One index per (resource, link); an entry for a replaced collection is rebuilt.
_INDEXES: dict[tuple[str, str], _LinkIndex] = {}


def _indexed(collection: Collection, conditions: list[Condition]) -> list[int] | None:
    """Return candidate ids from an indexed link condition, or None if there is none."""
    resource = collection.spec.name
    for c in conditions:
        field_name = c.path[0]
        if (
            (resource, field_name) not in INDEXED_LINKS
            or c.many
            or c.op not in ("eq", "in")
            or c.path[1:] not in ((), ("id",))
        ):
            continue
        index = _INDEXES.get((resource, field_name))
        if index is None or index.collection is not collection:
            index = _INDEXES[(resource, field_name)] = _LinkIndex(collection, field_name)
        return index.ids_for(c.value if c.op == "in" else (c.value,))
    return None


def execute(collection: Collection, q: Query) -> list[Record]:
    """Return the page of records matching the query, in order."""
    ids = collection.ids
    records = collection.records
    lo, hi, rest, explicit = _id_bounds(ids, q.conditions)
    if explicit is None:
        # The indexed condition stays in `rest`: each candidate is still tested.
        explicit = _indexed(collection, rest)
    if explicit is not None:
        if lo >= hi:
            return []
        lo_id, hi_id = ids[lo], ids[hi - 1]
        if not rest and q.order_by == "id" and not q.descending:
            # `id[in]` alone (the daily sync's lookup): no per-record checks.
            found = [records[i] for i in explicit if lo_id <= i <= hi_id and i in records]
            return found[q.offset : q.offset + q.limit]
        candidates: Iterable[int] = (i for i in explicit if lo_id <= i <= hi_id and i in records)
    elif lo >= hi:
        return []
    else:
        # Lazy ranges: slicing 200,000 ids per request would cost more than the page.
        step = range(hi - 1, lo - 1, -1) if q.order_by == "id" and q.descending else range(lo, hi)
        candidates = (ids[k] for k in step)
    if q.order_by == "id":
        if explicit is not None and q.descending:
            candidates = sorted(candidates, reverse=True)
        want = q.offset + q.limit
        if not q.descending and explicit is None and not rest:
            # Keyset fast path: no per-record checks.
            return [records[i] for i in ids[lo + q.offset : min(hi, lo + want)]]
        out: list[Record] = []
        for rec_id in candidates:
            rec = records[rec_id]
            if all(c.matches(rec) for c in rest):
                out.append(rec)
                if len(out) >= want:
                    break
        return out[q.offset : want]
    matches = [records[i] for i in candidates if all(c.matches(records[i]) for c in rest)]
    getter = q.order_getter
    assert getter is not None

    def sort_key(rec: Record) -> tuple[bool, Any]:
        v = getter(rec)
        # MySQL sorts NULLs first in ascending order.
        return (v is not None, v if v is not None else 0)

    try:
        matches.sort(key=sort_key, reverse=q.descending)
    except TypeError:
        matches.sort(key=lambda r: (getter(r) is not None, str(getter(r))), reverse=q.descending)
    return matches[q.offset : q.offset + q.limit]

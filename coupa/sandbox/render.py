"""JSON rendering of stored records, with per-record caches.

A `Selection` is a compiled field tree (the full record, `return_object=shallow`
or `limited`, a nested view, or a `fields=[...]` projection). Each selection
caches the JSON of every record it has rendered, so walking pages costs a
dictionary lookup per record; mutations drop the affected entries.

Cold renders matter too (the first walk of a fresh instance renders every record):
each selection is compiled into a small Python function that concatenates the
JSON pieces of one record directly (keys pre-encoded, each value encoded by its
kind), and timestamps are formatted arithmetically from a per-hour UTC offset
table instead of through `datetime`. A record's cached JSON is a tuple of parts:
its own text, and the cached text of each nested reference shared, not copied
(an item's commodity and users are two thirds of its JSON), so a render copies
little and the cache holds about a third of the flat text. A page joins the parts
of its records. The output is exactly what `json` would produce for the same
dict: scalars first in field order, then associations.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from json.encoder import encode_basestring
from typing import Any

from coupa.sandbox.resources import Field, Registry

Record = dict[str, Any]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def instance_timezone() -> tzinfo:
    """Return the instance's time zone (Pacific, as most examples' offsets show)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Los_Angeles")
    except Exception:  # no tz database on the host: fixed Pacific standard time
        return timezone(timedelta(hours=-8))


def _value(value: Any) -> str:
    """Return the JSON text of any stored value, as `_encode` would."""
    cls = value.__class__
    if cls is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if cls is int:
        return int.__repr__(value)
    return _encode(value)


# "MM:SS" for each second of an hour.
_MINUTE_SECONDS = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))


class TimeFormatter:
    """ISO 8601 text of epoch seconds in one time zone, without a datetime per call.

    The text is cut at the minutes: `"2024-03-01T10:` + `15:00` + `-08:00"`. The
    head and the offset are computed once per UTC hour; when the offset is the
    same at both ends of the hour and a whole number of hours (so the local
    minutes and seconds are the UTC ones), the rest comes from a table. Other
    hours (a transition inside, odd offsets) take the exact `datetime` path.
    """

    MAX_HOURS = 200_000  # about 23 years of hours; the table is cleared beyond it

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._hours: dict[int, tuple[str, str] | None] = {}

    def exact(self, epoch: Any) -> str:
        """Return the isoformat text through `datetime` (the reference result)."""
        return datetime.fromtimestamp(epoch, self.tz).isoformat()

    def _hour(self, hour: int) -> tuple[str, str] | None:
        start = hour * 3600
        try:
            first = datetime.fromtimestamp(start, self.tz)
            last = datetime.fromtimestamp(start + 3599, self.tz)
        except (OverflowError, OSError, ValueError):
            return None
        offset = first.utcoffset()
        info: tuple[str, str] | None = None
        if offset is not None and offset == last.utcoffset():
            seconds = offset.total_seconds()
            if seconds % 3600 == 0:
                text = first.isoformat()  # e.g. 2024-03-01T10:00:00-08:00
                info = ('"' + text[:14], text[19:] + '"')
        if len(self._hours) >= self.MAX_HOURS:
            self._hours.clear()
        self._hours[hour] = info  # None: use `exact`
        return info

    def json(self, epoch: Any) -> str:
        """Return the JSON string (quoted) of a timestamp, or null for None."""
        if epoch.__class__ is int:
            stamp: int = epoch
            info = self._hours.get(stamp // 3600)
            if info is None and stamp // 3600 not in self._hours:
                info = self._hour(stamp // 3600)
            if info is not None:
                return info[0] + _MINUTE_SECONDS[stamp % 3600] + info[1]
        if epoch is None:
            return "null"
        return '"' + self.exact(epoch) + '"'


class Selection:
    """A compiled set of fields of one resource, with JSON caches per record id.

    `fn` renders one record (uncached) as a tuple of parts whose concatenation is
    its JSON; the renderer compiles it. `cache` holds those parts for records
    served at the top level, `text` the joined JSON for records embedded in others.
    """

    __slots__ = ("cache", "deps", "entries", "fn", "plan", "resource", "text")

    def __init__(self, resource: str, entries: tuple[tuple[Field, Selection | None], ...]) -> None:
        self.resource = resource
        self.entries = entries
        self.cache: dict[int, tuple[str, ...]] = {}
        self.text: dict[int, str] = {}
        deps: set[str] = set()
        for _f, sub in entries:
            if sub is not None:
                deps.add(sub.resource)
                deps |= sub.deps
        self.deps: frozenset[str] = frozenset(deps)
        # Output order: scalars first (a repeated name once, at its first place), then
        # associations, as when the scalars were a dict encoded before the nested parts.
        scalars: dict[str, tuple[str, str, Any, Selection | None]] = {}
        nested: list[tuple[str, str, Any, Selection | None]] = []
        for f, sub in entries:
            if sub is None:
                scalars.setdefault(f.name, (f.name, f.kind, f.default, None))
            else:
                nested.append((f.name, f.kind, f.default, sub))
        self.plan: tuple[tuple[str, str, Any, Selection | None], ...] = (
            *scalars.values(),
            *nested,
        )
        self.fn: Callable[[Record], tuple[str, ...]] = _unbound

    def clear(self) -> None:
        """Drop every cached rendering."""
        self.cache.clear()
        self.text.clear()


def _unbound(record: Record) -> tuple[str, ...]:
    raise RuntimeError("selection used before the renderer compiled it")


class SelectionError(ValueError):
    """A `fields` parameter names something the resource does not have."""


class Renderer:
    """Render records of a store as Coupa JSON."""

    FIELDS_CACHE_SIZE = 32

    def __init__(self, registry: Registry, lookup: Callable[[str, int], Record | None]) -> None:
        self.registry = registry
        self._lookup = lookup
        self._tz = instance_timezone()
        self._named: dict[tuple[str, str], Selection] = {}
        self._projections: OrderedDict[tuple[str, str], Selection] = OrderedDict()
        self._times = TimeFormatter(self._tz)

    # -- compiling ---------------------------------------------------------

    def named(self, resource: str, view: str) -> Selection:
        """Return a named selection: "full", "shallow", "limited" or a nested view name."""
        key = (resource, view)
        sel = self._named.get(key)
        if sel is None:
            sel = self._compile_named(resource, view)
            self._named[key] = sel
        return sel

    def _compile_named(self, resource: str, view: str) -> Selection:
        spec = self.registry.specs[resource]
        fmap = spec.field_map()
        entries: list[tuple[Field, Selection | None]] = []
        if view == "limited":
            return self._compiled(Selection(resource, ((fmap["id"], None),)))
        names: Iterable[str] = (
            (f.name for f in spec.fields if not f.embedded_only)
            if view in ("full", "shallow")
            else spec.views[view]
        )
        for name in names:
            f = fmap[name]
            sub = None
            if f.target is not None:
                sub_view = "key" if view == "shallow" else f.view
                sub = self.named(f.target, sub_view)
            entries.append((f, sub))
        return self._compiled(Selection(resource, tuple(entries)))

    def projection(self, resource: str, fields: Any) -> Selection:
        """Return the selection of a parsed `fields` JSON value (cached per field set).

        Raises SelectionError for unknown names or a malformed structure.
        """
        key = (resource, _encode(fields))
        sel = self._projections.get(key)
        if sel is not None:
            self._projections.move_to_end(key)
            return sel
        sel = self._compile_fields(resource, fields)
        self._projections[key] = sel
        if len(self._projections) > self.FIELDS_CACHE_SIZE:
            self._projections.popitem(last=False)
        return sel

    def _compile_fields(self, resource: str, fields: Any) -> Selection:
        spec = self.registry.specs[resource]
        fmap = spec.field_map()
        if not isinstance(fields, list):
            raise SelectionError("fields must be a JSON array")
        entries: list[tuple[Field, Selection | None]] = []
        for item in fields:
            pairs: list[tuple[str, Any]]
            if isinstance(item, str):
                pairs = [(item, None)]
            elif isinstance(item, dict):
                pairs = list(item.items())
            else:
                raise SelectionError(f"fields entry {item!r} is neither a name nor an object")
            for raw, nested in pairs:
                # Examples mix hyphens and underscores in `fields` (coupa-api.md 3).
                name = raw.replace("_", "-")
                f = fmap.get(name)
                if f is None:
                    raise SelectionError(f"unknown field {raw!r}")
                sub: Selection | None = None
                if f.target is not None:
                    sub = (
                        self.named(f.target, f.view)
                        if nested is None
                        else self._compile_fields(f.target, nested)
                    )
                elif nested is not None:
                    raise SelectionError(f"{raw!r} is not an association")
                entries.append((f, sub))
        if not entries:
            raise SelectionError("fields is empty")
        return self._compiled(Selection(resource, tuple(entries)))

    def _compiled(self, sel: Selection) -> Selection:
        """Compile `sel.fn`: one function returning the parts of a record's JSON.

        Scalars and keys are joined into one string per run; each nested
        reference is its own part (the target's cached text). Names and defaults
        enter the generated code as Python literals (`repr`) or through its
        namespace, never as raw text.
        """
        ns: dict[str, Any] = {
            "V": _value,
            "S": encode_basestring,
            "I": int.__repr__,
            "T": self._times.json,
            "str": str,
            "int": int,
        }
        body = ["def render(rec):", "    get = rec.get"]
        # (True, constant text) | (False, scalar expression) | (None, reference expression)
        parts: list[tuple[bool | None, str]] = []
        for i, (name, kind, default, sub) in enumerate(sel.plan):
            if default is None:
                body.append(f"    v{i} = get({name!r})")
            else:
                ns[f"D{i}"] = default
                body.append(f"    v{i} = get({name!r}, D{i})")
            parts.append((True, ("," if i else "{") + encode_basestring(name) + ":"))
            v = f"v{i}"
            if sub is not None:
                if kind == "ref":
                    ns[f"C{i}"] = sub.text  # the same dict for the selection's lifetime
                    ns[f"R{i}"] = partial(self._render_ref, sub)
                    expr = f"(C{i}.get({v}) or R{i}({v}))"
                else:
                    ns[f"L{i}"] = partial(self._render_refs, sub)
                    expr = f"L{i}({v})"
            elif kind == "datetime":
                expr = f"T({v})"
            elif kind in ("str", "decimal"):
                expr = f"(S({v}) if {v}.__class__ is str else V({v}))"
            elif kind == "int":
                expr = f"(I({v}) if {v}.__class__ is int else V({v}))"
            elif kind == "bool":
                expr = f"('true' if {v} is True else 'false' if {v} is False else V({v}))"
            else:
                expr = f"V({v})"
            parts.append((None if sub is not None else False, expr))
        if not parts:
            parts.append((True, "{"))
        parts.append((True, "}"))
        # Tuple items: a join of each run of keys and scalars (a literal if the run is
        # all keys), and each reference on its own.
        items: list[str] = []
        run: list[str] = []  # Python expressions
        pending = ""  # constant text not yet in `run`
        for kind_of, text in parts:
            if kind_of is True:
                pending += text
                continue
            if pending:
                run.append(repr(pending))
                pending = ""
            if kind_of is False:
                run.append(text)
                continue
            if run:
                items.append(run[0] if len(run) == 1 else f"''.join(({', '.join(run)},))")
                run = []
            items.append(text)
        if pending:
            run.append(repr(pending))
        if run:
            items.append(run[0] if len(run) == 1 else f"''.join(({', '.join(run)},))")
        body.append(f"    return ({', '.join(items)},)")
        exec(compile("\n".join(body), f"<render {sel.resource}>", "exec"), ns)  # noqa: S102
        sel.fn = ns["render"]
        return sel

    # -- rendering ---------------------------------------------------------

    def format_time(self, epoch: int) -> str:
        """Return ISO 8601 with the instance's offset, e.g. 2024-03-01T10:15:00-08:00."""
        return self._times.json(epoch)[1:-1]

    def render(self, sel: Selection, record: Record) -> str:
        """Return the JSON text of `record` under `sel` (cached)."""
        rec_id: int = record["id"]
        parts = sel.cache.get(rec_id)
        if parts is None:
            parts = sel.cache[rec_id] = sel.fn(record)
        return "".join(parts)

    def render_list(self, sel: Selection, records: Iterable[Record]) -> str:
        """Return the JSON array of `records` under `sel` (each cached)."""
        cache, fn = sel.cache, sel.fn
        out: list[str] = ["["]
        for record in records:
            rec_id = record["id"]
            parts = cache.get(rec_id)
            if parts is None:
                parts = cache[rec_id] = fn(record)
            out += parts
            out.append(",")
        if len(out) > 1:
            out.pop()
        out.append("]")
        return "".join(out)

    def _render_ref(self, sel: Selection, rec_id: Any) -> str:
        if rec_id is None:
            return "null"
        text = sel.text.get(rec_id)
        if text is None:
            target = self._lookup(sel.resource, rec_id)
            if target is None:
                return "null"
            text = sel.text[rec_id] = "".join(sel.fn(target))
        return text

    def _render_refs(self, sel: Selection, rec_ids: Any) -> str:
        return "[" + ",".join([self._render_ref(sel, v) for v in (rec_ids or ())]) + "]"

    def parse_time(self, text: str) -> int:
        """Return epoch seconds of an ISO 8601 text rendered by `format_time`."""
        return int(datetime.fromisoformat(text).timestamp())

    # -- invalidation ------------------------------------------------------

    def _selections(self) -> Iterable[Selection]:
        yield from self._named.values()
        yield from self._projections.values()

    def invalidate(self, resource: str, ids: Iterable[int] | None = None) -> None:
        """Drop cached JSON after records of `resource` changed (all of them if ids is None)."""
        id_list = None if ids is None else list(ids)
        for sel in self._selections():
            if resource in sel.deps or (id_list is None and sel.resource == resource):
                # The changed record may be embedded anywhere: rebuild lazily.
                sel.clear()
            elif sel.resource == resource and id_list is not None:
                for rec_id in id_list:
                    sel.cache.pop(rec_id, None)
                    sel.text.pop(rec_id, None)

    def clear(self) -> None:
        """Drop every cache (after a reset or a state load)."""
        for sel in self._selections():
            sel.clear()


def utc_now() -> int:
    """Return the current time as epoch seconds."""
    return int(datetime.now(UTC).timestamp())

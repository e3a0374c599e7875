"""JSON rendering of stored records, with per-record caches.

A `Selection` is a compiled field tree (the full record, `return_object=shallow`
or `limited`, a nested view, or a `fields=[...]` projection). Each selection
caches the JSON text of every record it has rendered, so walking pages costs a
dictionary lookup per record; mutations drop the affected entries.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
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


class Selection:
    """A compiled set of fields of one resource, with a JSON cache per record id."""

    __slots__ = ("cache", "deps", "entries", "plan", "resource")

    def __init__(self, resource: str, entries: tuple[tuple[Field, Selection | None], ...]) -> None:
        self.resource = resource
        self.entries = entries
        self.cache: dict[int, str] = {}
        deps: set[str] = set()
        for _f, sub in entries:
            if sub is not None:
                deps.add(sub.resource)
                deps |= sub.deps
        self.deps: frozenset[str] = frozenset(deps)
        # Flattened for the render loop (attribute lookups dominate cold renders).
        self.plan: tuple[tuple[str, str, Any, Selection | None], ...] = tuple(
            (f.name, f.kind, f.default, sub) for f, sub in entries
        )


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
        self._fmt_cache: dict[int, str] = {}

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
            return Selection(resource, ((fmap["id"], None),))
        names: Iterable[str] = (
            (f.name for f in spec.fields) if view in ("full", "shallow") else spec.views[view]
        )
        for name in names:
            f = fmap[name]
            sub = None
            if f.target is not None:
                sub_view = "key" if view == "shallow" else f.view
                sub = self.named(f.target, sub_view)
            entries.append((f, sub))
        return Selection(resource, tuple(entries))

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
        return Selection(resource, tuple(entries))

    # -- rendering ---------------------------------------------------------

    def format_time(self, epoch: int) -> str:
        """Return ISO 8601 with the instance's offset, e.g. 2024-03-01T10:15:00-08:00."""
        text = self._fmt_cache.get(epoch)
        if text is None:
            text = datetime.fromtimestamp(epoch, self._tz).isoformat()
            if len(self._fmt_cache) > 500_000:
                self._fmt_cache.clear()
            self._fmt_cache[epoch] = text
        return text

    def render(self, sel: Selection, record: Record) -> str:
        """Return the JSON text of `record` under `sel` (cached)."""
        rec_id: int = record["id"]
        text = sel.cache.get(rec_id)
        if text is None:
            text = self._render(sel, record)
            sel.cache[rec_id] = text
        return text

    def _render_ref(self, sel: Selection, rec_id: Any) -> str:
        if rec_id is None:
            return "null"
        text = sel.cache.get(rec_id)
        if text is None:
            target = self._lookup(sel.resource, rec_id)
            if target is None:
                return "null"
            text = self._render(sel, target)
            sel.cache[rec_id] = text
        return text

    def _render(self, sel: Selection, record: Record) -> str:
        scalars: dict[str, Any] = {}
        tail: list[str] = []
        get = record.get
        for name, kind, default, sub in sel.plan:
            value = get(name, default)
            if sub is not None:
                if kind == "ref":
                    tail.append(f'"{name}":{self._render_ref(sub, value)}')
                else:
                    inner = ",".join(self._render_ref(sub, v) for v in (value or ()))
                    tail.append(f'"{name}":[{inner}]')
            elif kind == "datetime":
                scalars[name] = None if value is None else self.format_time(value)
            elif kind == "objects" and isinstance(value, tuple):
                scalars[name] = list(value)
            else:
                scalars[name] = value
        text = _encode(scalars)
        if tail:
            sep = "," if scalars else ""
            text = text[:-1] + sep + ",".join(tail) + "}"
        return text

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
                sel.cache.clear()
            elif sel.resource == resource and id_list is not None:
                for rec_id in id_list:
                    sel.cache.pop(rec_id, None)

    def clear(self) -> None:
        """Drop every cache (after a reset or a state load)."""
        for sel in self._selections():
            sel.cache.clear()


def utc_now() -> int:
    """Return the current time as epoch seconds."""
    return int(datetime.now(UTC).timestamp())

"""In-memory store of the sandbox's records, with the mutations of the control API.

Records of each resource are kept in a dict by id plus a sorted id list, so
id-range queries bisect. Every mutation bumps `updated-at` to now (incremental
sync relies on it, coupa-api.md 3) and drops the affected cached JSON.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from coupa.sandbox import generator, layouts
from coupa.sandbox.query import Resolver
from coupa.sandbox.render import Renderer, Selection, utc_now
from coupa.sandbox.resources import Registry, ResourceSpec

Record = dict[str, Any]

STATE_FORMAT = "coupa-sandbox-state/1"
# Fixed lists: adding records to them would duplicate their natural keys.
NOT_ADDABLE = frozenset({"countries", "currencies", "uoms", "payment_terms", "shipping_terms"})


class MutationError(ValueError):
    """A control-API mutation the store cannot apply (answered with 400)."""


class Collection:
    """The records of one resource, by id and in ascending id order."""

    __slots__ = ("ids", "records", "spec", "top")

    def __init__(self, spec: ResourceSpec, records: Iterable[Record] = ()) -> None:
        self.spec = spec
        self.records: dict[int, Record] = {}
        self.ids: list[int] = []
        self.top = 0  # the highest id ever held: ids are never reused, as on Coupa
        for rec in records:
            self.add(rec)

    def add(self, rec: Record) -> None:
        """Insert a record, keeping `ids` sorted."""
        rec_id = rec["id"]
        if rec_id in self.records:
            raise MutationError(f"{self.spec.name} {rec_id} exists")
        self.records[rec_id] = rec
        self.top = max(self.top, rec_id)
        if not self.ids or rec_id > self.ids[-1]:
            self.ids.append(rec_id)
        else:
            bisect.insort(self.ids, rec_id)

    def remove(self, rec_id: int) -> None:
        """Remove a record (a requisition line dropped by an update)."""
        del self.records[rec_id]
        del self.ids[bisect.bisect_left(self.ids, rec_id)]

    def next_id(self) -> int:
        """Return the id the next new record gets."""
        return self.top + 1

    def __len__(self) -> int:
        return len(self.ids)


class Store:
    """All collections of one sandbox instance."""

    def __init__(
        self,
        *,
        registry: Registry,
        seed: int,
        anchor: int,
        sizes: Mapping[str, int] | None = None,
        api_ordered_share: float = 0.3,
        id_layout: str = "dense",
        inactive_shares: Mapping[str, float] | None = None,
    ) -> None:
        self.registry = registry
        self.seed = seed
        self.anchor = anchor
        self.sizes = dict(sizes or {})
        self.api_ordered_share = api_ordered_share
        layouts.check_id_layout(id_layout)
        layouts.check_inactive_shares(inactive_shares or {}, registry)
        self.id_layout = id_layout
        self.inactive_shares = dict(inactive_shares or {})
        self.collections: dict[str, Collection] = {}
        self.renderer = Renderer(registry, self.lookup)
        self.resolver = Resolver(registry, self.lookup)
        self._add_counter = 0

    def use_registry(self, registry: Registry) -> None:
        """Serve the same records under new specs (custom fields declared at run time)."""
        self.registry = registry
        for name, coll in self.collections.items():
            coll.spec = registry.specs[name]
        self.renderer = Renderer(registry, self.lookup)
        self.resolver = Resolver(registry, self.lookup)

    # -- building ----------------------------------------------------------

    def generate(self) -> None:
        """(Re)generate every collection from the seed, anchor and sizes."""
        data, _ = generator.generate(
            seed=self.seed,
            anchor=self.anchor,
            registry=self.registry,
            sizes=self.sizes,
            api_ordered_share=self.api_ordered_share,
            id_layout=self.id_layout,
            inactive_shares=self.inactive_shares,
        )
        self._load(data)
        self._add_counter = 0

    def _load(self, data: Mapping[str, Iterable[Record]]) -> None:
        self.collections = {
            name: Collection(spec, data.get(name, ())) for name, spec in self.registry.specs.items()
        }
        self.renderer.clear()

    def warm(self) -> None:
        """Render every record's full JSON now, so the first walk is as fast as later ones."""
        for name, coll in self.collections.items():
            sel = self.renderer.named(name, "full")
            cache, fn = sel.cache, sel.fn
            for rec_id in coll.ids:
                if rec_id not in cache:
                    cache[rec_id] = fn(coll.records[rec_id])

    def warm_after(self, resource: str, sel: Selection, after_id: int, count: int) -> int | None:
        """Render (into `sel`'s cache) the `count` records following id `after_id`.

        Used to prefetch the next keyset page while the client reads this one.
        Records are looked up now, so a reset since scheduling is harmless.
        Returns the last id looked at, or None when the collection has no more.
        """
        coll = self.collections.get(resource)
        if coll is None or count <= 0:
            return None
        ids = coll.ids
        start = bisect.bisect_right(ids, after_id)
        chunk = ids[start : start + count]
        if not chunk:
            return None
        cache, fn, records = sel.cache, sel.fn, coll.records
        for rec_id in chunk:
            if rec_id not in cache:
                cache[rec_id] = fn(records[rec_id])
        return chunk[-1]

    def lookup(self, resource: str, rec_id: int) -> Record | None:
        """Return a record by resource and id, or None."""
        coll = self.collections.get(resource)
        return None if coll is None else coll.records.get(rec_id)

    # -- reading -----------------------------------------------------------

    def active_ids(self, resource: str, active_only: bool = True) -> list[int]:
        """Return the ids of a resource (only its active set if `active_only`)."""
        coll = self.collection(resource)
        if not active_only:
            return list(coll.ids)
        return [i for i in coll.ids if coll.spec.is_active(coll.records[i])]

    def collection(self, resource: str) -> Collection:
        """Return a collection or raise MutationError for an unknown resource."""
        coll = self.collections.get(resource)
        if coll is None:
            raise MutationError(f"unknown resource {resource!r}")
        return coll

    def counts(self) -> dict[str, dict[str, int]]:
        """Return total and active record counts per resource."""
        return {
            name: {"total": len(coll), "active": len(self.active_ids(name))}
            for name, coll in self.collections.items()
        }

    # -- mutating ----------------------------------------------------------

    def _touch(self, coll: Collection, rec: Record, now: int) -> None:
        fmap = coll.spec.field_map()
        if "updated-at" in fmap:
            rec["updated-at"] = now
        if "updated-by" in fmap:
            rec["updated-by"] = generator.API_USER_ID

    def _records(self, coll: Collection, op: Mapping[str, Any]) -> list[Record]:
        ids = op.get("ids")
        if ids is None and "id" in op:
            ids = [op["id"]]
        if ids is None and "share" in op:
            ids = self._sample(coll, op["share"])
        if ids is None:
            raise MutationError("give `id`, `ids` or `share`")
        out = []
        for rec_id in ids:
            rec = coll.records.get(int(rec_id))
            if rec is None:
                raise MutationError(f"{coll.spec.name} {rec_id} not found")
            out.append(rec)
        return out

    def _sample(self, coll: Collection, share: Any) -> list[int]:
        """Return a seeded sample of round(n * share) ids (at least one if share > 0), sorted."""
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise MutationError("share must be a number between 0 and 1")
        n = len(coll.ids)
        k = min(n, max(1, round(n * share))) if share > 0 else 0
        self._add_counter += 1
        rng = generator.stream(self.seed, coll.spec.name, f"sample-{self._add_counter}")
        return sorted(rng.sample(coll.ids, k))

    def _set_active(self, coll: Collection, rec: Record, active: bool) -> None:
        field = coll.spec.active_field
        if field is None:
            raise MutationError(f"{coll.spec.name} cannot be deactivated")
        if field == "status":
            rec[field] = "active" if active else "inactive"
        else:
            rec[field] = active

    def apply(self, op: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one mutation and return what changed.

        Operations: rename, update, deactivate, reactivate, touch, add,
        move_accounts (see docs/sandbox.md). All but add and move_accounts take `id`,
        `ids` or `share` (a seeded sample of that share of the records). Raises
        MutationError.
        """
        kind = op.get("op")
        now = utc_now()
        if kind == "move_accounts":
            coll = self.collection("accounts")
            chart = op.get("account_type_id")
            if not isinstance(chart, int) or self.lookup("account_types", chart) is None:
                raise MutationError("move_accounts needs an existing account_type_id")
            recs = self._records(coll, op)
            for rec in recs:
                rec["account-type"] = chart
                self._touch(coll, rec, now)
            return self._changed("accounts", [r["id"] for r in recs])
        resource = op.get("resource")
        if not isinstance(resource, str):
            raise MutationError("give `resource`")
        coll = self.collection(resource)
        if kind == "add":
            return self._add(coll, op, now)
        recs = self._records(coll, op)
        if kind == "rename":
            name_field = str(op.get("field") or coll.spec.name_field)
            if name_field not in coll.spec.field_map():
                raise MutationError(f"{resource} has no field {name_field!r}")
            for rec in recs:
                rec[name_field] = str(
                    op.get("name") or f"{rec.get(name_field) or ''} (renamed)"
                ).strip()
        elif kind == "update":
            values = op.get("set")
            if not isinstance(values, dict) or not values:
                raise MutationError("update needs a `set` object")
            fmap = coll.spec.field_map()
            for key in values:
                f = fmap.get(key)
                if f is None or key in ("id", "created-at", "updated-at"):
                    raise MutationError(f"cannot set {key!r} on {resource}")
            for rec in recs:
                rec.update(values)
        elif kind in ("deactivate", "reactivate"):
            for rec in recs:
                self._set_active(coll, rec, kind == "reactivate")
        elif kind != "touch":
            raise MutationError(f"unknown operation {kind!r}")
        for rec in recs:
            self._touch(coll, rec, now)
        return self._changed(resource, [r["id"] for r in recs])

    def _changed(self, resource: str, ids: list[int]) -> dict[str, Any]:
        self.renderer.invalidate(resource, ids)
        return {"resource": resource, "ids": ids}

    def _add(self, coll: Collection, op: Mapping[str, Any], now: int) -> dict[str, Any]:
        resource = coll.spec.name
        if resource in NOT_ADDABLE:
            raise MutationError(f"{resource} is a fixed list; records cannot be added")
        if resource in generator.PURCHASING:
            raise MutationError(f"{resource} are generated from the requisitions size only")
        count = op.get("count", 1)
        if not isinstance(count, int) or not 0 < count <= 100_000:
            raise MutationError("count must be an integer between 1 and 100000")
        self._add_counter += 1
        rng = generator.stream(self.seed, resource, f"add-{self._add_counter}")
        ctx = generator.Context(anchor=now, registry=self.registry)
        ctx.ids = {name: list(c.ids) for name, c in self.collections.items()}
        new_ids: list[int] = []
        if resource == "accounts":
            chart = op.get("account_type_id", 1)  # the first chart: id 1 on every layout
            if not isinstance(chart, int) or self.lookup("account_types", chart) is None:
                raise MutationError("add accounts needs an existing account_type_id")
            codes = {r.get("code") for r in coll.records.values() if r.get("account-type") == chart}
            index = len(codes)
            for _ in range(count):
                while True:
                    rec = generator.make_account(rng, coll.next_id(), chart, index, ctx)
                    index += 1
                    if rec["code"] not in codes:
                        break
                codes.add(rec["code"])
                self._finish_new(coll, rec, rng, now)
                new_ids.append(rec["id"])
        else:
            maker = generator.MAKERS[resource]
            for _ in range(count):
                rec_id = coll.next_id()
                # The position after the last record (the id too on a dense layout).
                rec = maker(rng, rec_id, len(coll), ctx)
                self._finish_new(coll, rec, rng, now)
                ctx.ids[resource].append(rec_id)  # a later one may point at it (a manager)
                new_ids.append(rec_id)
        return {"resource": resource, "ids": new_ids}

    def seed_requisitions(self, count: Any, ordered_share: Any = 0.3) -> dict[str, list[int]]:
        """Add `count` open requisitions of the API user, a share of them ordered into POs.

        What `--api-requisitions` generates at start, added to the live data with ids
        after the current ones and timestamps in the 90 days before now; each call draws
        from its own seeded stream. Returns the new ids by resource. Raises MutationError.
        """
        if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 200_000:
            raise MutationError("requisitions must be an integer between 1 and 200000")
        if not isinstance(ordered_share, int | float) or not 0 <= ordered_share <= 1:
            raise MutationError("ordered_share must be a number between 0 and 1")
        self._add_counter += 1
        rng = generator.stream(self.seed, "api_requisitions", f"seed-{self._add_counter}")
        ctx = generator.Context(anchor=utc_now(), registry=self.registry)
        ctx.ids = {name: list(c.ids) for name, c in self.collections.items()}
        out = {name: [c.records[i] for i in c.ids] for name, c in self.collections.items()}
        result = generator.api_requisitions(
            count,
            ordered_share=float(ordered_share),
            rng=rng,
            ctx=ctx,
            out=out,
            first_ids={name: self.collection(name).next_id() for name in generator.PURCHASING},
        )
        added: dict[str, list[int]] = {}
        for name, records in result.items():
            coll = self.collection(name)
            for rec in records:
                coll.add(rec)
            added[name] = [r["id"] for r in records]
            self.renderer.invalidate(name, added[name])
        return added

    def _finish_new(self, coll: Collection, rec: Record, rng: Any, now: int) -> None:
        fmap = coll.spec.field_map()
        for key in ("created-at", "updated-at"):
            if key in fmap:
                rec[key] = now
        generator.add_custom_values(rng, rec, self.registry, coll.spec.name)
        coll.add(rec)

    # -- state file --------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Return the data as a JSON-able dict."""
        return {
            "format": STATE_FORMAT,
            "seed": self.seed,
            "anchor": self.anchor,
            "id_layout": self.id_layout,
            "inactive_shares": dict(self.inactive_shares),
            "custom_fields": {k: list(v) for k, v in self.registry.custom_fields.items()},
            "requisition_fields": [f.public() for f in self.registry.requisition_fields],
            "resources": {
                name: [coll.records[i] for i in coll.ids] for name, coll in self.collections.items()
            },
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace the data with a state written by `to_state`."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError("not a sandbox state file")
        # The file's layout and shares win (its records carry them): a reset regenerates them.
        self.id_layout = state.get("id_layout", self.id_layout)
        self.inactive_shares = dict(state.get("inactive_shares", self.inactive_shares))
        self._load(state["resources"])


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    """Write JSON to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

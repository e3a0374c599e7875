"""How generated data is laid out: id layouts and inactive shares.

Real instances rarely number their records 1..n: data copies and migrations leave
sparse ids (jumps of about 100,000) or a few dense runs far apart (clustered), and
selective filters (a chart's accounts, the active items) keep a small share of a
collection. The generator makes dense data first; `apply_layout` then gives the
reference resources the ids of a layout and rewrites every reference to them, and
`apply_inactive_shares` sets the active flag of a share of records. Both draw from
random streams of their own, so everything else stays the same.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from coupa.sandbox.resources import Registry

if TYPE_CHECKING:
    from coupa.sandbox.generator import Context

IdLayout = Literal["dense", "sparse", "clustered"]
ID_LAYOUTS: tuple[IdLayout, ...] = ("dense", "sparse", "clustered")

#: Resources whose ids follow the layout: the reference data the product imports.
#: Purchasing documents and the fixed lists of terms and countries stay dense.
LAYOUT_RESOURCES: tuple[str, ...] = (
    "account_types",
    "accounts",
    "suppliers",
    "items",
    "users",
    "addresses",
    "commodities",
    "uoms",
    "currencies",
    "departments",
)

#: Sparse ids: each one is the previous one plus a gap drawn from this range.
SPARSE_GAP = (1, 199_999)
#: Clustered ids: shares of the records in each run (in id order); run k starts
#: near k * CLUSTER_SPACING, the first one at 1.
CLUSTER_SHARES = (0.50, 0.05, 0.30, 0.01, 0.14)
CLUSTER_SPACING = 50_000_000
#: Clustered ids: one lone id in the gaps per this many records, at most CLUSTER_LONE_MAX.
CLUSTER_LONE_EVERY = 100
CLUSTER_LONE_MAX = 8

Record = dict[str, Any]


def check_id_layout(layout: str) -> None:
    """Raise ValueError unless `layout` is one of ID_LAYOUTS."""
    if layout not in ID_LAYOUTS:
        raise ValueError(f"id layout must be one of {', '.join(ID_LAYOUTS)} ({layout!r})")


def layout_ids(layout: str, n: int, rng: random.Random) -> list[int]:
    """Return `n` increasing ids of `layout`; the first is always 1 (the API user's id)."""
    if layout == "dense":
        return list(range(1, n + 1))
    if layout == "sparse":
        return _sparse(n, rng)
    check_id_layout(layout)
    return _clustered(n, rng)


def _sparse(n: int, rng: random.Random) -> list[int]:
    out: list[int] = []
    last = 0
    low, high = SPARSE_GAP
    for index in range(n):
        last = 1 if index == 0 else last + rng.randint(low, high)
        out.append(last)
    return out


def _clustered(n: int, rng: random.Random) -> list[int]:
    if n <= 0:
        return []
    lone = min(CLUSTER_LONE_MAX, n // CLUSTER_LONE_EVERY)
    in_runs = n - lone
    counts = [int(in_runs * share) for share in CLUSTER_SHARES]
    counts[0] += in_runs - sum(counts)
    # Runs never reach the next one, however many records there are.
    spacing = max(CLUSTER_SPACING, 4 * n)
    ids: list[int] = []
    bounds: list[tuple[int, int]] = []  # (first, last) of each run
    for k, count in enumerate(counts):
        start = 1 if k == 0 else k * spacing + rng.randrange(1, 100_000)
        ids.extend(range(start, start + count))
        bounds.append((start, start + max(count, 1) - 1))
    # Lone ids lie in the gaps after each run, well away from the runs' ends.
    taken = set(ids)
    for j in range(lone):
        k = j % len(bounds)
        low = bounds[k][1] + 1000
        high = bounds[k + 1][0] - 1000 if k + 1 < len(bounds) else low + spacing
        while True:
            rec_id = rng.randrange(low, high)
            if rec_id not in taken:
                break
        taken.add(rec_id)
        ids.append(rec_id)
    ids.sort()
    return ids


def apply_layout(
    data: Mapping[str, list[Record]],
    *,
    layout: str,
    seed: int,
    registry: Registry,
    ctx: Context | None = None,
) -> None:
    """Give the records of LAYOUT_RESOURCES the ids of `layout`, in place.

    `data` holds dense ids (record i has id i + 1). Record i gets the layout's i-th id
    (so id order stays generation order and the API user keeps id 1), and every `ref`
    and `refs` field of every resource that targets a remapped resource (the field
    catalogue declares targets) follows, as do `ctx.ids` and `ctx.chart_accounts`.
    Raises ValueError for an unknown layout.
    """
    check_id_layout(layout)
    if layout == "dense":
        return
    new_ids: dict[str, list[int]] = {}
    for resource in LAYOUT_RESOURCES:
        records = data.get(resource)
        if records:
            rng = random.Random(f"{seed}:{resource}:ids:{layout}")
            new_ids[resource] = layout_ids(layout, len(records), rng)
    for resource, records in data.items():
        spec = registry.specs.get(resource)
        if spec is None:
            continue
        refs = [
            (f.name, f.kind == "refs", new_ids[f.target])
            for f in spec.fields
            if f.kind in ("ref", "refs") and f.target in new_ids
        ]
        own = new_ids.get(resource)
        if own is None and not refs:
            continue
        for rec in records:
            if own is not None:
                rec["id"] = own[rec["id"] - 1]
            for name, many, ids in refs:
                value = rec.get(name)
                if value is None:
                    continue
                rec[name] = [ids[v - 1] for v in value] if many else ids[value - 1]
    if ctx is not None:
        for resource, ids in new_ids.items():
            ctx.ids[resource] = list(ids)
        charts = new_ids.get("account_types")
        if charts is not None:
            ctx.chart_accounts = {charts[k - 1]: v for k, v in ctx.chart_accounts.items()}


def nth_id(ids: list[int] | None, index: int) -> int:
    """Return the id of the `index`-th record (0-based) of a resource with `ids`.

    Without ids (the resource is being generated, densely) that is `index + 1`.
    """
    if ids and 0 <= index < len(ids):
        return ids[index]
    return index + 1


def index_of(ids: list[int] | None, rec_id: int) -> int:
    """Return the position (0-based) of `rec_id` among the sorted `ids`; dense without ids."""
    if ids:
        pos = bisect.bisect_left(ids, rec_id)
        if pos < len(ids) and ids[pos] == rec_id:
            return pos
    return rec_id - 1


# -- inactive shares -------------------------------------------------------


def parse_inactive_shares(text: str) -> dict[str, float]:
    """Parse `items=0.95,accounts=0.5` into {resource: share}; raise ValueError with why."""
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"inactive share must be RESOURCE=SHARE, e.g. items=0.95 ({part!r})")
        try:
            share = float(raw)
        except ValueError:
            raise ValueError(
                f"inactive share of {name} must be a number ({raw.strip()!r})"
            ) from None
        out[name] = share
    return out


def check_inactive_shares(shares: Mapping[str, float], registry: Registry) -> None:
    """Raise ValueError unless every resource has an active field and every share is in 0..1."""
    for name, share in shares.items():
        spec = registry.specs.get(name)
        if spec is None or spec.active_field is None:
            able = sorted(n for n, s in registry.specs.items() if s.active_field is not None)
            raise ValueError(
                f"inactive share: {name!r} has no active flag; one of {', '.join(able)}"
            )
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"inactive share of {name} must be between 0 and 1 ({share})")


def apply_inactive_shares(
    data: Mapping[str, list[Record]],
    *,
    shares: Mapping[str, float],
    seed: int,
    registry: Registry,
) -> None:
    """Make exactly round(n * share) records of each resource inactive, the rest active.

    The inactive ones are a seeded sample of their own (the first user, the API user,
    stays active). The active flag is the spec's: `active`, a supplier's `status`
    (draft suppliers not drawn stay draft) or a currency's `enabled`. Raises ValueError
    for a resource without one or a share outside 0..1.
    """
    check_inactive_shares(shares, registry)
    for name, share in shares.items():
        records = data.get(name) or []
        spec = registry.specs[name]
        field = cast(str, spec.active_field)
        first = 1 if name == "users" else 0
        pool = range(first, len(records))
        rng = random.Random(f"{seed}:{name}:inactive")
        chosen = set(rng.sample(pool, min(len(pool), round(len(records) * share))))
        for index, rec in enumerate(records):
            inactive = index in chosen
            if field == "status":
                if inactive:
                    rec[field] = "inactive"
                elif rec.get(field) == "inactive":
                    rec[field] = "active"
            else:
                rec[field] = not inactive

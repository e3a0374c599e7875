"""The tabs' counts of imported, active and offered records, kept between reads.

The Items tab and every Show to Users toggle show the tab's counts, and counting reads
every row of the connection (about 15 ms over 200,000 items, more under load). On
PostgreSQL they are kept in `RecordCounts`, one row per connection and kind:

- a read takes the row when it is valid and was counted with the connection offering
  records as it does now; otherwise it counts while holding the row's lock and keeps
  the result. A read that finds the row locked by a write counts and keeps nothing;
- every write that can change a count marks the row stale inside its own transaction,
  before it writes records (`counts_stale`: imports, deactivations, chart changes, bulk
  Show/Hide), or, for Show/Hide of listed records, holds the row first and adjusts the
  offered count by what it changed (`counts_hold`, `counts_adjust`).

One lock order follows: the counts row, then records. A read's count therefore never
misses a write that commits after it, and a write never adjusts a count taken without
it. On SQLite (the embedded mode) a read would need the database's one write lock to
keep anything, so there the counts are counted on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from coupa.models import RecordCounts
from coupa.reference.registry import PICKABLE, RESOURCES

#: The kinds whose counts a write to a resource changes: each pickable kind its own, and a
#: chart's `selected` and `active` decide which accounts are offered.
AFFECTS: Mapping[str, tuple[str, ...]] = {k: (k,) for k in PICKABLE} | {"charts": ("accounts",)}

Counts = dict[str, int]


def _kept() -> bool:
    alias = router.db_for_write(RecordCounts)
    return connections[alias].vendor == "postgresql"


def counts_stale(*, connection_id: int, resources: Iterable[str]) -> None:
    """Mark the counts that writes to `resources` change as stale.

    Call inside the write's transaction and before it writes records: the row stays
    locked to the end of the transaction, so no read keeps a count without the write.
    """
    kinds = sorted({k for r in resources for k in AFFECTS.get(r, ())})
    if not kinds or not _kept():
        return
    RecordCounts.objects.bulk_create(
        [RecordCounts(connection_id=connection_id, kind=k, valid=False) for k in kinds],
        update_conflicts=True,
        unique_fields=["connection", "kind"],
        update_fields=["valid"],
    )


def counts_hold(*, connection_id: int, kind: str) -> RecordCounts | None:
    """Lock the kind's counts for a write that will adjust them (`counts_adjust`).

    Call inside the write's transaction, before it writes records. None when there is
    nothing to adjust (not kept, or never counted: the row is then left stale).
    """
    if kind not in PICKABLE or not _kept():
        return None
    row = (
        RecordCounts.objects.select_for_update()
        .filter(connection_id=connection_id, kind=kind)
        .first()
    )
    if row is None:
        counts_stale(connection_id=connection_id, resources=[kind])
        return None
    return row


def counts_adjust(held: RecordCounts | None, *, offered: int) -> None:
    """Add `offered` (negative to subtract) to counts held by `counts_hold`."""
    if held is None or not held.valid or not offered:
        return
    RecordCounts.objects.filter(pk=held.pk).update(offered=F("offered") + offered)


def _values(row: RecordCounts | None, offers: bool) -> Counts | None:
    """The row's counts if they are still right (valid, and counted as the connection
    offers records now), else None."""
    if row is None or not row.valid or row.offers != offers:
        return None
    return {"imported": row.imported, "active": row.active, "offered": row.offered}


def counts_read(
    *, connection_id: int, kind: str, offers: bool, count: Callable[[], Counts]
) -> Counts:
    """The kind's counts: kept ones when still right, else `count()` (kept for later)."""
    if kind not in PICKABLE or not _kept():
        return count()
    row = RecordCounts.objects.filter(connection_id=connection_id, kind=kind).first()
    kept = _values(row, offers)
    if kept is not None:
        return kept
    return _count_and_keep(connection_id, kind, offers, count, exists=row is not None)


def counts_read_all(
    *, connection_id: int, offers: bool, count: Callable[[str], Counts]
) -> dict[str, Counts]:
    """Every pickable kind's counts, as `counts_read` gives them: one query when all are
    kept and still right (the tabs' header shows them all)."""
    if not _kept():
        return {kind: count(kind) for kind in PICKABLE}
    rows = {
        row.kind: row
        for row in RecordCounts.objects.filter(connection_id=connection_id, kind__in=PICKABLE)
    }
    out: dict[str, Counts] = {}
    for kind in PICKABLE:
        kept = _values(rows.get(kind), offers)
        out[kind] = (
            kept
            if kept is not None
            else _count_and_keep(
                connection_id, kind, offers, partial(count, kind), exists=kind in rows
            )
        )
    return out


def _count_and_keep(
    connection_id: int, kind: str, offers: bool, count: Callable[[], Counts], *, exists: bool
) -> Counts:
    """Count under the kind's row lock and keep the result (the row was found stale, or
    missing when not `exists`)."""
    mine = RecordCounts.objects.filter(connection_id=connection_id, kind=kind)
    with transaction.atomic(using=router.db_for_write(RecordCounts)):
        if not exists:
            RecordCounts.objects.bulk_create(
                [RecordCounts(connection_id=connection_id, kind=kind)], ignore_conflicts=True
            )
        locked = mine.select_for_update(skip_locked=True).first()
        if locked is None:  # a write holds it and will mark it stale: keep nothing
            return count()
        kept = _values(locked, offers)
        if kept is not None:  # counted by another read while this one waited
            return kept
        values = count()
        fields: dict[str, Any] = {**values, "offers": offers, "valid": True}
        RecordCounts.objects.filter(pk=locked.pk).update(**fields, counted_at=timezone.now())
        return values


def _saved(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    resource = next(name for name in AFFECTS if RESOURCES[name].model is sender)
    counts_stale(connection_id=instance.connection_id, resources=[resource])


def counts_signals_connect() -> None:
    """Mark counts stale when a record is saved one at a time (the admin, fixtures): the
    product's own writes go through the functions above, which signals do not see."""
    from django.db.models.signals import post_save

    for name in AFFECTS:
        post_save.connect(_saved, sender=RESOURCES[name].model, dispatch_uid=f"coupa-counts-{name}")

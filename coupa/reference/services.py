"""Writes of the admin's reference-data choices: charts of accounts and Show to Users."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction

from coupa.models import ChartOfAccounts
from coupa.reference.counts import counts_adjust, counts_hold, counts_stale
from coupa.reference.registry import PICKABLE, RESOURCES
from coupa.reference.selectors import RecordFilter, offered_if_shown_q, record_list
from coupa.reference.sync import SyncRequestError, sync_request_or_attach, sync_runs_lock_live
from integrations.models import Connection, SyncRun
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User

__all__ = [
    "ChartSelectionError",
    "UnknownRecordKindError",
    "charts_select",
    "records_bulk_set_shown",
    "records_set_shown",
]


class ChartSelectionError(ValueError):
    """A chart selection that cannot be saved; the message is one sentence for the admin."""


def charts_select(
    *,
    connection: Connection,
    chart_ids: Collection[int],
    user: User | None,
    enqueue: bool = True,
) -> SyncRun | None:
    """Set the connection's selected charts (our pks) and import what was added.

    Deselected charts keep their accounts (and their Show to Users choices); requesters
    no longer see them because the offered rule checks `chart.selected`. Raises
    ChartSelectionError when nothing is chosen or an id is not an active chart of this
    connection (another tenant's, or deactivated in Coupa since the page was loaded);
    nothing is changed then. A change is audited. When charts
    were added and the connection is usable, a sync starts: "initial" (every resource)
    if the connection never had a successful sync, else "chart_change" (accounts only);
    if a run is already live, it is asked to sync accounts again when it ends. Returns
    that run, or None when nothing needs importing. `enqueue=False` leaves running a new
    run to the caller. Idempotent.
    """
    with transaction.atomic():
        # The one lock order (coupa.reference.sync): connection, its live runs, the
        # accounts' kept counts, then charts; a running sync holds its run while it
        # writes records, so the charts come last.
        Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
        sync_runs_lock_live(connection=connection)
        counts_stale(connection_id=connection.pk, resources=["charts"])
        charts = list(
            ChartOfAccounts.objects.select_for_update(no_key=True)
            .filter(connection=connection)
            .order_by("pk")
        )
        wanted = {int(i) for i in chart_ids}
        if not wanted:
            raise ChartSelectionError("Select at least one chart of accounts.")
        unknown = wanted - {c.pk for c in charts if c.active}
        if unknown:
            raise ChartSelectionError(
                "These charts of accounts are unknown or no longer active in Coupa: "
                + ", ".join(str(i) for i in sorted(unknown))
                + ". Reload the list and choose again."
            )
        added = [c for c in charts if c.pk in wanted and not c.selected]
        removed = [c for c in charts if c.selected and c.pk not in wanted]
        for chart in added:
            chart.selected = True
        for chart in removed:
            chart.selected = False
        if added or removed:
            ChartOfAccounts.objects.bulk_update([*added, *removed], ["selected"])
            parts = []
            if added:
                parts.append("selected " + ", ".join(c.name for c in added))
            if removed:
                parts.append("deselected " + ", ".join(c.name for c in removed))
            audit_record(
                organization=connection.organization,
                action=AuditEvent.Action.CHARTS_CHANGE,
                summary=("Charts of accounts: " + "; ".join(parts))[:500],
                actor=user,
                connection=connection,
                details={
                    "added": [c.external_id for c in added],
                    "removed": [c.external_id for c in removed],
                    "selected": sorted(c.external_id for c in charts if c.selected),
                },
            )
        if not added:
            return None
        ever_synced = connection.sync_runs.filter(state=SyncRun.State.SUCCEEDED).exists()
        try:
            run, created = sync_request_or_attach(
                connection=connection,
                trigger=SyncRun.Trigger.CHART_CHANGE if ever_synced else SyncRun.Trigger.INITIAL,
                user=user,
                resources=["accounts"] if ever_synced else None,
                full=False,
                enqueue=enqueue,
            )
        except SyncRequestError:
            # Not usable now (needs attention, disconnected): the selection is saved and
            # the next sync after the fix imports the new charts (they have no watermark).
            return None
        if not created:
            # The live run may already be past accounts: sync them again when it ends.
            follow = sorted({*run.follow_up_resources, "accounts"})
            SyncRun.objects.filter(pk=run.pk).update(follow_up_resources=follow)
            run.follow_up_resources = follow
        return run


class UnknownRecordKindError(ValueError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"Show to Users applies to accounts, vendors and items, not {kind!r}.")


@transaction.atomic
def records_set_shown(
    *, connection: Connection, user: User | None, kind: str, ids: Collection[int], shown: bool
) -> int:
    """Show or hide records (our pks) of the connection; return how many changed.

    The choice survives every later sync (imports never write `show_to_users` of an
    existing row). Ids of other connections are ignored (tenant isolation).
    """
    if kind not in PICKABLE:
        raise UnknownRecordKindError(kind)
    model: type[Any] = RESOURCES[kind].model
    held = counts_hold(connection_id=connection.pk, kind=kind)
    mine = model._default_manager.filter(connection=connection, pk__in=list(ids)).exclude(
        show_to_users=shown
    )
    # What the change adds to (or takes from) the offered count: the records that are
    # offered exactly when shown.
    flips = 0
    if held is not None and held.valid:
        flips = mine.filter(offered_if_shown_q(kind, connection=connection)).count()
    changed: int = mine.update(show_to_users=shown)
    counts_adjust(held, offered=flips if shown else -flips)
    if changed:
        _audit(connection, user, kind, shown, changed, {"ids": sorted(ids)[:20]})
    return changed


@transaction.atomic
def records_bulk_set_shown(
    *, connection: Connection, user: User | None, kind: str, filters: RecordFilter, shown: bool
) -> int:
    """Show or hide every record matching the tab's current filter; return how many changed."""
    if kind not in PICKABLE:
        raise UnknownRecordKindError(kind)
    counts_stale(connection_id=connection.pk, resources=[kind])
    qs = record_list(
        organization=connection.organization, connection=connection, kind=kind, filters=filters
    )
    model: type[Any] = RESOURCES[kind].model
    changed: int = (
        model._default_manager.filter(pk__in=qs.values("pk"))
        .exclude(show_to_users=shown)
        .update(show_to_users=shown)
    )
    if changed:
        _audit(
            connection,
            user,
            kind,
            shown,
            changed,
            {
                "filter": {
                    "search": filters.search,
                    "chart": filters.chart,
                    "visibility": filters.visibility,
                    "active": filters.active,
                }
            },
        )
    return changed


def _audit(
    connection: Connection,
    user: User | None,
    kind: str,
    shown: bool,
    changed: int,
    details: dict[str, object],
) -> None:
    spec = RESOURCES[kind]
    noun = spec.singular + ("" if changed == 1 else "s")  # account, vendor, item
    audit_record(
        organization=connection.organization,
        action=AuditEvent.Action.TOGGLE,
        summary=f"{'Showed' if shown else 'Hid'} {changed} {noun} {'to' if shown else 'from'} requesters",
        actor=user,
        connection=connection,
        details={"kind": kind, "shown": shown, "count": changed, **details},
    )

"""Choose which charts of accounts have their accounts imported and offered."""

from __future__ import annotations

from collections.abc import Collection

from django.db import transaction

from coupa.models import ChartOfAccounts
from coupa.services.sync import SyncRequestError, sync_request_or_attach
from integrations.models import AuditEvent, Connection, SyncRun
from integrations.services import audit_record
from spendflo.users.models import User

__all__ = ["charts_select"]


def charts_select(
    *,
    connection: Connection,
    chart_ids: Collection[int],
    user: User | None,
    enqueue: bool = True,
) -> SyncRun | None:
    """Set the connection's selected charts (our pks) and import what was added.

    Deselected charts keep their accounts (and their Show to Users choices); requesters
    no longer see them because the pickable selector checks `chart.selected`. Ids of
    other connections are ignored (tenant isolation). A change is audited. When charts
    were added and the connection is usable, a sync starts: "initial" (every resource)
    if the connection never had a successful sync, else "chart_change" (accounts only);
    if a run is already live, it is asked to sync accounts again when it ends. Returns
    that run, or None when nothing needs importing. `enqueue=False` leaves running a new
    run to the caller. Idempotent.
    """
    with transaction.atomic():
        charts = list(
            ChartOfAccounts.objects.select_for_update().filter(connection=connection).order_by("pk")
        )
        wanted = {int(i) for i in chart_ids}
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

"""Sync Coupa reference data: request, run, cancel and watch SyncRuns.

One live run per connection. `sync_request` creates a run (or returns the live one) and
enqueues `coupa.sync_run_execute`; `sync_run_execute` claims the run's lease with a
conditional UPDATE, walks the resources in `RESOURCE_ORDER` and, after every batch of
pages, upserts the records and renews the lease (heartbeat, progress, counts, request
statistics) in one transaction, then checks whether a cancel was asked for. A run whose
heartbeat went stale (its worker died) is marked failed by the next request.

What each resource walk fetches (coupa-api.md §3, §4, §9.10):
- first import (no watermark) and reconcile (`full`): the active set; once the whole
  walk succeeded, active rows it did not return are marked inactive;
- otherwise: `updated-at[gt_or_eq]=<watermark - overlap>` whatever the status, so
  deactivations arrive as updates.
A resource's watermark moves to the run's start only after its walk completed. Accounts
keep one watermark per chart (`accounts:<Coupa chart id>`), so a newly selected chart gets
a first import while the others stay incremental. Nothing is ever deleted.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from coupa import connection_client
from coupa.client import CoupaClient, format_datetime
from coupa.exceptions import CoupaAuthError, CoupaError
from coupa.importers import (
    RESOURCE_ORDER,
    RESOURCES,
    ResourceCounts,
    ResourceSpec,
    chart_pks,
    deactivate_unseen,
    import_records,
)
from coupa.models import ChartOfAccounts, CoupaRecordModel, PickableRecordModel
from coupa.stats import RequestStats
from coupa.types import CoupaRecord
from integrations.models import AuditEvent, Connection, Provider, SyncRun, SyncWatermark
from integrations.services import audit_record
from spendflo.users.models import User

__all__ = [
    "RESOURCE_ORDER",
    "SyncRequestError",
    "sync_cancel",
    "sync_request",
    "sync_request_all",
    "sync_request_or_attach",
    "sync_run_execute",
    "sync_run_fail",
    "sync_run_live",
    "sync_runs_fail_stale",
    "sync_status",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]

STALE_MESSAGE = (
    "The sync stopped responding (its worker probably stopped) and was marked failed; "
    "what it imported is kept and the next sync continues from there."
)
TIME_LIMIT_MESSAGE = (
    "The sync reached its time limit and stopped; what it imported is kept and the next "
    "sync continues from there."
)
INTERNAL_MESSAGE = (
    "The sync stopped because of an internal error; what it imported is kept. Try again, "
    "and contact support if it keeps failing."
)
LABELS = {
    "charts": "charts of accounts",
    "accounts": "accounts",
    "vendors": "suppliers",
    "items": "items",
    "users": "users",
    "addresses": "addresses",
    "commodities": "commodities",
    "uoms": "units of measure",
    "currencies": "currencies",
    "departments": "departments",
}


class SyncRequestError(Exception):
    """A sync that cannot be started or changed; the message is one sentence for the admin."""


class _LeaseLostError(Exception):
    """Another actor took the run over (it was marked stale): stop without writing."""


class _CancelledError(Exception):
    """The run was asked to stop."""


# -- settings (read when used, never at import) ---------------------------------------


def _stale_after() -> timedelta:
    return timedelta(seconds=float(settings.COUPA_SYNC_STALE_AFTER))


def _queued_stale_after() -> timedelta:
    # A queued run waits for a free worker; only after this long is it presumed lost.
    seconds = float(settings.COUPA_SYNC_QUEUED_STALE_AFTER)
    return max(timedelta(seconds=seconds), _stale_after())


def _overlap() -> timedelta:
    # coupa-api.md §3: query `updated-at` from the watermark minus 5 minutes.
    return timedelta(seconds=float(settings.COUPA_SYNC_OVERLAP))


def _flush_records() -> int:
    return max(1, int(settings.COUPA_SYNC_FLUSH_RECORDS))


def _flush_seconds() -> float:
    return float(settings.COUPA_SYNC_FLUSH_SECONDS)


# -- requesting ------------------------------------------------------------------------


def _unusable_sentence(connection: Connection) -> str | None:
    if connection.archived_at is not None:
        return (
            "This Coupa instance was replaced by another connection; its data is kept "
            "read-only and no longer synced."
        )
    state = connection.state
    if state == Connection.State.CONNECTED:
        return None
    if state == Connection.State.NEEDS_ATTENTION:
        reason = connection.state_reason.strip()
        return (
            "The Coupa connection needs attention"
            + (f" ({reason.rstrip('.')})" if reason else "")
            + "; fix it and validate the connection to resume syncing."
        )
    if state == Connection.State.DISCONNECTED:
        return "Coupa is disconnected; connect it again to sync data."
    return "Coupa is not connected yet; finish connecting before syncing data."


def _is_stale(run: SyncRun, now: datetime) -> bool:
    if run.state == SyncRun.State.RUNNING:
        beat = run.heartbeat_at or run.started_at or run.created_at
        return beat < now - _stale_after()
    if run.state == SyncRun.State.QUEUED:
        return run.created_at < now - _queued_stale_after()
    return False


def _fail_stale(run: SyncRun, now: datetime) -> bool:
    # Conditional on the heartbeat still being the stale one: a worker that beats in the
    # meantime keeps its run.
    updated = SyncRun.objects.filter(
        pk=run.pk, state=run.state, heartbeat_at=run.heartbeat_at
    ).update(state=SyncRun.State.FAILED, error=STALE_MESSAGE, finished_at=now, lease_token="")
    if updated:
        logger.warning("Sync run %s of connection %s went stale; marked failed", run.pk, run.connection_id)
    return bool(updated)


def _normalise_resources(resources: Sequence[str] | None) -> list[str]:
    if not resources:
        return []
    unknown = [r for r in resources if r not in RESOURCES]
    if unknown:
        raise SyncRequestError(
            f"Unknown resource {unknown[0]!r}; choose from {', '.join(RESOURCE_ORDER)}."
        )
    wanted = set(resources)
    return [r for r in RESOURCE_ORDER if r in wanted]


def sync_request_or_attach(
    *,
    connection: Connection,
    trigger: str,
    user: User | None,
    resources: Sequence[str] | None,
    full: bool,
    enqueue: bool = True,
) -> tuple[SyncRun, bool]:
    """Like `sync_request`, and tell whether a new run was created (False: attached)."""
    wanted = _normalise_resources(resources)
    with transaction.atomic():
        # The connection row serialises requests: two clicks cannot create two runs.
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        sentence = _unusable_sentence(locked)
        if sentence is not None:
            raise SyncRequestError(sentence)
        now = timezone.now()
        live = None
        for run in locked.sync_runs.filter(state__in=SyncRun.LIVE_STATES).order_by("created_at"):
            if _is_stale(run, now):
                _fail_stale(run, now)
            elif live is None:
                live = run
        if live is not None:
            return live, False
        run = SyncRun.objects.create(
            connection=locked,
            trigger=trigger,
            full=full,
            resources=wanted,
            requested_by=user,
            heartbeat_at=now,
        )
        if user is not None or trigger == SyncRun.Trigger.MANUAL:
            audit_record(
                organization=locked.organization,
                action=AuditEvent.Action.SYNC_REQUEST,
                summary=f"Requested a {'full ' if full else ''}Coupa sync"
                + (f" of {', '.join(wanted)}" if wanted else ""),
                actor=user,
                connection=locked,
                details={"sync_run": run.pk, "trigger": trigger, "full": full, "resources": wanted},
            )
        if enqueue:
            from coupa.tasks import sync_run_execute_task

            run_id = run.pk
            transaction.on_commit(lambda: sync_run_execute_task.delay(run_id))
        return run, True


def sync_request(
    *,
    connection: Connection,
    trigger: str,
    user: User | None = None,
    resources: Sequence[str] | None = None,
    full: bool = False,
    enqueue: bool = True,
) -> SyncRun:
    """Start a sync of the connection, or return the live one (attach).

    A live run whose heartbeat is stale (`COUPA_SYNC_STALE_AFTER`, default 120 s) is
    marked failed first. Manual requests (or any with a user) are audited. The run is
    enqueued on commit (`enqueue=False`: the caller runs `sync_run_execute` itself).
    Raises SyncRequestError with a sentence when the connection is not usable
    (disconnected, archived, needs attention, not connected) or a resource is unknown.
    """
    run, _ = sync_request_or_attach(
        connection=connection,
        trigger=trigger,
        user=user,
        resources=resources,
        full=full,
        enqueue=enqueue,
    )
    return run


def sync_request_all(*, trigger: str, full: bool = False) -> int:
    """Start (or attach to) a sync of every usable Coupa connection; return how many.

    Connections that are disconnected, archived or need attention are skipped (hourly
    syncs pause until an admin fixes the connection). Stale runs are failed first.
    """
    sync_runs_fail_stale()
    started = 0
    connections = Connection.objects.filter(
        provider=Provider.COUPA, archived_at__isnull=True, state=Connection.State.CONNECTED
    )
    for connection in connections:
        try:
            sync_request(connection=connection, trigger=trigger, full=full)
        except SyncRequestError as exc:
            logger.info("Coupa sync of connection %s skipped: %s", connection.pk, exc)
            continue
        started += 1
    return started


def sync_runs_fail_stale() -> int:
    """Mark every live run whose heartbeat went stale failed; return how many."""
    now = timezone.now()
    failed = 0
    for run in SyncRun.objects.filter(state__in=SyncRun.LIVE_STATES):
        if _is_stale(run, now) and _fail_stale(run, now):
            failed += 1
    return failed


def sync_run_live(*, connection: Connection) -> SyncRun | None:
    """Return the connection's live run (queued or running, heartbeat fresh), if any."""
    now = timezone.now()
    for run in connection.sync_runs.filter(state__in=SyncRun.LIVE_STATES).order_by("-created_at"):
        if not _is_stale(run, now):
            return run
    return None


@transaction.atomic
def sync_cancel(*, run: SyncRun, user: User | None) -> SyncRun:
    """Ask a live run to stop; a queued one is cancelled at once.

    A running run stops after its current batch (what it wrote is kept, the watermark of
    the unfinished resource does not move). Audited. Idempotent; a finished run is
    returned unchanged.
    """
    now = timezone.now()
    if SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(
        state=SyncRun.State.CANCELLED, cancel_requested=True, finished_at=now
    ):
        pass
    elif not SyncRun.objects.filter(
        pk=run.pk, state=SyncRun.State.RUNNING, cancel_requested=False
    ).update(cancel_requested=True):
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    audit_record(
        organization=run.connection.organization,
        action=AuditEvent.Action.SYNC_REQUEST,
        summary=f"Cancelled Coupa sync {run.pk}",
        actor=user,
        connection=run.connection,
        details={"sync_run": run.pk, "cancel": True},
    )
    return run


def sync_run_fail(*, sync_run_id: int, error: str) -> bool:
    """Mark a live run failed with `error` (a sentence); return whether it was live."""
    return bool(
        SyncRun.objects.filter(pk=sync_run_id, state__in=SyncRun.LIVE_STATES).update(
            state=SyncRun.State.FAILED, error=error, finished_at=timezone.now(), lease_token=""
        )
    )


# -- running ---------------------------------------------------------------------------


@dataclass
class _Walk:
    """The state of one executing run (owned by the worker holding the lease)."""

    run: SyncRun
    token: str
    connection: Connection
    client: CoupaClient
    stats: RequestStats
    on_progress: ProgressCallback | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    resource: str = ""
    pages: int = 0
    records: int = 0
    total_pages: int = 0
    total_records: int = 0
    cancel: bool = False

    def progress(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "pages": self.pages,
            "records": self.records,
            "total_pages": self.total_pages,
            "total_records": self.total_records,
            "done": list(self.done),
        }

    def add_counts(self, resource: str, counts: ResourceCounts) -> None:
        total = ResourceCounts.from_dict(self.counts.get(resource))
        total.add(counts)
        self.counts[resource] = total.as_dict()

    def beat(self) -> None:
        """Renew the lease and save progress; call inside the batch's transaction.

        Raises _LeaseLostError (rolling the batch back) when the run is no longer ours;
        sets `cancel` when a cancel was asked for.
        """
        stats = self.stats
        updated = SyncRun.objects.filter(
            pk=self.run.pk, lease_token=self.token, state=SyncRun.State.RUNNING
        ).update(
            heartbeat_at=timezone.now(),
            progress=self.progress(),
            counts=self.counts,
            requests=stats.requests,
            retries=stats.retries,
            throttled=stats.throttled_429,
        )
        if not updated:
            raise _LeaseLostError
        self.cancel = bool(
            SyncRun.objects.filter(pk=self.run.pk).values_list("cancel_requested", flat=True).first()
        )

    def report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())
        if self.cancel:
            raise _CancelledError

    def start(self, resource: str) -> None:
        self.resource = resource
        self.counts.setdefault(resource, ResourceCounts().as_dict())
        self.pages = 0
        self.records = 0
        with transaction.atomic():
            self.beat()
        self.report()


def _claim(sync_run_id: int) -> tuple[SyncRun | None, str]:
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = SyncRun.objects.filter(
        pk=sync_run_id, state=SyncRun.State.QUEUED, cancel_requested=False
    ).update(state=SyncRun.State.RUNNING, lease_token=token, heartbeat_at=now, started_at=now)
    run = SyncRun.objects.select_related("connection__organization").filter(pk=sync_run_id).first()
    if run is None or not claimed:
        return run, ""
    return run, token


def sync_run_execute(
    *, sync_run_id: int, on_progress: ProgressCallback | None = None
) -> SyncRun | None:
    """Run a queued sync: claim its lease, walk the resources, record the outcome.

    Idempotent for redelivered tasks: a run that is not queued is left alone (a stale
    running one is marked failed). Side effects: GETs to Coupa; upserts rows (never
    deletes); marks rows inactive only after a complete active walk; moves each
    resource's watermark after its walk; on CoupaAuthError/CoupaScopeError puts the
    connection in "needs attention" with the reason; other failures fail the run with a
    sentence (never a secret). Catches SoftTimeLimitExceeded to keep what was done.
    `on_progress` gets the progress dict after every batch (command line).
    Returns the run (None for an unknown id).
    """
    run, token = _claim(sync_run_id)
    if run is None:
        return None
    if not token:
        now = timezone.now()
        if _is_stale(run, now):
            _fail_stale(run, now)
            run.refresh_from_db()
        logger.info("Sync run %s not claimed (state %s)", run.pk, run.state)
        return run
    connection = run.connection
    stats = RequestStats()
    walk: _Walk | None = None
    state = SyncRun.State.SUCCEEDED
    error = ""
    try:
        with connection_client.client_for(connection, stats=stats) as client:
            walk = _Walk(run, token, connection, client, stats, on_progress)
            plan = run.resources or RESOURCE_ORDER
            for resource in RESOURCE_ORDER:
                if resource in plan:
                    _sync_resource(walk, resource)
                    walk.done.append(resource)
    except _LeaseLostError:
        logger.warning("Sync run %s lost its lease; stopping without recording", run.pk)
        run.refresh_from_db()
        return run
    except _CancelledError:
        state, error = SyncRun.State.CANCELLED, "Cancelled before it finished; what it imported is kept."
    except CoupaAuthError as exc:  # includes CoupaScopeError
        state, error = SyncRun.State.FAILED, exc.user_message
        _needs_attention(connection, exc.user_message)
        logger.info("Sync run %s: Coupa refused access (%s)", run.pk, type(exc).__name__)
    except CoupaError as exc:
        resource = walk.resource if walk else ""
        state = SyncRun.State.FAILED
        error = (
            f"The sync stopped while reading {LABELS.get(resource, resource)}: "
            f"{exc.user_message}" if resource else exc.user_message
        )
        logger.info("Sync run %s failed on %s: %s", run.pk, resource, type(exc).__name__)
    except SoftTimeLimitExceeded:
        state, error = SyncRun.State.FAILED, TIME_LIMIT_MESSAGE
    except Exception:
        logger.exception("Sync run %s crashed", run.pk)
        state, error = SyncRun.State.FAILED, INTERNAL_MESSAGE
    return _finish(run, token, walk, stats, state, error)


@transaction.atomic
def _needs_attention(connection: Connection, sentence: str) -> None:
    # Hourly syncs skip the connection from now on; a successful validation resumes them.
    changed = Connection.objects.filter(pk=connection.pk, archived_at__isnull=True).update(
        state=Connection.State.NEEDS_ATTENTION, state_reason=sentence, updated_at=timezone.now()
    )
    if changed:
        audit_record(
            organization=connection.organization,
            action=AuditEvent.Action.NEEDS_ATTENTION,
            summary=f"A sync could not use Coupa at {connection.host}: {sentence}"[:500],
            connection=connection,
        )


def _finish(
    run: SyncRun,
    token: str,
    walk: _Walk | None,
    stats: RequestStats,
    state: str,
    error: str,
) -> SyncRun:
    values: dict[str, Any] = {
        "state": state,
        "error": error,
        "finished_at": timezone.now(),
        "lease_token": "",
        "requests": stats.requests,
        "retries": stats.retries,
        "throttled": stats.throttled_429,
    }
    if walk is not None:
        values["progress"] = walk.progress()
        values["counts"] = walk.counts
    updated = SyncRun.objects.filter(pk=run.pk, lease_token=token).update(**values)
    run.refresh_from_db()
    if updated and run.follow_up_resources:
        follow = list(run.follow_up_resources)
        try:
            sync_request(
                connection=run.connection, trigger=SyncRun.Trigger.CHART_CHANGE, resources=follow
            )
        except SyncRequestError as exc:
            logger.info("Follow-up sync of run %s skipped: %s", run.pk, exc)
    return run


def _watermark(connection: Connection, key: str) -> datetime | None:
    return (
        SyncWatermark.objects.filter(connection=connection, resource=key)
        .values_list("watermark", flat=True)
        .first()
    )


def _advance(connection: Connection, keys: Collection[str], to: datetime) -> None:
    for key in keys:
        mark, created = SyncWatermark.objects.get_or_create(
            connection=connection, resource=key, defaults={"watermark": to}
        )
        if not created and mark.watermark < to:
            mark.watermark = to
            mark.save(update_fields=["watermark", "updated_at"])


def _sync_resource(walk: _Walk, resource: str) -> None:
    walk.start(resource)
    spec = RESOURCES[resource]
    connection = walk.connection
    assert walk.run.started_at is not None
    run_start = walk.run.started_at
    if resource == "accounts":
        _sync_accounts(walk, spec, run_start)
        return
    since = None if walk.run.full or spec.always_full else _watermark(connection, resource)
    if since is None:
        stamp = timezone.now()
        key, value = spec.active_filter
        _walk_pages(walk, spec, {key: value}, mark_seen=True)
        with transaction.atomic():
            walk.beat()
            walk.add_counts(resource, ResourceCounts(
                deactivated=deactivate_unseen(connection=connection, resource=resource, before=stamp)
            ))
            _advance(connection, [resource], run_start)
            walk.beat()
    else:
        _walk_pages(walk, spec, _since(since), mark_seen=False)
        with transaction.atomic():
            walk.beat()
            _advance(connection, [resource], run_start)


def _since(watermark: datetime) -> dict[str, str]:
    return {"updated-at[gt_or_eq]": format_datetime(watermark - _overlap())}


def _sync_accounts(walk: _Walk, spec: ResourceSpec, run_start: datetime) -> None:
    connection = walk.connection
    selected = sorted(
        ChartOfAccounts.objects.filter(connection=connection, selected=True).values_list(
            "external_id", flat=True
        )
    )
    if not selected:
        return
    marks = {
        int(key.split(":", 1)[1]): mark
        for key, mark in SyncWatermark.objects.filter(
            connection=connection, resource__in=[f"accounts:{c}" for c in selected]
        ).values_list("resource", "watermark")
    }
    fresh = [c for c in selected if walk.run.full or c not in marks]
    known = [c for c in selected if c not in fresh]
    charts = chart_pks(connection=connection)
    if known:
        # One query for every chart already imported, from the oldest of their marks
        # (charts walked together share one mark, so this is usually exact).
        params = {
            "account-type[id][in]": ",".join(str(c) for c in known),
            **_since(min(marks[c] for c in known)),
        }
        _walk_pages(walk, spec, params, mark_seen=False, charts=charts)
        with transaction.atomic():
            walk.beat()
            _advance(connection, [f"accounts:{c}" for c in known], run_start)
    if fresh:
        stamp = timezone.now()
        key, value = spec.active_filter
        params = {"account-type[id][in]": ",".join(str(c) for c in fresh), key: value}
        _walk_pages(walk, spec, params, mark_seen=True, charts=charts)
        with transaction.atomic():
            walk.beat()
            walk.add_counts("accounts", ResourceCounts(
                deactivated=deactivate_unseen(
                    connection=connection, resource="accounts", before=stamp,
                    chart_external_ids=fresh,
                )
            ))
            _advance(connection, [f"accounts:{c}" for c in fresh], run_start)
            walk.beat()


def _walk_pages(
    walk: _Walk,
    spec: ResourceSpec,
    params: dict[str, str],
    *,
    mark_seen: bool,
    charts: dict[int, int] | None = None,
) -> None:
    """Stream the collection; upsert and beat after every batch of pages."""
    pages: Iterator[list[dict[str, Any]]] = walk.client.iter_pages(
        spec.coupa_resource, params, spec.fields
    )
    buffer: list[CoupaRecord] = []
    buffered_pages = 0
    last = time.monotonic()
    limit, interval = _flush_records(), _flush_seconds()

    def flush() -> None:
        nonlocal buffer, buffered_pages, last
        with transaction.atomic():
            counts = import_records(
                connection=walk.connection, resource=spec.name, records=buffer,
                mark_seen=mark_seen, charts=charts,
            )
            walk.add_counts(spec.name, counts)
            walk.pages += buffered_pages
            walk.total_pages += buffered_pages
            walk.records += len(buffer)
            walk.total_records += len(buffer)
            walk.beat()
        buffer, buffered_pages, last = [], 0, time.monotonic()
        walk.report()

    try:
        for page in pages:
            # Parsing raises CoupaProtocolError on a record without an id (bad page).
            buffer.extend(spec.record_type.from_json(raw) for raw in page)
            buffered_pages += 1
            if len(buffer) >= limit or time.monotonic() - last >= interval:
                flush()
        if buffer or buffered_pages:
            flush()
    finally:
        # Stops the client's paging threads when the walk ends early.
        close = getattr(pages, "close", None)
        if close is not None:
            close()


# -- status ---------------------------------------------------------------------------


def sync_status(*, connection: Connection, runs: int = 5) -> dict[str, Any]:
    """Return what `coupa_status` shows: selected charts, per-resource counts, last runs.

    Counts per resource: imported (rows), active, and for accounts, vendors and items
    shown (active and shown to users; accounts also need a selected chart).
    """
    charts = [
        {"id": c.pk, "external_id": c.external_id, "name": c.name, "active": c.active}
        for c in ChartOfAccounts.objects.filter(connection=connection, selected=True).order_by("name")
    ]
    resources: dict[str, dict[str, int]] = {}
    for name in RESOURCE_ORDER:
        model: type[CoupaRecordModel] = RESOURCES[name].model
        # Aliases differ from field names: Django refuses an aggregate named like a field.
        aggregates: dict[str, Any] = {
            "n_imported": Count("pk"), "n_active": Count("pk", filter=Q(active=True))
        }
        if issubclass(model, PickableRecordModel):
            shown = Q(active=True, show_to_users=True)
            if name == "accounts":
                shown &= Q(chart__selected=True)
            aggregates["n_shown"] = Count("pk", filter=shown)
        values = model._default_manager.filter(connection=connection).aggregate(**aggregates)
        resources[name] = {key[2:]: int(value) for key, value in values.items()}
    last_runs = [
        {
            "id": r.pk,
            "trigger": r.trigger,
            "state": r.state,
            "full": r.full,
            "resources": r.resources,
            "created_at": r.created_at.isoformat(),
            "started_at": r.started_at.isoformat() if r.started_at else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "counts": r.counts,
            "requests": r.requests,
            "retries": r.retries,
            "throttled": r.throttled,
            "error": r.error,
        }
        for r in connection.sync_runs.order_by("-created_at", "-pk")[:runs]
    ]
    return {"selected_charts": charts, "resources": resources, "last_runs": last_runs}

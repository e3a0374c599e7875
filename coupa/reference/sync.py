"""Sync Coupa reference data: request, run, cancel and watch SyncRuns.

One live run per connection. `sync_request` creates a run (or returns the live one) and
enqueues `coupa.sync_run_execute`; `sync_run_execute` claims the run's lease
(`integrations.runs`), walks the resources in their declared order
(`coupa.reference.registry`) and, after every batch of pages, upserts the records and
renews the lease (heartbeat, progress, counts, request statistics) in one transaction,
then checks whether a cancel was asked for. A run whose heartbeat went stale (its worker
died) is marked failed by the next request.

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
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from coupa.client.base import CoupaClient, format_datetime
from coupa.client.connection import client_for
from coupa.client.exceptions import CoupaAuthError, CoupaError
from coupa.client.stats import RequestStats
from coupa.client.types import AccountType, CoupaRecord
from coupa.models import ChartOfAccounts
from coupa.reference.importers import (
    ResourceCounts,
    chart_pks,
    deactivate_unseen,
    import_records,
)
from coupa.reference.registry import RESOURCES, Resource
from integrations.jobs import enqueue_on_commit
from integrations.models import Connection, Provider, SyncRun, SyncWatermark
from integrations.runs import (
    StaleAfter,
    run_beat,
    run_cancel_requested,
    run_claim,
    run_fail,
    run_fail_stale,
    run_finish,
    run_is_stale,
)
from integrations.selectors import connection_sync_blocker, connection_syncable_list
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User

__all__ = [
    "INTERNAL_MESSAGE",
    "STALE_MESSAGE",
    "SyncRequestError",
    "charts_fetch_active",
    "sync_cancel",
    "sync_request",
    "sync_request_all",
    "sync_request_or_attach",
    "sync_run_execute",
    "sync_run_fail",
    "sync_run_live",
    "sync_runs_fail_stale",
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
class SyncRequestError(Exception):
    """A sync that cannot be started or changed; the message is one sentence for the admin."""


class _LeaseLostError(Exception):
    """Another actor took the run over (it was marked stale): stop without writing."""


class _CancelledError(Exception):
    """The run was asked to stop."""


# -- settings (read when used, never at import) ---------------------------------------


def _stale_after() -> StaleAfter:
    return StaleAfter(
        running=timedelta(seconds=float(settings.COUPA_SYNC_STALE_AFTER)),
        # A queued run waits for a free worker; only after this long is it presumed lost.
        queued=timedelta(seconds=float(settings.COUPA_SYNC_QUEUED_STALE_AFTER)),
    )


def _overlap() -> timedelta:
    # coupa-api.md §3: query `updated-at` from the watermark minus 5 minutes.
    return timedelta(seconds=float(settings.COUPA_SYNC_OVERLAP))


def _flush_records() -> int:
    return max(1, int(settings.COUPA_SYNC_FLUSH_RECORDS))


def _flush_seconds() -> float:
    return float(settings.COUPA_SYNC_FLUSH_SECONDS)


# -- charts, for the connection validation ----------------------------------------------


def charts_fetch_active(client: CoupaClient) -> list[AccountType]:
    """Every active chart of accounts of the instance, with the fields syncs ask for."""
    spec = RESOURCES["charts"]
    return list(
        client.iter_records(
            AccountType, params=spec.active_params(), fields=spec.fields, concurrent=False
        )
    )


# -- requesting ------------------------------------------------------------------------


def _is_stale(run: SyncRun, now: datetime) -> bool:
    return run_is_stale(run, now=now, stale_after=_stale_after())


def _fail_stale(run: SyncRun, now: datetime) -> bool:
    return run_fail_stale(run, now=now, error=STALE_MESSAGE)


def _normalise_resources(resources: Sequence[str] | None) -> list[str]:
    if not resources:
        return []
    unknown = [r for r in resources if r not in RESOURCES]
    if unknown:
        raise SyncRequestError(
            f"Unknown resource {unknown[0]!r}; choose from {', '.join(RESOURCES)}."
        )
    wanted = set(resources)
    return [r for r in RESOURCES if r in wanted]


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
        sentence = connection_sync_blocker(locked)
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
            enqueue_on_commit("coupa.sync_run_execute", run.pk)
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
    for connection in connection_syncable_list(provider=Provider.COUPA):
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
    return run_fail(SyncRun, sync_run_id, error=error)


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
        if not run_beat(
            self.run,
            self.token,
            progress=self.progress(),
            counts=self.counts,
            requests=stats.requests,
            retries=stats.retries,
            throttled=stats.throttled_429,
        ):
            raise _LeaseLostError
        self.cancel = run_cancel_requested(self.run)

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
    run, token = run_claim(SyncRun, sync_run_id)
    if run is None:
        return None
    if not token:
        now = timezone.now()
        if _is_stale(run, now):
            _fail_stale(run, now)
            run.refresh_from_db()
        logger.info("Sync run %s not claimed (state %s)", run.pk, run.state)
        return run
    connection = Connection.objects.select_related("organization").get(pk=run.connection_id)
    stats = RequestStats()
    walk: _Walk | None = None
    state = SyncRun.State.SUCCEEDED
    error = ""
    try:
        with client_for(connection, stats=stats) as client:
            walk = _Walk(run, token, connection, client, stats, on_progress)
            plan = run.resources or list(RESOURCES)
            for resource in RESOURCES.values():
                if resource.name in plan:
                    _sync_resource(walk, resource)
                    walk.done.append(resource.name)
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
        reading = walk.resource if walk else ""
        state = SyncRun.State.FAILED
        error = (
            f"The sync stopped while reading {RESOURCES[reading].label}: "
            f"{exc.user_message}" if reading else exc.user_message
        )
        logger.info("Sync run %s failed on %s: %s", run.pk, reading, type(exc).__name__)
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
        "requests": stats.requests,
        "retries": stats.retries,
        "throttled": stats.throttled_429,
    }
    if walk is not None:
        values["progress"] = walk.progress()
        values["counts"] = walk.counts
    updated = run_finish(run, token, state=state, error=error, **values)
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


def _sync_resource(walk: _Walk, spec: Resource) -> None:
    resource = spec.name
    walk.start(resource)
    connection = walk.connection
    assert walk.run.started_at is not None
    run_start = walk.run.started_at
    if resource == "accounts":
        _sync_accounts(walk, spec, run_start)
        return
    since = None if walk.run.full or not spec.incremental else _watermark(connection, resource)
    if since is None:
        stamp = timezone.now()
        _walk_pages(walk, spec, spec.active_params(), mark_seen=True)
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


def _sync_accounts(walk: _Walk, spec: Resource, run_start: datetime) -> None:
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
        params = {"account-type[id][in]": ",".join(str(c) for c in fresh), **spec.active_params()}
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
    spec: Resource,
    params: dict[str, str],
    *,
    mark_seen: bool,
    charts: dict[int, int] | None = None,
) -> None:
    """Stream the collection; upsert and beat after every batch of pages."""
    # Parsing raises CoupaProtocolError on a record without an id (bad page).
    pages: Iterator[Sequence[CoupaRecord]] = walk.client.iter_record_pages(
        spec.record_type, params=params, fields=spec.fields
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
            buffer.extend(page)
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

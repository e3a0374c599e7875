"""Carry out a sync run: walk each resource's collection, upsert, renew the lease.

`sync_run_execute` claims the run's lease (`integrations.runs`), walks the resources in
their declared order (`coupa.reference.registry`) and, after every batch of pages,
upserts the records and renews the lease (heartbeat, progress, counts, request
statistics) in one transaction, then checks whether a cancel was asked for.

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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connections as db_connections
from django.db import transaction
from django.utils import timezone

from coupa.client.base import CoupaClient, format_datetime
from coupa.client.connection import client_for
from coupa.client.exceptions import CoupaAuthError, CoupaError
from coupa.client.stats import RequestStats
from coupa.client.types import AccountType, CoupaRecord
from coupa.models import ChartOfAccounts
from coupa.reference.importers import (
    ImportBatch,
    ResourceCounts,
    chart_pks,
    commit_without_flush,
    deactivate_unseen,
    import_batch_prepare,
    import_batch_write,
    refresh_statistics,
)
from coupa.reference.registry import RESOURCES, Resource
from coupa.reference.sync import (
    INTERNAL_MESSAGE,
    SyncRequestError,
    sync_request,
    sync_run_alert,
    sync_run_fail_if_stale,
)
from integrations.alerts import alert_raise
from integrations.jobs import JobQueueUnavailableError
from integrations.models import Alert, Connection, SyncRun, SyncWatermark
from integrations.runs import (
    run_beat,
    run_cancel_requested,
    run_claim,
    run_finish,
    run_hold,
)
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record

__all__ = ["charts_fetch_active", "sync_run_execute"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]

TIME_LIMIT_MESSAGE = (
    "The sync reached its time limit and stopped; what it imported is kept and the next "
    "sync continues from there."
)


class _LeaseLostError(Exception):
    """Another actor took the run over (it was marked stale): stop without writing."""


class _CancelledError(Exception):
    """The run was asked to stop."""


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
    # Rows written per resource when PostgreSQL last re-read the table's statistics.
    analyzed: dict[str, int] = field(default_factory=dict)
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
        # Statistics again each time the rows written double (5,000, 10,000, 20,000, ...):
        # until then the planner takes a new connection for a few rows, and each batch's
        # lookups of existing rows may scan all of them (quadratic in the import's size).
        written = total.created + total.updated + total.deactivated
        due = 2 * self.analyzed.get(resource, settings.COUPA_ANALYZE_AFTER_ROWS // 2)
        if written >= due and refresh_statistics(resource=resource, counts=self.counts[resource]):
            self.analyzed[resource] = written

    def settle(self, resource: str) -> None:
        """After a resource's walk that wrote much of its table: VACUUM (ANALYZE) it, so
        the tabs' counts and searches over it are index-only scans from the start."""
        refresh_statistics(resource=resource, counts=self.counts.get(resource), vacuum=True)

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

    def hold(self) -> None:
        """Lock the run's row before a batch writes records (the one lock order).

        Raises _LeaseLostError when the run is no longer ours, before anything is written.
        """
        if not run_hold(self.run, self.token):
            raise _LeaseLostError

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
        if sync_run_fail_if_stale(run=run):
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
                    walk.settle(resource.name)
    except _LeaseLostError:
        logger.warning("Sync run %s lost its lease; stopping without recording", run.pk)
        run.refresh_from_db()
        return run
    except _CancelledError:
        state, error = (
            SyncRun.State.CANCELLED,
            "Cancelled before it finished; what it imported is kept.",
        )
    except CoupaAuthError as exc:  # includes CoupaScopeError
        state, error = SyncRun.State.FAILED, exc.user_message
        _needs_attention(connection, exc.user_message)
        logger.info("Sync run %s: Coupa refused access (%s)", run.pk, type(exc).__name__)
    except CoupaError as exc:
        reading = walk.resource if walk else ""
        state = SyncRun.State.FAILED
        error = (
            f"The sync stopped while reading {RESOURCES[reading].label}: {exc.user_message}"
            if reading
            else exc.user_message
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
        alert_raise(connection=connection, topic=Alert.Topic.CONNECTION, message=sentence)


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
    if updated:
        sync_run_alert(run_id=run.pk)
    run.refresh_from_db()
    if updated and run.follow_up_resources:
        follow = list(run.follow_up_resources)
        try:
            sync_request(
                connection=run.connection, trigger=SyncRun.Trigger.CHART_CHANGE, resources=follow
            )
        except (SyncRequestError, JobQueueUnavailableError) as exc:
            # The connection is no longer usable, or the broker refused the follow-up (that
            # run is failed with the reason): the next sync imports the added charts, which
            # have no watermark yet.
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
            walk.add_counts(
                resource,
                ResourceCounts(
                    deactivated=deactivate_unseen(
                        connection=connection, resource=resource, before=stamp
                    )
                ),
            )
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
            walk.add_counts(
                "accounts",
                ResourceCounts(
                    deactivated=deactivate_unseen(
                        connection=connection,
                        resource="accounts",
                        before=stamp,
                        chart_external_ids=fresh,
                    )
                ),
            )
            _advance(connection, [f"accounts:{c}" for c in fresh], run_start)
            walk.beat()


class _Writer:
    """Write a walk's batches one after the other, behind the walk when it may.

    Write-behind (`threaded`): each batch is written on one thread of its own, with its own
    database connection, while the walk reads, parses and prepares the next batch
    (`import_batch_prepare`), so the database and this process work at the same time
    instead of taking turns (bench case 3). At most one batch is being written and one
    gathered; `put` waits for the previous batch and raises what writing it raised (a lost
    lease, a cancel, a database error), so the walk stops at the next batch boundary, as it
    does inline. Inline otherwise (`_write_behind`): a walk running inside a caller's
    transaction writes on the caller's connection, since another connection could not see
    the caller's uncommitted rows.
    """

    def __init__(self, write: Callable[..., None], *, threaded: bool) -> None:
        self._write = write
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="coupa-writer")
            if threaded
            else None
        )
        self._pending: Future[None] | None = None

    def put(self, *batch: Any) -> None:
        """Write `batch` (the arguments of `write`): at once inline, else once the previous
        batch is written."""
        if self._pool is None:  # inline
            self._write(*batch)
            return
        self._wait()
        self._pending = self._pool.submit(self._write, *batch)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the last batch (raising what it raised); release the thread and its
        database connection. Also on the way out of a failed walk: a batch being written
        ends (committed or rolled back) before the run's outcome is recorded."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            self._wait()
        finally:
            pool.submit(db_connections.close_all).result()
            pool.shutdown()


def _write_behind() -> bool:
    """PostgreSQL, outside a transaction. SQLite takes one writer at a time and writes in
    this process (the GIL), so a second connection would only add lock waits."""
    db = transaction.get_connection()
    return db.vendor == "postgresql" and not db.in_atomic_block


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

    def write(batch: ImportBatch, record_count: int, page_count: int) -> None:
        # The walk's state (counts, progress, cancel) is changed here only.
        with transaction.atomic():
            commit_without_flush(resource=spec.name)
            walk.hold()
            walk.add_counts(spec.name, import_batch_write(batch))
            walk.pages += page_count
            walk.total_pages += page_count
            walk.records += record_count
            walk.total_records += record_count
            walk.beat()
        walk.report()

    def put() -> None:
        batch = import_batch_prepare(
            connection=walk.connection,
            resource=spec.name,
            records=buffer,
            mark_seen=mark_seen,
            charts=charts,
        )
        writer.put(batch, len(buffer), buffered_pages)

    writer = _Writer(write, threaded=_write_behind())
    try:
        for page in pages:
            buffer.extend(page)
            buffered_pages += 1
            if len(buffer) >= limit or time.monotonic() - last >= interval:
                put()
                buffer, buffered_pages, last = [], 0, time.monotonic()
        if buffer or buffered_pages:
            put()
        writer.close()
    finally:
        # Stops the client's paging threads when the walk ends early.
        close = getattr(pages, "close", None)
        if close is not None:
            close()
        try:
            writer.close()
        except Exception:  # the walk is already failing: its own error is the one to report
            logger.debug("A batch write failed while its walk was stopping", exc_info=True)

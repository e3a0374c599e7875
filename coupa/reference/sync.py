"""Request, attach to, cancel and fail syncs of Coupa reference data (SyncRuns).

One live run per connection. `sync_request` creates a run (or returns the live one) and
enqueues `coupa.sync_run_execute`, which `coupa.reference.walk` carries out under the
run's lease (`integrations.runs`). A run whose heartbeat went stale (its worker died) is
marked failed by the stale sweep (beat, every minute) or by the next request.

Locks are taken in one order everywhere: the connection row (NO KEY: rows referencing it
are not blocked), then its runs, then the tabs' kept counts (coupa.reference.counts), then
its charts and records. A sync's batch locks its run before writing records; a chart
selection locks the connection and its live runs before the charts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from coupa.reference.registry import RESOURCES
from integrations.alerts import alert_clear, alert_raise
from integrations.jobs import JobQueueUnavailableError, enqueue_on_commit
from integrations.models import Alert, Connection, Provider, SyncRun
from integrations.runs import (
    StaleAfter,
    run_fail,
    run_fail_stale,
    run_is_stale,
)
from integrations.selectors import connection_sync_blocker, connection_syncable_list
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User

__all__ = [
    "INTERNAL_MESSAGE",
    "NOT_STARTED_MESSAGE",
    "STALE_MESSAGE",
    "SyncRequestError",
    "sync_cancel",
    "sync_request",
    "sync_request_all",
    "sync_request_or_attach",
    "sync_run_alert",
    "sync_run_fail",
    "sync_run_fail_if_stale",
    "sync_run_live",
    "sync_runs_fail_stale",
    "sync_runs_lock_live",
    "sync_runs_sweep_stale",
]

logger = logging.getLogger(__name__)

STALE_MESSAGE = (
    "The sync stopped responding (its worker probably stopped) and was marked failed; "
    "what it imported is kept and the next sync continues from there."
)
NOT_STARTED_MESSAGE = (
    "The task queue is unavailable right now, so the sync did not start. Try Sync Data "
    "again in a few minutes; hourly syncs go on once the queue is back."
)
INTERNAL_MESSAGE = (
    "The sync stopped because of an internal error; what it imported is kept. Try again, "
    "and contact support if it keeps failing."
)


class SyncRequestError(Exception):
    """A sync that cannot be started or changed; the message is one sentence for the admin."""


# -- settings (read when used, never at import) ---------------------------------------


def _stale_after() -> StaleAfter:
    return StaleAfter(
        running=timedelta(seconds=float(settings.COUPA_SYNC_STALE_AFTER)),
        # A queued run waits for a free worker; only after this long is it presumed lost.
        queued=timedelta(seconds=float(settings.COUPA_SYNC_QUEUED_STALE_AFTER)),
    )


# -- requesting ------------------------------------------------------------------------


def _is_stale(run: SyncRun, now: datetime) -> bool:
    return run_is_stale(run, now=now, stale_after=_stale_after())


def _fail_stale(run: SyncRun, now: datetime) -> bool:
    if not run_fail_stale(run, now=now, error=STALE_MESSAGE):
        return False
    sync_run_alert(run_id=run.pk)
    return True


def sync_run_alert(*, run_id: int) -> None:
    """Tell the connection's admins how a finished run went, when that changes anything.

    A failed run opens the connection's sync alert (one until a run succeeds; nothing when
    it is open already), unless the connection needs attention (its own alert says why)
    or was disconnected or archived meanwhile.
    A succeeded run resolves an open alert (one "works again"). A cancelled run changes
    nothing. PR/PO passes (resource `requisitions`) have an alert of their own.
    """
    run = SyncRun.objects.select_related("connection").filter(pk=run_id).first()
    if run is None:
        return
    topic = Alert.Topic.REQUISITION_SYNC if run.resources == ["requisitions"] else Alert.Topic.SYNC
    connection = run.connection
    if run.state == SyncRun.State.SUCCEEDED:
        alert_clear(connection=connection, topic=topic)
    elif run.state == SyncRun.State.FAILED:
        quiet = (Connection.State.NEEDS_ATTENTION, Connection.State.DISCONNECTED)
        if connection.state in quiet or connection.archived_at is not None:
            return  # its own alert says why, or nobody expects it to sync
        alert_raise(connection=connection, topic=topic, message=run.error or INTERNAL_MESSAGE)


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
        locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
        sentence = connection_sync_blocker(locked)
        if sentence is not None:
            raise SyncRequestError(sentence)
        now = timezone.now()
        live = None
        for run in sync_runs_lock_live(connection=locked):
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
            enqueue_on_commit(
                "coupa.sync_run_execute", run.pk, on_failure=lambda: _not_started(run.pk)
            )
        return run, True


def _not_started(run_id: int) -> str:
    # The broker refused the run's message: fail it at once, so no later request attaches
    # to a run nothing will execute.
    if run_fail(SyncRun, run_id, error=NOT_STARTED_MESSAGE):
        sync_run_alert(run_id=run_id)
    return NOT_STARTED_MESSAGE


def sync_runs_lock_live(*, connection: Connection) -> list[SyncRun]:
    """Lock the connection's live runs, oldest first (inside a transaction).

    Callers hold the connection's lock already; charts and records are locked after.
    """
    return list(
        connection.sync_runs.select_for_update(no_key=True)
        .filter(state__in=SyncRun.LIVE_STATES)
        .order_by("created_at", "pk")
    )


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

    A live run whose heartbeat is stale (`COUPA_SYNC_STALE_AFTER`, default 600 s) is
    marked failed first. Manual requests (or any with a user) are audited. The run is
    enqueued on commit (`enqueue=False`: the caller runs `sync_run_execute` itself).
    Raises SyncRequestError with a sentence when the connection is not usable
    (disconnected, archived, needs attention, not connected) or a resource is unknown,
    and JobQueueUnavailableError (after commit) when the broker refused the run, which is
    then failed with NOT_STARTED_MESSAGE.
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
        except JobQueueUnavailableError:
            logger.warning(
                "Coupa sync of connection %s not queued: broker unavailable", connection.pk
            )
            continue
        started += 1
    return started


def sync_runs_fail_stale(*, now: datetime | None = None) -> list[SyncRun]:
    """Mark every live run whose heartbeat went stale failed; return them (as they were).

    Each is failed under its connection's lock (the lock order of the module docstring),
    conditional on its heartbeat: a worker that beat meanwhile keeps its run.
    """
    now = now or timezone.now()
    failed = []
    for candidate in SyncRun.objects.filter(state__in=SyncRun.LIVE_STATES).order_by("pk"):
        if not _is_stale(candidate, now):
            continue
        with transaction.atomic():
            locked = Connection.objects.select_for_update(no_key=True).get(
                pk=candidate.connection_id
            )
            for run in sync_runs_lock_live(connection=locked):
                if run.pk == candidate.pk and _is_stale(run, now) and _fail_stale(run, now):
                    failed.append(run)
    return failed


def sync_runs_sweep_stale(*, now: datetime | None = None) -> int:
    """Fail stale runs and request again the queued ones among them; return how many failed.

    A running run went stale because its worker died: it is failed with STALE_MESSAGE and
    the next trigger (hourly, Sync Data) continues from the watermarks; it is not retried
    here, so a run that kills its worker does not loop. A queued run went stale because no
    worker ever got its message (lost, or refused by a broker that came back): it is failed
    and the same sync is requested again, when the connection is still usable.
    """
    failed = sync_runs_fail_stale(now=now)
    for run in failed:
        if run.state != SyncRun.State.QUEUED:
            continue
        try:
            sync_request(
                connection=run.connection,
                trigger=run.trigger,
                resources=run.resources or None,
                full=run.full,
            )
        except SyncRequestError as exc:
            logger.info("Lost sync run %s not requested again: %s", run.pk, exc)
    return len(failed)


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


def sync_run_fail_if_stale(*, run: SyncRun) -> bool:
    """Fail the run if it is live but presumed lost; return whether it was failed."""
    now = timezone.now()
    return _is_stale(run, now) and _fail_stale(run, now)


def sync_run_fail(*, sync_run_id: int, error: str) -> bool:
    """Mark a live run failed with `error` (a sentence), alerting the admins; return
    whether it was live."""
    if not run_fail(SyncRun, sync_run_id, error=error):
        return False
    sync_run_alert(run_id=sync_run_id)
    return True

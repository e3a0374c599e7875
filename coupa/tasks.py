"""Celery entry points for Coupa work. Thin: each task calls one service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from coupa.connections.services import connection_validate, connection_validations_sweep_stale
from coupa.reference.sync import (
    INTERNAL_MESSAGE,
    sync_request_all,
    sync_run_fail,
    sync_runs_sweep_stale,
)
from coupa.reference.walk import sync_run_execute
from coupa.requisitions.push import requisition_create, requisition_sweep_stale
from coupa.requisitions.status_sync import requisition_sync_all, requisition_sync_connection
from integrations.models import SyncRun

logger = logging.getLogger(__name__)


@shared_task(
    name="coupa.connection_validate",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def connection_validate_task(validation_id: int) -> None:
    """Run one connection validation (idempotent: a finished run is left alone)."""
    connection_validate(validation_id=validation_id)


@shared_task(name="coupa.validation_sweep", acks_late=True, ignore_result=True)
def validation_sweep_task() -> int:
    """Fail validations whose worker died or whose message was lost, and start them again.

    Beat runs it every minute. Idempotent (conditional updates). Returns how many failed.
    """
    return connection_validations_sweep_stale()


@shared_task(name="coupa.sync_sweep", acks_late=True, ignore_result=True)
def sync_sweep_task() -> int:
    """Fail sync runs whose heartbeat went stale (worker killed) or that were never picked up.

    Beat runs it every minute; lost queued runs are requested again. Idempotent
    (conditional updates). Returns how many runs were failed.
    """
    return sync_runs_sweep_stale()


@shared_task(name="coupa.reference_sync_all", acks_late=True, ignore_result=True)
def reference_sync_all_task() -> int:
    """Start the hourly reference-data sync for every usable Coupa connection.

    Connections that need attention, are disconnected or archived are skipped; a live
    run is attached to rather than doubled. Returns how many connections have a run.
    """
    return sync_request_all(trigger=SyncRun.Trigger.HOURLY)


@shared_task(name="coupa.reference_reconcile_all", acks_late=True, ignore_result=True)
def reference_reconcile_all_task() -> int:
    """Start the daily full reconcile (walk the active sets) for every usable connection."""
    return sync_request_all(trigger=SyncRun.Trigger.RECONCILE, full=True)


# Limits (STYLE.md section 5): one HTTP call (30 s read timeout, retried within
# COUPA_RETRY_DEADLINE) < soft limit < hard limit < the Redis visibility timeout (4 h).
SYNC_SOFT_TIME_LIMIT = 3 * 3600
SYNC_TIME_LIMIT = 3 * 3600 + 900


class SyncRunTask(DjangoTask):
    """Marks the run failed if the task dies outside the service's own handling."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        run_id = kwargs.get("sync_run_id", args[0] if args else None)
        if run_id is not None:
            sync_run_fail(sync_run_id=int(run_id), error=INTERNAL_MESSAGE)


@shared_task(
    name="coupa.sync_run_execute",
    base=SyncRunTask,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=SYNC_SOFT_TIME_LIMIT,
    time_limit=SYNC_TIME_LIMIT,
)
def sync_run_execute_task(sync_run_id: int) -> None:
    """Execute one queued sync run.

    Idempotent (acks_late is safe): the service claims the run's lease with a
    conditional UPDATE, so a redelivered message finds the run taken or finished and
    does nothing; imports are upserts. Not retried by Celery: a failed run is recorded
    and the next hourly run continues from the watermarks.
    """
    sync_run_execute(sync_run_id=sync_run_id)


@shared_task(name="coupa.requisition_sync_all", acks_late=True, ignore_result=True)
def requisition_sync_all_task() -> int:
    """Refresh every open requisition's status and capture its purchase orders (daily).

    Idempotent (GETs and upserts). Returns how many connections were synced.
    """
    return requisition_sync_all(mode="daily")


@shared_task(name="coupa.requisition_sync_hourly", acks_late=True, ignore_result=True)
def requisition_sync_hourly_task() -> int:
    """Pick up the requisitions and purchase orders that changed since the last pass."""
    return requisition_sync_all(mode="hourly")


@shared_task(name="coupa.requisition_sync", acks_late=True, ignore_result=True)
def requisition_sync_task(connection_id: int) -> None:
    """Run the daily pass for one connection now (the Sync activity page's button)."""
    requisition_sync_connection(connection_id=connection_id)


# Limits: a POST's read timeout (30 s) plus lookups and backoff within
# COUPA_PUSH_DEADLINE < soft limit < hard limit; the row's lease outlives the task.
@shared_task(
    name="coupa.requisition_create",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=900,
    time_limit=960,
)
def requisition_create_task(requisition_id: int) -> None:
    """Create one requisition in Coupa exactly once.

    Idempotent (acks_late is safe): the service claims the row's lease with a
    conditional UPDATE, so a redelivered or doubled message does nothing, and a row left
    `sending` is looked up in Coupa before anything is posted again.
    """
    requisition_create(requisition_id=requisition_id)


@shared_task(name="coupa.requisition_sweep", acks_late=True, ignore_result=True)
def requisition_sweep_task() -> int:
    """Queue again requisitions whose worker died mid-send or whose task was lost."""
    return len(requisition_sweep_stale())

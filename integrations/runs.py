"""One-at-a-time jobs under a lease: claim, heartbeat, stale detection, finish.

Works on any concrete `LeasedRun` model (reference syncs now; requisition pushes and
PR/PO syncs next). Every write is a conditional UPDATE, so two workers, a redelivered
task and a stale-run sweep can race without a lock:

- `run_claim` turns a queued run into a running one with a fresh lease token; only one
  caller gets the token.
- `run_hold` locks the run's row for the rest of the caller's transaction, if the caller
  still holds the lease: a batch takes it before writing records, so locks are taken run
  first, then records, as every other writer does.
- `run_beat` renews the heartbeat (and saves progress) only while the caller still holds
  the lease; False tells it the run was taken from it (marked stale) and it must stop.
- `run_is_stale` / `run_fail_stale`: a running run whose heartbeat is older than
  `stale_after`, or a queued run older than `queued_stale_after`, is presumed lost; it is
  failed, conditional on the heartbeat still being the stale one, so a worker that beats
  in the meantime keeps its run.
- `run_finish` records the outcome and releases the lease, again only for the holder.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.utils import timezone

from integrations.models import LeasedRun

__all__ = [
    "StaleAfter",
    "run_beat",
    "run_cancel_requested",
    "run_claim",
    "run_fail",
    "run_fail_stale",
    "run_finish",
    "run_hold",
    "run_is_stale",
]

logger = logging.getLogger(__name__)

RunT = TypeVar("RunT", bound=LeasedRun)


@dataclass(frozen=True)
class StaleAfter:
    """How long a run may go without a heartbeat (running) or a worker (queued)."""

    running: timedelta
    queued: timedelta

    def __post_init__(self) -> None:
        # A queued run waits for a free worker; it is never presumed lost sooner than a
        # running one.
        if self.queued < self.running:
            object.__setattr__(self, "queued", self.running)


def run_claim(model: type[RunT], pk: int) -> tuple[RunT | None, str]:
    """Take the lease of a queued run; return the run and the token ("" if not claimed).

    The run is None for an unknown id. A run that is not queued (running elsewhere,
    finished, cancelled) or whose cancel was asked for is returned with "".
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = model._default_manager.filter(
        pk=pk, state=LeasedRun.State.QUEUED, cancel_requested=False
    ).update(state=LeasedRun.State.RUNNING, lease_token=token, heartbeat_at=now, started_at=now)
    run = model._default_manager.filter(pk=pk).first()
    if run is None or not claimed:
        return run, ""
    return run, token


def run_hold(run: LeasedRun, token: str) -> bool:
    """Lock the run's row (inside a transaction) if `token` still holds the lease."""
    return (
        type(run)
        ._default_manager.select_for_update(no_key=True)
        .filter(pk=run.pk, lease_token=token, state=LeasedRun.State.RUNNING)
        .values_list("pk", flat=True)
        .first()
        is not None
    )


def run_beat(run: LeasedRun, token: str, **values: Any) -> bool:
    """Renew the heartbeat and save `values`, if `token` still holds the lease."""
    return bool(
        type(run)
        ._default_manager.filter(pk=run.pk, lease_token=token, state=LeasedRun.State.RUNNING)
        .update(heartbeat_at=timezone.now(), **values)
    )


def run_cancel_requested(run: LeasedRun) -> bool:
    """Whether someone asked the run to stop (read from the database, not the instance)."""
    return bool(
        type(run)
        ._default_manager.filter(pk=run.pk)
        .values_list("cancel_requested", flat=True)
        .first()
    )


def run_is_stale(run: LeasedRun, *, now: datetime, stale_after: StaleAfter) -> bool:
    """Whether a live run is presumed lost (see the module docstring)."""
    if run.state == LeasedRun.State.RUNNING:
        beat = run.heartbeat_at or run.started_at or run.created_at
        return beat < now - stale_after.running
    if run.state == LeasedRun.State.QUEUED:
        return run.created_at < now - stale_after.queued
    return False


def run_fail_stale(run: LeasedRun, *, now: datetime, error: str) -> bool:
    """Fail a stale run unless it beat meanwhile; return whether it was failed."""
    updated = (
        type(run)
        ._default_manager.filter(pk=run.pk, state=run.state, heartbeat_at=run.heartbeat_at)
        .update(state=LeasedRun.State.FAILED, error=error, finished_at=now, lease_token="")
    )
    if updated:
        logger.warning("%s %s went stale; marked failed", type(run).__name__, run.pk)
    return bool(updated)


def run_finish(run: LeasedRun, token: str, *, state: str, error: str = "", **values: Any) -> bool:
    """Record the outcome and release the lease, if `token` still holds it."""
    return bool(
        type(run)
        ._default_manager.filter(pk=run.pk, lease_token=token)
        .update(state=state, error=error, finished_at=timezone.now(), lease_token="", **values)
    )


def run_fail(model: type[LeasedRun], pk: int, *, error: str) -> bool:
    """Fail a live run whoever holds it (the task died); return whether it was live."""
    return bool(
        model._default_manager.filter(pk=pk, state__in=LeasedRun.LIVE_STATES).update(
            state=LeasedRun.State.FAILED, error=error, finished_at=timezone.now(), lease_token=""
        )
    )

"""The lease mechanism of one-at-a-time jobs (`integrations.runs`), on SyncRun."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import SyncRun
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
from tests.factories import SyncRunFactory

pytestmark = pytest.mark.django_db

STALE = StaleAfter(running=timedelta(minutes=2), queued=timedelta(minutes=10))


def test_only_one_caller_claims_a_queued_run() -> None:
    run = SyncRunFactory()
    claimed, token = run_claim(SyncRun, run.pk)
    again, second = run_claim(SyncRun, run.pk)
    assert claimed is not None and token
    assert again is not None and second == ""
    claimed.refresh_from_db()
    assert claimed.state == SyncRun.State.RUNNING and claimed.lease_token == token
    assert run_claim(SyncRun, 10**9) == (None, "")


def test_a_run_asked_to_cancel_is_not_claimed() -> None:
    run = SyncRunFactory(cancel_requested=True)
    assert run_claim(SyncRun, run.pk)[1] == ""
    assert run_cancel_requested(run)


def test_only_the_lease_holder_beats_and_finishes() -> None:
    run = SyncRunFactory()
    claimed, token = run_claim(SyncRun, run.pk)
    assert claimed is not None
    assert run_beat(claimed, token, progress={"pages": 3})
    assert not run_beat(claimed, "someone-else", progress={"pages": 99})
    assert not run_finish(claimed, "someone-else", state=SyncRun.State.SUCCEEDED)
    claimed.refresh_from_db()
    assert claimed.progress == {"pages": 3} and claimed.state == SyncRun.State.RUNNING
    assert run_finish(claimed, token, state=SyncRun.State.SUCCEEDED, requests=7)
    claimed.refresh_from_db()
    assert (claimed.state, claimed.lease_token, claimed.requests) == ("succeeded", "", 7)
    assert claimed.finished_at is not None
    assert not run_beat(claimed, token)  # a finished run has no lease left


def test_staleness_counts_from_the_heartbeat_or_the_queueing_time() -> None:
    now = timezone.now()
    running = SyncRunFactory(state=SyncRun.State.RUNNING, heartbeat_at=now - timedelta(minutes=3))
    fresh = SyncRunFactory(state=SyncRun.State.RUNNING, heartbeat_at=now - timedelta(minutes=1))
    queued = SyncRunFactory()
    SyncRun.objects.filter(pk=queued.pk).update(created_at=now - timedelta(minutes=5))
    queued.refresh_from_db()
    done = SyncRunFactory(state=SyncRun.State.SUCCEEDED, heartbeat_at=now - timedelta(days=1))
    assert run_is_stale(running, now=now, stale_after=STALE)
    assert not run_is_stale(fresh, now=now, stale_after=STALE)
    # A queued run waits for a free worker: 5 minutes is not lost yet, 11 are.
    assert not run_is_stale(queued, now=now, stale_after=STALE)
    assert run_is_stale(queued, now=now + timedelta(minutes=6), stale_after=STALE)
    assert not run_is_stale(done, now=now, stale_after=STALE)


def test_queued_threshold_is_never_below_the_running_one() -> None:
    assert StaleAfter(running=timedelta(minutes=5), queued=timedelta(minutes=1)).queued == timedelta(
        minutes=5
    )


def test_a_run_that_beat_meanwhile_is_not_failed_as_stale() -> None:
    run = SyncRunFactory()
    claimed, token = run_claim(SyncRun, run.pk)
    assert claimed is not None
    seen = SyncRun.objects.get(pk=run.pk)  # what the sweep read
    assert run_beat(claimed, token)  # the worker is alive after all
    assert not run_fail_stale(seen, now=timezone.now(), error="stale")
    assert SyncRun.objects.get(pk=run.pk).state == SyncRun.State.RUNNING
    seen = SyncRun.objects.get(pk=run.pk)
    assert run_fail_stale(seen, now=timezone.now(), error="stale")
    failed = SyncRun.objects.get(pk=run.pk)
    assert (failed.state, failed.error, failed.lease_token) == ("failed", "stale", "")
    assert not run_beat(claimed, token)  # the old worker lost its lease


def test_run_fail_fails_only_live_runs() -> None:
    live = SyncRunFactory()
    done = SyncRunFactory(state=SyncRun.State.SUCCEEDED)
    assert run_fail(SyncRun, live.pk, error="crashed")
    assert not run_fail(SyncRun, done.pk, error="crashed")
    assert SyncRun.objects.get(pk=done.pk).state == SyncRun.State.SUCCEEDED

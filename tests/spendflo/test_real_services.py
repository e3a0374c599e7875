"""A task sent through the real Redis broker runs on a real Celery worker (CI runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from integrations.models import WorkerHeartbeat
from integrations.tasks import worker_heartbeat_task
from tests.support import REPO_ROOT


@pytest.fixture
def celery_worker_process() -> Iterator[subprocess.Popen[str]]:
    """A real worker consuming from the Redis broker and writing to the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SPENDFLO_IGNORE_DOTENV": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "spendflo", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        # Nobody reads its output: a pipe would fill up and stall the worker.
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )
    yield proc
    # The test is over and the worker idle: nothing to finish (a shutdown takes a second).
    proc.kill()
    proc.wait()


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
@pytest.mark.worker
def test_a_task_sent_through_redis_runs_on_a_real_worker(celery_worker_process) -> None:
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    worker_heartbeat_task.delay()
    _wait_for(lambda: WorkerHeartbeat.objects.exists(), "the worker to record its heartbeat")
    assert WorkerHeartbeat.objects.count() == 1

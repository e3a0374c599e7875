"""Tests against real PostgreSQL, Redis and a Celery worker process (CI runs them all)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from integrations.models import WorkerHeartbeat
from integrations.tasks import worker_heartbeat_task
from spendflo.organizations.models import Organization
from spendflo.users.models import User

ROOT = Path(__file__).resolve().parents[2]


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
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
@pytest.mark.worker
def test_a_task_sent_through_redis_runs_on_a_real_worker(celery_worker_process) -> None:
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    worker_heartbeat_task.delay()
    _wait_for(lambda: WorkerHeartbeat.objects.exists(), "the worker to record its heartbeat")
    assert WorkerHeartbeat.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_enforces_unique_emails_at_the_database_level() -> None:
    org = Organization.objects.create(slug="pg", name="PG")
    User.objects.create_user(email="dup@pg.test", password="x-long-enough-1", organization=org)
    with pytest.raises(IntegrityError), transaction.atomic():
        # Bypass model validation: the database itself must refuse the duplicate.
        User.objects.bulk_create([User(email="dup@pg.test", username="other", organization=org)])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_row_locks_exclude_a_second_writer() -> None:
    org = Organization.objects.create(slug="lock", name="Lock")
    locked = threading.Event()
    release = threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                Organization.objects.select_for_update().get(pk=org.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(10)
        with pytest.raises(DatabaseError), transaction.atomic():
            Organization.objects.select_for_update(nowait=True).get(pk=org.pk)
    finally:
        release.set()
        thread.join()

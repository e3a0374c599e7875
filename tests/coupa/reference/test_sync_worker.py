"""A real Celery worker killed with SIGKILL mid-sync: the run goes stale, the next one heals,
and beat's sweep fails it even when no request comes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone

from coupa.connections.services import ConnectionInput, connection_validate, coupa_connect
from coupa.models import ChartOfAccounts, Item, Vendor
from coupa.reference.sync import STALE_MESSAGE, sync_request, sync_run_live
from coupa.sandbox.testing import running_sandbox
from coupa.tasks import sync_sweep_task
from integrations.models import Connection, SyncRun
from tests.coupa.support import load_charts, stored_ids
from tests.support import REPO_ROOT

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.sandbox]


@pytest.fixture
def start_worker() -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(sandbox_url: str) -> subprocess.Popen[str]:
        db = db_connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
            "REDIS_URL": django_settings.REDIS_URL,
            "SPENDFLO_IGNORE_DOTENV": "1",
            "COUPA_ALLOWED_HOSTS": sandbox_url,
            "COUPA_PAGE_CONCURRENCY": "1",
            # One write (and progress beat) per page; a hung page waits for the test.
            "COUPA_SYNC_FLUSH_RECORDS": "50",
            "COUPA_READ_TIMEOUT": "600",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "spendflo", "worker", "--pool", "solo",
             "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        # The test is over and the workers idle: nothing to finish (a shutdown takes a second).
        proc.kill()
        proc.wait()


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _connected(organization, admin_user, sandbox, settings) -> Connection:
    """Connect and validate in-process (no worker yet), with the client's rate lifted."""
    settings.COUPA_ALLOWED_HOSTS = [sandbox.base_url]
    validation = coupa_connect(
        organization=organization, user=admin_user, enqueue=False,
        data=ConnectionInput(sandbox.base_url, sandbox.client_id, sandbox.client_secret),
    )
    validation = connection_validate(validation_id=validation.pk)
    assert validation.state == "succeeded", validation.error
    Connection.objects.filter(pk=validation.connection_id).update(rate_limit=5000.0, rate_burst=500)
    return Connection.objects.get(pk=validation.connection_id)


def test_killed_worker_leaves_a_stale_run_and_the_next_trigger_heals(
    organization, admin_user, settings, start_worker
) -> None:
    with running_sandbox(rate=0, accounts=200, suppliers=300, items=1500) as sandbox:
        connection = _connected(organization, admin_user, sandbox, settings)
        charts = load_charts(connection)
        ChartOfAccounts.objects.filter(pk__in=[c.pk for c in charts[:2]]).update(selected=True)

        # The third page of items hangs until its client is gone: the worker is killed two
        # pages into items, however fast or slow the machine.
        sandbox.set_faults(apply_to=["/api/items"], slow_seconds=600, next=["none", "none", "slow"])
        worker = start_worker(sandbox.base_url)
        first = sync_request(connection=connection, trigger=SyncRun.Trigger.INITIAL)

        def two_pages_of_items() -> bool:
            first.refresh_from_db()
            return first.progress.get("resource") == "items" and first.progress.get("pages") == 2

        wait_for(two_pages_of_items, "the first run to write two pages of items")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        first.refresh_from_db()
        assert first.state == SyncRun.State.RUNNING  # nobody could record the death
        assert Item.objects.filter(connection=connection).count() == 100
        assert sync_run_live(connection=connection).pk == first.pk  # until its heartbeat is stale

        # No heartbeat comes any more: age the last one past COUPA_SYNC_STALE_AFTER instead
        # of waiting that long.
        settings.COUPA_SYNC_STALE_AFTER = 60
        SyncRun.objects.filter(pk=first.pk).update(heartbeat_at=F("heartbeat_at") - timedelta(seconds=61))
        assert sync_run_live(connection=connection) is None
        start_worker(sandbox.base_url)
        second = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, user=admin_user)
        assert second.pk != first.pk
        first.refresh_from_db()
        assert (first.state, first.error) == (SyncRun.State.FAILED, STALE_MESSAGE)

        def finished() -> bool:
            second.refresh_from_db()
            return not second.is_live

        wait_for(finished, "the second run to finish", 120)
        assert second.state == SyncRun.State.SUCCEEDED, second.error
        for model, name in ((Vendor, "suppliers"), (Item, "items")):
            assert stored_ids(model, connection) == set(sandbox.ids(name, active_only=True))
            rows = model.objects.filter(connection=connection)
            assert rows.count() == rows.values("external_id").distinct().count()


def test_beat_fails_the_run_of_a_killed_worker_and_a_follow_up_starts(
    organization, admin_user, settings, start_worker
) -> None:
    with running_sandbox(rate=0, accounts=50, suppliers=300, items=100) as sandbox:
        connection = _connected(organization, admin_user, sandbox, settings)

        # The second page of vendors hangs until its client is gone: the run is running,
        # one page in, when its worker is killed.
        sandbox.set_faults(apply_to=["/api/suppliers"], slow_seconds=600, next=["none", "slow"])
        worker = start_worker(sandbox.base_url)
        first = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, resources=["vendors"])

        def one_page_of_vendors() -> bool:
            first.refresh_from_db()
            return first.progress.get("resource") == "vendors" and first.progress.get("pages") == 1

        wait_for(one_page_of_vendors, "the run to write one page of vendors")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

        # Beat's pass a minute after the heartbeat went stale (the clock seam: nothing is
        # waited out); no request comes meanwhile.
        with time_machine.travel(
            timezone.now() + timedelta(seconds=django_settings.COUPA_SYNC_STALE_AFTER + 60), tick=False
        ):
            assert sync_sweep_task() == 1
        first.refresh_from_db()
        assert (first.state, first.error) == (SyncRun.State.FAILED, STALE_MESSAGE)
        assert first.lease_token == ""
        assert sync_run_live(connection=connection) is None

        sandbox.clear_faults()
        start_worker(sandbox.base_url)
        second = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, user=admin_user)
        assert second.pk != first.pk

        def finished() -> bool:
            second.refresh_from_db()
            return not second.is_live

        wait_for(finished, "the follow-up run to finish", 120)
        assert second.state == SyncRun.State.SUCCEEDED, second.error
        assert stored_ids(Vendor, connection) == set(sandbox.ids("suppliers", active_only=True))

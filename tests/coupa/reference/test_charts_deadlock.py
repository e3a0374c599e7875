"""Choosing charts while a sync writes them: locks in one order, so no deadlock (PostgreSQL).

Two connections to the database: a sync (in a thread) holds its run's row while it
marks charts inactive, and `PUT /api/v1/coupa/charts` arrives at that moment. A selection
that took the chart locks before the run's would deadlock with it; one of the two would
then fail, the API with a 500.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection as db_connection
from django.db import connections

from coupa.connections.services import ConnectionInput, connection_validate, coupa_connect
from coupa.models import ChartOfAccounts
from coupa.reference import walk
from coupa.reference.sync import sync_request
from coupa.reference.walk import sync_run_execute
from integrations.models import Connection, SyncRun
from tests.factories import ChartFactory

pytestmark = [pytest.mark.postgres, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def _backend_pid() -> int:
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


def _waits_for_a_lock(pid: int) -> bool:
    # pg_locks is read live; a row lock is waited for on the holder's transaction id.
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
        (waiting,) = cursor.fetchone()
    return bool(waiting)


def test_choosing_charts_during_a_sync_that_writes_charts_never_deadlocks(
    organization, admin_user, client_as, sandbox_allowed, monkeypatch, settings
) -> None:
    settings.COUPA_PAGE_CONCURRENCY = 1
    validation = coupa_connect(
        organization=organization,
        user=admin_user,
        enqueue=False,
        data=ConnectionInput(
            sandbox_allowed.base_url, sandbox_allowed.client_id, sandbox_allowed.client_secret
        ),
    )
    assert connection_validate(validation_id=validation.pk).state == "succeeded"
    connection = Connection.objects.get(pk=validation.connection_id)
    charts = list(ChartOfAccounts.objects.filter(connection=connection).order_by("external_id"))
    assert charts and not any(c.selected for c in charts)
    # A chart Coupa no longer lists: the sync's full walk of charts marks it inactive.
    gone = ChartFactory(connection=connection, external_id=990001, selected=False)
    ChartOfAccounts.objects.filter(pk=gone.pk).update(synced_at=gone.synced_at.replace(year=2020))

    run = sync_request(
        connection=connection,
        trigger=SyncRun.Trigger.RECONCILE,
        resources=["charts"],
        full=True,
        enqueue=False,
    )
    holding_run = threading.Event()
    api_pid = _backend_pid()  # the test client's requests use this thread's connection
    original = walk.deactivate_unseen

    def deactivate_while_the_selection_waits(**kw: Any) -> int:
        # The sync holds its run's row (it has just beat); let the selection come and
        # block, then write the charts. (The follow-up run deactivates accounts unhindered.)
        if holding_run.is_set():
            return original(**kw)
        holding_run.set()
        deadline = time.monotonic() + 20
        while not _waits_for_a_lock(api_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        return original(**kw)

    monkeypatch.setattr(walk, "deactivate_unseen", deactivate_while_the_selection_waits)
    outcome: dict[str, Any] = {}

    def execute() -> None:
        try:
            outcome["run"] = sync_run_execute(sync_run_id=run.pk)
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=execute)
    worker.start()
    try:
        assert holding_run.wait(60), "the sync never reached the charts' deactivation"
        response = client_as(admin_user).put(
            "/api/v1/coupa/charts", {"chart_ids": [charts[0].pk]}, content_type="application/json"
        )
    finally:
        worker.join(120)

    assert "error" not in outcome, outcome
    assert response.status_code == 200, response.content
    run.refresh_from_db()
    assert (run.state, run.error) == (SyncRun.State.SUCCEEDED, "")
    selected = ChartOfAccounts.objects.filter(connection=connection, selected=True)
    assert list(selected.values_list("pk", flat=True)) == [charts[0].pk]
    assert not ChartOfAccounts.objects.get(pk=gone.pk).active
    # The chosen chart's accounts are imported by one more run: the sync's follow-up when
    # the selection attached to it, or a run of its own when the sync had just ended.
    accounts_run = SyncRun.objects.exclude(pk=run.pk).get(connection=connection)
    assert (accounts_run.trigger, accounts_run.resources) == (
        SyncRun.Trigger.CHART_CHANGE,
        ["accounts"],
    )
    if response.json()["id"] == run.pk:
        assert run.follow_up_resources == ["accounts"]
    else:
        assert response.json()["id"] == accounts_run.pk

"""On PostgreSQL a walk writes its batches behind itself, on a thread and connection of
their own, when it runs outside a transaction (a worker's sync); inline inside one, and on
SQLite."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection as db

import coupa.reference.walk as walk_module
from coupa.models import Item
from coupa.reference.sync import sync_cancel, sync_request
from coupa.reference.walk import _Writer, sync_run_execute
from integrations.models import Connection, SyncRun, SyncWatermark
from tests.coupa.support import connect_sandbox, run_sync, sandbox_fixtures, stored_ids

SIZES = {"accounts": 20, "suppliers": 30, "items": 260, "users": 5, "addresses": 3}


class _Boom(Exception):
    pass


def _recorder(fail_on: int | None = None) -> tuple[list[tuple[int, str]], Any]:
    written: list[tuple[int, str]] = []

    def write(records: list[Any], pages: int) -> None:
        if fail_on is not None and records[0] == fail_on:
            raise _Boom
        written.append((records[0], threading.current_thread().name))

    return written, write


def test_behind_writes_in_order_on_one_other_thread() -> None:
    written, write = _recorder()
    writer = _Writer(write, threaded=True)
    for batch in range(5):
        writer.put([batch], 1)
    writer.close()
    assert [b for b, _ in written] == [0, 1, 2, 3, 4]
    threads = {name for _, name in written}
    assert len(threads) == 1
    assert threads != {threading.current_thread().name}
    writer.close()  # closing again does nothing


def test_a_failed_batch_stops_the_walk_at_the_next_batch() -> None:
    written, write = _recorder(fail_on=1)
    writer = _Writer(write, threaded=True)
    writer.put([0], 1)
    writer.put([1], 1)  # fails on the writer's thread
    with pytest.raises(_Boom):
        writer.put([2], 1)  # the walk learns of it here and gathers nothing more
    writer.close()
    assert [b for b, _ in written] == [0]


def test_closing_raises_what_the_last_batch_raised() -> None:
    written, write = _recorder(fail_on=0)
    writer = _Writer(write, threaded=True)
    writer.put([0], 1)
    with pytest.raises(_Boom):
        writer.close()
    writer.close()
    assert written == []


def test_inline_writes_each_batch_at_once_on_the_callers_thread() -> None:
    written, write = _recorder()
    writer = _Writer(write, threaded=False)
    writer.put([0], 1)
    assert written == [(0, threading.current_thread().name)]
    writer.close()


# -- end to end, against the sandbox ---------------------------------------------------------


_sandbox_process, sandbox = sandbox_fixtures(**SIZES)


@pytest.fixture
def connection(
    organization, admin_user, sandbox, settings, django_capture_on_commit_callbacks
) -> Connection:
    return connect_sandbox(
        organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings
    )


@pytest.fixture
def threads_of_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread each batch of records was written on."""
    names: list[str] = []
    real = walk_module.import_batch_write

    def import_batch_write(batch: Any) -> Any:
        names.append(threading.current_thread().name)
        return real(batch)

    monkeypatch.setattr(walk_module, "import_batch_write", import_batch_write)
    return names


def _behind(names: list[str]) -> bool:
    """Whether every batch was written on the writer's thread (else each on the caller's)."""
    assert names
    if all(name.startswith("coupa-writer") for name in names):
        return True
    assert set(names) == {threading.current_thread().name}
    return False


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_a_sync_outside_a_transaction_writes_behind_and_imports_everything(
    connection, sandbox, settings, threads_of_writes
) -> None:
    settings.COUPA_SYNC_FLUSH_RECORDS = 50  # a batch per page
    run = run_sync(connection)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert stored_ids(Item, connection) == set(sandbox.ids("items", active_only=True))
    assert run.counts["items"]["created"] == sandbox.count("items", active_only=True)
    assert len(threads_of_writes) > 5
    assert _behind(threads_of_writes) == (db.vendor == "postgresql")


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_a_cancel_stops_a_sync_writing_behind_at_the_next_batch(
    connection, admin_user, sandbox, settings, threads_of_writes
) -> None:
    settings.COUPA_SYNC_FLUSH_RECORDS = 1  # one batch per page
    run = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, enqueue=False)

    def progress(p: dict[str, Any]) -> None:
        if p["resource"] == "items" and p["pages"] == 1:
            sync_cancel(run=run, user=admin_user)

    result = sync_run_execute(sync_run_id=run.pk, on_progress=progress)
    assert result.state == SyncRun.State.CANCELLED
    # As inline (test_sync_sandbox): the batch after the cancel is the last one written.
    assert Item.objects.filter(connection=connection).count() == 100
    assert not SyncWatermark.objects.filter(connection=connection, resource="items").exists()
    assert _behind(threads_of_writes) == (db.vendor == "postgresql")


@pytest.mark.sandbox
@pytest.mark.django_db
def test_a_sync_inside_a_transaction_writes_inline(connection, sandbox, threads_of_writes) -> None:
    run = run_sync(connection)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert stored_ids(Item, connection) == set(sandbox.ids("items", active_only=True))
    assert not _behind(threads_of_writes)

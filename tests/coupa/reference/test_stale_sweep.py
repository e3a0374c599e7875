"""Beat's sweeps: lost or dead syncs and validations are failed (and retried) on their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from coupa.connections.services import (
    VALIDATION_STALE,
    VALIDATION_STALE_AGAIN,
    coupa_validate,
)
from coupa.reference.sync import STALE_MESSAGE, sync_request, sync_run_live
from coupa.tasks import (
    connection_validate_task,
    sync_run_execute_task,
    sync_sweep_task,
    validation_sweep_task,
)
from integrations.models import Connection, ConnectionValidation, SyncRun
from integrations.runs import run_claim
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """The messages the sweeps send (recorded, not executed: no Coupa here)."""
    messages: dict[str, list[Any]] = {}
    for task in (sync_run_execute_task, connection_validate_task):

        def record(args: Any, *_: Any, _name: str = task.name, **__: Any) -> None:
            messages.setdefault(_name, []).append(args[0])

        monkeypatch.setattr(task, "apply_async", record)
    yield messages


def later(seconds: float) -> Any:
    """The clock seam: beat's pass runs `seconds` from now, nothing is waited out."""
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


@pytest.fixture
def connection(organization) -> Connection:
    return ConnectionFactory(organization=organization)


def test_sweep_fails_a_running_run_whose_heartbeat_stopped_and_does_not_retry_it(
    connection, settings, sent
) -> None:
    run = sync_request(connection=connection, trigger=SyncRun.Trigger.HOURLY, enqueue=False)
    run, token = run_claim(SyncRun, run.pk)
    assert token

    with later(settings.COUPA_SYNC_STALE_AFTER - 5):
        assert sync_sweep_task() == 0
    with later(settings.COUPA_SYNC_STALE_AFTER + 5):
        assert sync_sweep_task() == 1
        assert sync_sweep_task() == 0  # idempotent

    run.refresh_from_db()
    assert (run.state, run.error) == (SyncRun.State.FAILED, STALE_MESSAGE)
    assert sync_run_live(connection=connection) is None
    assert sent == {}  # the next trigger continues; a worker-killing run does not loop


def test_sweep_fails_a_queued_run_no_worker_got_and_requests_it_again(
    connection, settings, sent
) -> None:
    # Its message was lost (or refused by a broker that is back now).
    lost = sync_request(
        connection=connection,
        trigger=SyncRun.Trigger.MANUAL,
        resources=["vendors"],
        full=True,
        enqueue=False,
    )

    with later(settings.COUPA_SYNC_QUEUED_STALE_AFTER + 5):
        assert sync_sweep_task() == 1

    lost.refresh_from_db()
    assert (lost.state, lost.error) == (SyncRun.State.FAILED, STALE_MESSAGE)
    again = SyncRun.objects.exclude(pk=lost.pk).get(connection=connection)
    assert (again.state, again.trigger, again.resources, again.full) == (
        SyncRun.State.QUEUED,
        SyncRun.Trigger.MANUAL,
        ["vendors"],
        True,
    )
    assert sent == {"coupa.sync_run_execute": [again.pk]}


def test_sweep_fails_a_lost_validation_and_starts_it_again_once(
    connection, organization, admin_user, settings, sent
) -> None:
    first = coupa_validate(organization=organization, user=admin_user)
    assert sent == {"coupa.connection_validate": [first.pk]}
    # A worker took it and was killed mid-validation.
    ConnectionValidation.objects.filter(pk=first.pk).update(state="running")

    with later(settings.COUPA_VALIDATION_STALE_AFTER - 5):
        assert validation_sweep_task() == 0
    with later(settings.COUPA_VALIDATION_STALE_AFTER + 5):
        assert validation_sweep_task() == 1

    first.refresh_from_db()
    assert (first.state, first.error) == ("failed", VALIDATION_STALE)
    retry = ConnectionValidation.objects.exclude(pk=first.pk).get(connection=connection)
    assert retry.state == "queued"
    assert sent["coupa.connection_validate"] == [first.pk, retry.pk]
    connection.refresh_from_db()
    assert connection.state == Connection.State.VALIDATING

    # The retry is lost too: no third try, the connection says what to do.
    with later(2 * settings.COUPA_VALIDATION_STALE_AFTER + 10):
        assert validation_sweep_task() == 1
    retry.refresh_from_db()
    assert (retry.state, retry.error) == ("failed", VALIDATION_STALE)
    connection.refresh_from_db()
    assert (connection.state, connection.state_reason) == (
        Connection.State.NEEDS_ATTENTION,
        VALIDATION_STALE_AGAIN,
    )
    assert ConnectionValidation.objects.filter(connection=connection).count() == 2

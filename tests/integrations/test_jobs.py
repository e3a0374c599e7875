"""Enqueueing after commit: what a broker that refuses the message does to the caller."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from integrations import tasks as integrations_tasks
from integrations.jobs import QUEUE_UNAVAILABLE, JobQueueUnavailableError, enqueue_on_commit
from spendflo.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

TASK = integrations_tasks.worker_heartbeat_task.name


def test_a_refused_job_is_undone_by_the_service_and_raises_its_sentence(broker_down) -> None:
    undone: list[bool] = []

    def undo() -> str:
        undone.append(transaction.get_connection().in_atomic_block)
        return "The sync did not start."

    with pytest.raises(JobQueueUnavailableError) as caught, transaction.atomic():
        enqueue_on_commit(TASK, on_failure=undo)
        assert undone == []  # nothing is sent before commit

    assert str(caught.value) == "The sync did not start."
    assert undone == [True]  # in a transaction of its own, after the commit


def test_a_refused_job_without_undo_raises_the_general_sentence(broker_down) -> None:
    with pytest.raises(JobQueueUnavailableError) as caught, transaction.atomic():
        enqueue_on_commit(TASK)
    assert str(caught.value) == QUEUE_UNAVAILABLE


def test_a_refused_job_a_sweep_recovers_is_only_logged(broker_down, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="integrations.jobs"), transaction.atomic():
        enqueue_on_commit(TASK, recovers=True)
    assert [r.getMessage() for r in caplog.records] == [
        f"Could not queue {TASK} (): OperationalError"
    ]


def test_a_rolled_back_transaction_sends_nothing(broker_down) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(TASK)
        raise RuntimeError("rolled back")


def test_eager_tasks_raise_their_own_errors(monkeypatch) -> None:
    assert celery_app.conf.task_always_eager

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("the task's own failure")

    monkeypatch.setattr(celery_app.tasks[TASK], "apply_async", broken)
    with pytest.raises(OSError, match="own failure"), transaction.atomic():
        enqueue_on_commit(TASK)

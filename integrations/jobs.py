"""Enqueue Celery tasks from services without importing the task modules.

Services name the task (`name="coupa.sync_run_execute"`, fixed on every task) instead
of importing it, so imports run one way: tasks (an interface) import services, never
the reverse.

A job is sent only once its transaction has committed (a worker must find the rows it
is given). The broker can then refuse it (down, unreachable): the rows are committed
already and cannot be rolled back, so the service says what to do about them
(`on_failure` puts them back, `recovers=True` leaves them to a sweep that resends), and
the caller gets `JobQueueUnavailableError` with a sentence, never the broker's error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError

__all__ = ["QUEUE_UNAVAILABLE", "JobQueueUnavailableError", "enqueue_on_commit"]

logger = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = (
    "The task queue is unavailable right now, so nothing was started. Try again in a few minutes."
)


class JobQueueUnavailableError(Exception):
    """The broker refused a job after its transaction committed; the message is a sentence.

    Interfaces answer 503 with it (the state it describes is already consistent).
    """


def enqueue_on_commit(
    task_name: str,
    *args: Any,
    on_failure: Callable[[], str] | None = None,
    recovers: bool = False,
) -> None:
    """Send the task named `task_name` once the current transaction commits.

    Outside a transaction it is sent at once; if the transaction rolls back, never.
    Arguments must be ids and small JSON scalars. When the broker refuses the message:
    with `recovers`, a sweep resends the job later, so it is only logged; otherwise
    `on_failure` (if given) undoes or fails what the job was for, in its own transaction,
    and returns the sentence for the user, and JobQueueUnavailableError is raised with it
    (Django then drops the transaction's later callbacks: their broker is down too).
    """

    def send() -> None:
        task = current_app.tasks[task_name]
        if current_app.conf.task_always_eager:
            # Run here (CELERY_TASK_ALWAYS_EAGER): the task's own errors are not the broker's.
            task.delay(*args)
            return
        try:
            task.delay(*args)
        except (OperationalError, OSError) as exc:
            logger.warning("Could not queue %s %s: %s", task_name, args, type(exc).__name__)
            if recovers:
                return
            sentence = QUEUE_UNAVAILABLE
            if on_failure is not None:
                with transaction.atomic():
                    sentence = on_failure()
            raise JobQueueUnavailableError(sentence) from exc

    transaction.on_commit(send)

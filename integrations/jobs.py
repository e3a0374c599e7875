"""Enqueue Celery tasks from services without importing the task modules.

Services name the task (`name="coupa.sync_run_execute"`, fixed on every task) instead
of importing it, so imports run one way: tasks (an interface) import services, never
the reverse.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Send the task named `task_name` once the current transaction commits.

    Outside a transaction it is sent at once; if the transaction rolls back, never.
    Arguments must be ids and small JSON scalars.
    """
    current_app.tasks[task_name].delay_on_commit(*args)

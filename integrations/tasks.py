from __future__ import annotations

import socket

from celery import shared_task

from integrations.services import worker_heartbeat_record


@shared_task(name="integrations.worker_heartbeat", acks_late=True, ignore_result=True)
def worker_heartbeat_task() -> None:
    """Record this worker's heartbeat; Sync activity and ops use it to see workers are alive."""
    worker_heartbeat_record(worker=socket.gethostname())

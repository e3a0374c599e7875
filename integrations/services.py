from __future__ import annotations

from django.utils import timezone

from integrations.models import WorkerHeartbeat


def worker_heartbeat_record(*, worker: str) -> WorkerHeartbeat:
    """Record that a worker is alive and processing tasks (idempotent upsert)."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"seen_at": timezone.now()}
    )
    return heartbeat

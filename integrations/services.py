from __future__ import annotations

from typing import Any

from django.utils import timezone

from integrations.models import AuditEvent, Connection, WorkerHeartbeat
from spendflo.organizations.models import Organization
from spendflo.users.models import User


def worker_heartbeat_record(*, worker: str) -> WorkerHeartbeat:
    """Record that a worker is alive and processing tasks (idempotent upsert)."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"seen_at": timezone.now()}
    )
    return heartbeat


def audit_record(
    *,
    organization: Organization,
    action: str,
    summary: str,
    actor: User | None = None,
    connection: Connection | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event; call inside the transaction of the change it records.

    `details` must never hold secrets: callers pass field names, not values, for secrets.
    """
    return AuditEvent.objects.create(
        organization=organization,
        connection=connection,
        actor=actor,
        actor_label=actor.email if actor is not None else "system",
        action=action,
        summary=summary,
        details=details or {},
    )

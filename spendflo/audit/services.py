from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spendflo.audit.models import AuditEvent

if TYPE_CHECKING:
    from integrations.models import Connection
    from spendflo.organizations.models import Organization
    from spendflo.users.models import User


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

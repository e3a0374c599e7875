from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from integrations.models import AuditEvent, Connection, ConnectionValidation, Provider, SyncRun
from spendflo.organizations.models import Organization


def connection_current(*, organization: Organization, provider: str = Provider.COUPA) -> Connection | None:
    """The organization's current (not archived) connection to a provider, if any."""
    return Connection.objects.filter(
        organization=organization, provider=provider, archived_at__isnull=True
    ).first()


def connection_validation_latest(*, connection: Connection) -> ConnectionValidation | None:
    return connection.validations.order_by("-created_at", "-pk").first()


def connection_validation_get(
    *, organization: Organization, validation_id: int
) -> ConnectionValidation | None:
    """A validation run, only if it belongs to the organization (tenant isolation)."""
    return (
        ConnectionValidation.objects.select_related("connection")
        .filter(pk=validation_id, connection__organization=organization)
        .first()
    )


def sync_run_list(*, organization: Organization) -> QuerySet[SyncRun]:
    """The organization's sync runs across its connections, newest first."""
    return SyncRun.objects.filter(connection__organization=organization).select_related(
        "connection", "requested_by"
    ).order_by("-created_at", "-pk")


def audit_event_list(*, organization: Organization) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization=organization).select_related(
        "connection", "actor"
    ).order_by("-created_at", "-pk")


def connection_summary(connection: Connection) -> dict[str, Any]:
    """What pages, the API and `coupa_status` show about a connection (never the secret)."""
    return {
        "state": connection.state,
        "state_label": connection.get_state_display(),
        "state_reason": connection.state_reason,
        "base_url": connection.base_url,
        "host": connection.host,
        "client_id": connection.client_id,
        "granted_scopes": list(connection.granted_scopes),
        "missing_scopes": list(connection.missing_scopes),
        "rate_limit": connection.rate_limit,
        "last_validated_at": connection.last_validated_at.isoformat()
        if connection.last_validated_at
        else None,
    }

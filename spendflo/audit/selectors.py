from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from spendflo.audit.models import AuditEvent

if TYPE_CHECKING:
    from spendflo.organizations.models import Organization


def audit_event_list(*, organization: Organization) -> QuerySet[AuditEvent]:
    """The organization's audit trail, newest first."""
    return (
        AuditEvent.objects.filter(organization=organization)
        .select_related("connection", "actor")
        .order_by("-created_at", "-pk")
    )

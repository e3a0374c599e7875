from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from integrations.jobs import JobQueueUnavailableError
from spendflo.audit.models import AuditEvent
from spendflo.audit.selectors import audit_event_list
from spendflo.rest import api_exception_handler
from spendflo.users.context import request_organization
from spendflo.users.permissions import capability_permission
from spendflo.users.roles import Capability


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_label")
    host = serializers.CharField(source="connection.host", allow_null=True, default=None)

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "action", "summary", "details", "host"]


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[AuditEvent]):
    """The organization's audit trail, newest first (admins and ops)."""

    serializer_class = AuditEventSerializer
    permission_classes = [capability_permission(Capability.VIEW_INTEGRATIONS)]
    queryset = AuditEvent.objects.none()

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list(organization=request_organization(self.request))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, and a job the broker refused answers 503 with its sentence.

    The service has already left a consistent state (see `integrations.jobs`).
    """
    if isinstance(exc, JobQueueUnavailableError):
        return Response(
            {"detail": str(exc)},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "60"},
        )
    return api_exception_handler(exc, context)

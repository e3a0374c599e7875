from django.urls import include, path
from rest_framework.routers import DefaultRouter

from integrations.api import AuditEventViewSet

router = DefaultRouter(trailing_slash=False)
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [path("", include(router.urls))]

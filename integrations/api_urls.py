from django.urls import include, path
from rest_framework.routers import SimpleRouter

from integrations.api import AuditEventViewSet

# The API root (listing every route) is the root URLconf router's; this one adds none.
router = SimpleRouter(trailing_slash=False)
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [path("", include(router.urls))]

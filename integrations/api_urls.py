from django.urls import include, path
from rest_framework.routers import DefaultRouter

from coupa import api as coupa_api
from integrations.api import AuditEventViewSet

router = DefaultRouter(trailing_slash=False)
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("integrations/coupa", coupa_api.CoupaConnectionView.as_view(), name="coupa-connection"),
    path("integrations/coupa/connect", coupa_api.CoupaConnectView.as_view(), name="coupa-connect"),
    path("integrations/coupa/validate", coupa_api.CoupaValidateView.as_view(), name="coupa-validate"),
    path(
        "integrations/coupa/disconnect",
        coupa_api.CoupaDisconnectView.as_view(),
        name="coupa-disconnect",
    ),
    path(
        "integrations/coupa/validations/<int:pk>",
        coupa_api.CoupaValidationView.as_view(),
        name="coupa-validation",
    ),
    path("", include(router.urls)),
]

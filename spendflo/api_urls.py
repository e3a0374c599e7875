"""Routes of the JSON API under /api/v1/. Integrations' and providers' routes are included
by module path, as the root URLconf includes their pages."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from spendflo.users.api import MeView, OrganizationView, UserViewSet

router = DefaultRouter(trailing_slash=False)
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    path("organization", OrganizationView.as_view(), name="organization"),
    path("", include("integrations.api_urls")),
    path("", include("coupa.api.urls")),
    path("", include(router.urls)),
]

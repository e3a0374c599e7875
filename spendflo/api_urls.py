from django.urls import include, path
from rest_framework.routers import DefaultRouter

from spendflo.users.api import MeView, UserViewSet

router = DefaultRouter(trailing_slash=False)
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    path("", include("integrations.api_urls")),
    path("", include(router.urls)),
]

"""Routes of the JSON API under /api/v1/. Integrations' and providers' routes are included
by module path, as the root URLconf includes their pages."""

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView, DefaultRouter

from spendflo.users.api import MeView, OrganizationView, UserViewSet
from spendflo.workflows import api as workflows
from spendflo.workflows import requests_api as requests


class ApiRootView(APIRootView):
    """The API's index of routes, for any signed-in user."""

    permission_classes = [IsAuthenticated]


router = DefaultRouter(trailing_slash=False)
router.APIRootView = ApiRootView
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    path("organization", OrganizationView.as_view(), name="organization"),
    path("workflows", workflows.WorkflowList.as_view(), name="workflows"),
    path("workflows/<int:pk>", workflows.WorkflowDetail.as_view(), name="workflow"),
    path(
        "workflows/<int:pk>/versions",
        workflows.WorkflowVersionList.as_view(),
        name="workflow-versions",
    ),
    path("workflows/<int:pk>/draft", workflows.WorkflowDraft.as_view(), name="workflow-draft"),
    path("workflow-versions/<int:pk>", workflows.VersionDetail.as_view(), name="version"),
    path(
        "workflow-versions/<int:pk>/steps", workflows.VersionSteps.as_view(), name="version-steps"
    ),
    path(
        "workflow-versions/<int:pk>/blockers",
        workflows.VersionBlockers.as_view(),
        name="version-blockers",
    ),
    path(
        "workflow-versions/<int:pk>/publish",
        workflows.VersionPublish.as_view(),
        name="version-publish",
    ),
    path(
        "workflow-versions/<int:pk>/fields",
        workflows.FormFieldList.as_view(),
        name="version-fields",
    ),
    path(
        "workflow-versions/<int:pk>/fields/reorder",
        workflows.FormFieldReorder.as_view(),
        name="version-fields-reorder",
    ),
    path(
        "workflow-versions/<int:pk>/fields/<int:field_id>",
        workflows.FormFieldDetail.as_view(),
        name="version-field",
    ),
    path(
        "workflow-versions/<int:pk>/fields/<int:field_id>/move",
        workflows.FormFieldMove.as_view(),
        name="version-field-move",
    ),
    path(
        "published-workflows", requests.PublishedWorkflowList.as_view(), name="published-workflows"
    ),
    path("requests", requests.RequestList.as_view(), name="requests"),
    path("requests/<int:pk>", requests.RequestDetail.as_view(), name="request"),
    path("requests/<int:pk>/approve", requests.RequestApprove.as_view(), name="request-approve"),
    path("requests/<int:pk>/reject", requests.RequestReject.as_view(), name="request-reject"),
    path("requests/<int:pk>/retry", requests.RequestRetry.as_view(), name="request-retry"),
    path("notices", requests.NoticeList.as_view(), name="notices"),
    path("notices/mark-read", requests.NoticeMarkRead.as_view(), name="notices-mark-read"),
    path("", include("integrations.api_urls")),
    path("", include("coupa.api.urls")),
    path("", include(router.urls)),
]

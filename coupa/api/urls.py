"""Coupa routes of the JSON API (included under /api/v1/)."""

from django.urls import path

from coupa.api import views, workflows
from coupa.api.serializers import PICKABLE_SERIALIZERS, SERIALIZERS

urlpatterns = [
    path("integrations/coupa", views.CoupaConnectionView.as_view(), name="coupa-connection"),
    path("integrations/coupa/connect", views.CoupaConnectView.as_view(), name="coupa-connect"),
    path("integrations/coupa/validate", views.CoupaValidateView.as_view(), name="coupa-validate"),
    path(
        "integrations/coupa/disconnect",
        views.CoupaDisconnectView.as_view(),
        name="coupa-disconnect",
    ),
    path(
        "integrations/coupa/validations/<int:pk>",
        views.CoupaValidationView.as_view(),
        name="coupa-validation",
    ),
    path("coupa/charts", views.ChartsView.as_view(), name="coupa-charts"),
    path("coupa/sync", views.SyncView.as_view(), name="coupa-sync"),
    path("coupa/sync-runs", views.SyncRunList.as_view(), name="coupa-sync-runs"),
    path(
        "coupa/requisition-sync",
        views.RequisitionSyncView.as_view(),
        name="coupa-requisition-sync",
    ),
    path("coupa/sync-runs/<int:pk>", views.SyncRunDetail.as_view(), name="coupa-sync-run"),
    path(
        "coupa/sync-runs/<int:pk>/cancel", views.SyncRunCancel.as_view(), name="coupa-sync-cancel"
    ),
    path(
        "workflow-versions/<int:pk>/coupa/mapping",
        workflows.MappingView.as_view(),
        name="coupa-mapping",
    ),
    path(
        "workflow-versions/<int:pk>/coupa/mapping/accept-suggestions",
        workflows.AcceptSuggestionsView.as_view(),
        name="coupa-mapping-accept",
    ),
    path(
        "workflow-versions/<int:pk>/coupa/mapping/<str:target>",
        workflows.MappingTargetView.as_view(),
        name="coupa-mapping-target",
    ),
    path(
        "workflow-versions/<int:pk>/coupa/preview",
        workflows.PreviewView.as_view(),
        name="coupa-preview",
    ),
    path(
        "workflow-versions/<int:pk>/coupa/test-draft",
        workflows.TestDraftView.as_view(),
        name="coupa-test-draft",
    ),
    path("coupa/custom-fields", workflows.CustomFieldList.as_view(), name="coupa-custom-fields"),
    path(
        "coupa/custom-fields/<int:pk>",
        workflows.CustomFieldDetail.as_view(),
        name="coupa-custom-field",
    ),
    path("pickers/<str:kind>", workflows.PickerView.as_view(), name="pickers"),
]

for _kind in SERIALIZERS:
    urlpatterns.append(
        path(f"coupa/{_kind}", views.record_list_view(_kind).as_view(), name=f"coupa-{_kind}")
    )
for _kind in PICKABLE_SERIALIZERS:
    _single, _bulk = views.visibility_views(_kind)
    urlpatterns += [
        path(f"coupa/{_kind}/<int:pk>", _single.as_view(), name=f"coupa-{_kind}-visibility"),
        path(f"coupa/{_kind}/bulk-visibility", _bulk.as_view(), name=f"coupa-{_kind}-bulk"),
        path(f"pickable/{_kind}", views.pickable_view(_kind).as_view(), name=f"pickable-{_kind}"),
    ]

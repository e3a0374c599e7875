from django.urls import path

from coupa.web import views, workflow_views

app_name = "coupa"

_version = "workflows/<int:workflow_id>/versions/<int:number>/"

urlpatterns = [
    path("connect/", views.ConnectView.as_view(), name="connect"),
    path("edit/", views.EditView.as_view(), name="edit"),
    path("disconnect/", views.DisconnectView.as_view(), name="disconnect"),
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("validations/<int:pk>/", views.ValidationView.as_view(), name="validation"),
    path("charts/", views.ChartsView.as_view(), name="charts"),
    path("sync/", views.SyncView.as_view(), name="sync"),
    path("sync/progress/", views.SyncProgressView.as_view(), name="sync_progress"),
    path("requisitions/sync/", views.PrSyncView.as_view(), name="pr_sync"),
    path("sync/<int:pk>/cancel/", views.SyncCancelView.as_view(), name="sync_cancel"),
    path("records/<str:kind>/", views.RecordsView.as_view(), name="records"),
    path("records/<str:kind>/bulk/", views.BulkToggleView.as_view(), name="bulk_toggle"),
    path("records/<str:kind>/<int:pk>/toggle/", views.ToggleView.as_view(), name="toggle"),
    path(_version + "mapping/", workflow_views.MappingView.as_view(), name="mapping"),
    path(_version + "mapping/set/", workflow_views.MappingSetView.as_view(), name="mapping_set"),
    path(
        _version + "mapping/remove/",
        workflow_views.MappingRemoveView.as_view(),
        name="mapping_remove",
    ),
    path(
        _version + "mapping/accept/",
        workflow_views.MappingAcceptView.as_view(),
        name="mapping_accept",
    ),
    path(
        _version + "mapping/records/<str:kind>/",
        workflow_views.RecordSearchView.as_view(),
        name="mapping_records",
    ),
    path(
        _version + "custom-fields/",
        workflow_views.CustomFieldCreateView.as_view(),
        name="custom_field_create",
    ),
    path(
        _version + "custom-fields/<int:pk>/delete/",
        workflow_views.CustomFieldDeleteView.as_view(),
        name="custom_field_delete",
    ),
    path(_version + "preview/", workflow_views.PreviewView.as_view(), name="preview"),
    path(
        _version + "preview/test-draft/",
        workflow_views.TestDraftView.as_view(),
        name="preview_test_draft",
    ),
]

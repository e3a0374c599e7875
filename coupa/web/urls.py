from django.urls import path

from coupa.web import views, workflow_views

app_name = "coupa"

urlpatterns = [
    path("connect/", views.ConnectView.as_view(), name="connect"),
    path("edit/", views.EditView.as_view(), name="edit"),
    path("disconnect/", views.DisconnectView.as_view(), name="disconnect"),
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("validations/<int:pk>/", views.ValidationView.as_view(), name="validation"),
    path("charts/", views.ChartsView.as_view(), name="charts"),
    path("sync/", views.SyncView.as_view(), name="sync"),
    path("sync/progress/", views.SyncProgressView.as_view(), name="sync_progress"),
    path("sync/<int:pk>/cancel/", views.SyncCancelView.as_view(), name="sync_cancel"),
    path("records/<str:kind>/", views.RecordsView.as_view(), name="records"),
    path("records/<str:kind>/bulk/", views.BulkToggleView.as_view(), name="bulk_toggle"),
    path("records/<str:kind>/<int:pk>/toggle/", views.ToggleView.as_view(), name="toggle"),
    path(
        "workflows/<int:workflow_id>/versions/<int:number>/mapping/",
        workflow_views.MappingView.as_view(),
        name="mapping",
    ),
]

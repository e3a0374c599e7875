from django.urls import path

from coupa import views, views_data

app_name = "coupa"

urlpatterns = [
    path("connect/", views.ConnectView.as_view(), name="connect"),
    path("edit/", views.EditView.as_view(), name="edit"),
    path("disconnect/", views.DisconnectView.as_view(), name="disconnect"),
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("validations/<int:pk>/", views.ValidationView.as_view(), name="validation"),
    path("charts/", views_data.ChartsView.as_view(), name="charts"),
    path("sync/", views_data.SyncView.as_view(), name="sync"),
    path("sync/progress/", views_data.SyncProgressView.as_view(), name="sync_progress"),
    path("sync/<int:pk>/cancel/", views_data.SyncCancelView.as_view(), name="sync_cancel"),
    path("records/<str:kind>/", views_data.RecordsView.as_view(), name="records"),
    path("records/<str:kind>/bulk/", views_data.BulkToggleView.as_view(), name="bulk_toggle"),
    path("records/<str:kind>/<int:pk>/toggle/", views_data.ToggleView.as_view(), name="toggle"),
]

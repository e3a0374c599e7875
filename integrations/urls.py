from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("procurement/", views.ProcurementView.as_view(), name="procurement"),
    path("sync-activity/", views.SyncActivityView.as_view(), name="sync_activity"),
    path("audit/", views.AuditView.as_view(), name="audit"),
    path("default-visibility/", views.DefaultVisibilityView.as_view(), name="default_visibility"),
]

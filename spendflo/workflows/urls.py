from django.urls import path

from spendflo.workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.RequestListView.as_view(), name="request_list"),
    path("all/", views.AllRequestListView.as_view(), name="request_all"),
    path("new/", views.NewRequestView.as_view(), name="request_new"),
    path("new/<int:workflow_id>/", views.RequestFormView.as_view(), name="request_form"),
    path("notices/", views.NoticeListView.as_view(), name="notices"),
    path("<int:pk>/", views.RequestDetailView.as_view(), name="request"),
    path("<int:pk>/approve/", views.RequestApproveView.as_view(), name="request_approve"),
    path("<int:pk>/reject/", views.RequestRejectView.as_view(), name="request_reject"),
    path("<int:pk>/retry/", views.RequestRetryView.as_view(), name="request_retry"),
]

from django.urls import path

from spendflo.workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.RequestListView.as_view(), name="request_list"),
]

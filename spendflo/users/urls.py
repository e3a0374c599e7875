from django.urls import path

from spendflo.users import views

app_name = "users"

urlpatterns = [
    path("", views.UserListView.as_view(), name="list"),
    path("<int:pk>/role", views.UserRoleView.as_view(), name="role"),
    path("<int:pk>/active", views.UserActiveView.as_view(), name="active"),
]

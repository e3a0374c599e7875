from django.urls import path

from coupa import views

app_name = "coupa"

urlpatterns = [
    path("connect/", views.ConnectView.as_view(), name="connect"),
    path("edit/", views.EditView.as_view(), name="edit"),
    path("disconnect/", views.DisconnectView.as_view(), name="disconnect"),
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("validations/<int:pk>/", views.ValidationView.as_view(), name="validation"),
]

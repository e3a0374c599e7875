"""The admin's workflow pages, under Settings → Workflows."""

from django.urls import path

from spendflo.workflows import views

app_name = "workflow_settings"

_version = "<int:workflow_id>/versions/<int:number>/"

urlpatterns = [
    path("", views.WorkflowListView.as_view(), name="list"),
    path("<int:workflow_id>/", views.WorkflowView.as_view(), name="workflow"),
    path("<int:workflow_id>/edit/", views.WorkflowEditView.as_view(), name="edit"),
    path("<int:workflow_id>/draft/", views.DraftView.as_view(), name="draft"),
    path(_version, views.WorkflowView.as_view(), name="version"),
    path(_version + "fields/", views.FieldAddView.as_view(), name="field_add"),
    path(_version + "fields/<int:pk>/", views.FieldUpdateView.as_view(), name="field_update"),
    path(
        _version + "fields/<int:pk>/remove/", views.FieldRemoveView.as_view(), name="field_remove"
    ),
    path(_version + "fields/<int:pk>/move/", views.FieldMoveView.as_view(), name="field_move"),
    path(_version + "steps/", views.StepsView.as_view(), name="steps"),
    path(_version + "publish/", views.PublishView.as_view(), name="publish"),
]

"""Workflow services the API and the pages share."""

from __future__ import annotations

import pytest

from spendflo.audit.models import AuditEvent
from spendflo.workflows.services import (
    FieldInput,
    WorkflowError,
    fields_reorder,
    form_field_add,
    form_field_move,
    workflow_create,
)

pytestmark = pytest.mark.django_db


def test_fields_reorder_is_all_or_nothing(organization, admin_user) -> None:
    """A bad list changes no position; unlisted fields of the group follow the listed ones."""
    version = workflow_create(organization=organization, name="W", user=admin_user).versions.get()
    for label, group in (("A", "request"), ("B", "request"), ("C", "request"), ("L", "line")):
        form_field_add(version=version, data=FieldInput(label, group=group), user=admin_user)
    before = sorted(version.fields.values_list("api_name", "position"))
    for names in (["c", "nope"], ["c", "l"], ["c", "c"]):
        with pytest.raises(WorkflowError):
            fields_reorder(version=version, api_names=names, user=admin_user)
        assert sorted(version.fields.values_list("api_name", "position")) == before
    fields_reorder(version=version, api_names=["c"], user=admin_user)
    order = version.fields.filter(group="request").order_by("position")
    assert [f.api_name for f in order] == ["c", "a", "b"]
    assert [f.position for f in order] == [1, 2, 3]


def test_moving_and_reordering_fields_are_audited(organization, admin_user) -> None:
    version = workflow_create(organization=organization, name="W", user=admin_user).versions.get()
    a = form_field_add(version=version, data=FieldInput("A"), user=admin_user)
    form_field_add(version=version, data=FieldInput("B"), user=admin_user)
    events = AuditEvent.objects.filter(organization=organization)
    before = events.count()
    form_field_move(field=a, offset=-1, user=admin_user)  # already first: nothing changes
    assert events.count() == before
    form_field_move(field=a, offset=1, user=admin_user)
    fields_reorder(version=version, api_names=["a", "b"], user=admin_user)
    summaries = [e.summary for e in events.order_by("-pk")[:2]]
    assert summaries == [f"Reordered the fields of {version}.", f"Moved field “A” of {version}."]
    assert all(e.actor == admin_user for e in events.order_by("-pk")[:2])

"""The workflows API: workflows, versions, forms, steps and publishing, for admins only,
each organization seeing its own."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from spendflo.users.models import User
from spendflo.workflows.models import FormField, Workflow, WorkflowVersion
from spendflo.workflows.services import FieldInput, form_field_add, workflow_create

pytestmark = pytest.mark.django_db


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def no_providers(settings: Any) -> None:
    """Publish on the form's own rules (the Coupa side is tested in tests/coupa/)."""
    settings.INTEGRATION_PROVIDERS = []


@pytest.fixture
def workflow(organization, admin_user) -> Workflow:
    workflow = workflow_create(organization=organization, name="IT hardware", user=admin_user)
    version = workflow.versions.get()
    for data in (
        FieldInput("Title", required=True),
        FieldInput("Reason", type="long_text"),
        FieldInput("Description", group="line", required=True),
        FieldInput("Quantity", type="number", group="line"),
    ):
        form_field_add(version=version, data=data, user=admin_user)
    return workflow


@pytest.fixture
def stranger(other_organization, make_user) -> Workflow:
    """Another organization's workflow with one field."""
    admin = make_user(User.Role.ADMIN, other_organization, email="admin@globex.test")
    workflow = workflow_create(organization=other_organization, name="Globex", user=admin)
    form_field_add(version=workflow.versions.get(), data=FieldInput("Secret"), user=admin)
    return workflow


def _names(body: Any) -> list[str]:
    return [f["api_name"] for f in body]


def test_admin_creates_lists_and_renames_workflows(admin_user: User) -> None:
    client = api_as(admin_user)
    created = client.post(
        "/api/v1/workflows", {"name": " Travel ", "description": "Trips"}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Travel" and body["description"] == "Trips"
    assert body["draft_version"] == 1 and body["published_version"] is None
    assert body["draft_version_id"] == Workflow.objects.get().versions.get().pk

    listed = client.get("/api/v1/workflows").json()
    assert [w["name"] for w in listed["results"]] == ["Travel"]

    renamed = client.patch(f"/api/v1/workflows/{body['id']}", {"name": "Trips"}, format="json")
    assert renamed.status_code == 200
    assert client.get(f"/api/v1/workflows/{body['id']}").json()["name"] == "Trips"
    assert Workflow.objects.get().description == "Trips"


def test_a_duplicate_workflow_name_is_400_with_the_reason(admin_user, workflow) -> None:
    response = api_as(admin_user).post("/api/v1/workflows", {"name": "it hardware"}, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["detail"]
    assert Workflow.objects.count() == 1


def test_versions_list_and_detail_show_the_form_in_order(admin_user, workflow) -> None:
    client = api_as(admin_user)
    versions = client.get(f"/api/v1/workflows/{workflow.pk}/versions").json()["results"]
    assert [(v["number"], v["state"]) for v in versions] == [(1, "draft")]
    detail = client.get(f"/api/v1/workflow-versions/{versions[0]['id']}").json()
    assert detail["is_editable"] is True
    assert _names(detail["form_fields"]) == ["title", "reason", "description", "quantity"]
    assert [f["group"] for f in detail["form_fields"]] == ["request", "request", "line", "line"]


def test_form_fields_are_added_changed_moved_reordered_and_removed(admin_user, workflow) -> None:
    client = api_as(admin_user)
    version = workflow.versions.get()
    base = f"/api/v1/workflow-versions/{version.pk}/fields"

    added = client.post(
        base,
        {"label": "Vendor", "type": "vendor", "group": "line", "required": True},
        format="json",
    )
    assert added.status_code == 201, added.json()
    field = added.json()
    assert field["api_name"] == "vendor" and field["is_picker"] is True and field["position"] == 3

    changed = client.patch(
        f"{base}/{field['id']}", {"label": "Supplier", "api_name": "ignored"}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["label"] == "Supplier" and changed.json()["api_name"] == "vendor"
    assert changed.json()["required"] is True  # untouched keys keep their values

    moved = client.post(f"{base}/{field['id']}/move", {"offset": -2}, format="json")
    assert moved.status_code == 200
    assert _names(moved.json()) == ["title", "reason", "vendor", "description", "quantity"]

    reordered = client.post(f"{base}/reorder", {"api_names": ["reason", "title"]}, format="json")
    assert reordered.status_code == 200
    assert _names(reordered.json()) == ["reason", "title", "vendor", "description", "quantity"]

    assert client.delete(f"{base}/{field['id']}").status_code == 204
    assert not version.fields.filter(api_name="vendor").exists()
    assert client.get(f"{base}/{field['id']}").status_code == 404


def test_an_invalid_field_is_400_with_the_reason(admin_user, workflow) -> None:
    version = workflow.versions.get()
    response = api_as(admin_user).post(
        f"/api/v1/workflow-versions/{version.pk}/fields",
        {"label": "Size", "type": "choice"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "A single-choice field needs its options."
    clash = api_as(admin_user).post(
        f"/api/v1/workflow-versions/{version.pk}/fields", {"label": "Title"}, format="json"
    )
    assert clash.status_code == 400 and "already has the API name" in clash.json()["detail"]


def test_reorder_is_all_or_nothing(admin_user, workflow) -> None:
    """An unknown name or names of both groups change nothing (not the first few)."""
    version = workflow.versions.get()
    url = f"/api/v1/workflow-versions/{version.pk}/fields/reorder"
    before = list(version.fields.values_list("api_name", "position"))
    client = api_as(admin_user)
    unknown = client.post(url, {"api_names": ["reason", "nope"]}, format="json")
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
    mixed = client.post(url, {"api_names": ["reason", "quantity"]}, format="json")
    assert mixed.status_code == 400 and "one group" in mixed.json()["detail"]
    assert list(version.fields.values_list("api_name", "position")) == before


def test_steps_are_set_with_an_approver_of_the_organization(
    admin_user, workflow, make_user, organization, other_organization
) -> None:
    version = workflow.versions.get()
    url = f"/api/v1/workflow-versions/{version.pk}/steps"
    approver = make_user(User.Role.ADMIN, organization, email="boss@acme.test")
    client = api_as(admin_user)
    body = {"approval": "user", "approver": approver.pk, "document_status": "submitted"}
    response = client.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["approver"] == approver.pk
    version.refresh_from_db()
    assert (version.approval, version.approver, version.document_status) == (
        "user",
        approver,
        "submitted",
    )

    outsider = make_user(User.Role.ADMIN, other_organization)
    refused = client.put(url, {**body, "approver": outsider.pk}, format="json")
    assert refused.status_code == 400 and "No such user" in refused.json()["detail"]
    missing = client.put(url, {**body, "approver": None}, format="json")
    assert missing.status_code == 400 and missing.json()["detail"] == "Choose the approver."
    version.refresh_from_db()
    assert version.approver == approver


def test_publishing_an_empty_form_is_400_with_the_blockers(admin_user, no_providers) -> None:
    client = api_as(admin_user)
    workflow_id = client.post("/api/v1/workflows", {"name": "Empty"}, format="json").json()["id"]
    version = WorkflowVersion.objects.get(workflow_id=workflow_id)
    response = client.post(f"/api/v1/workflow-versions/{version.pk}/publish")
    assert response.status_code == 400
    body = response.json()
    assert body["blockers"] == [{"target": "", "message": "The form has no fields yet.", "url": ""}]
    assert "cannot be published yet" in body["detail"]
    assert client.get(f"/api/v1/workflow-versions/{version.pk}/blockers").json() == body["blockers"]
    version.refresh_from_db()
    assert version.state == "draft"


def test_editing_a_published_workflow_works_on_a_new_draft(
    admin_user, workflow, no_providers
) -> None:
    client = api_as(admin_user)
    v1 = workflow.versions.get()
    published = client.post(f"/api/v1/workflow-versions/{v1.pk}/publish")
    assert published.status_code == 200, published.json()
    assert published.json()["state"] == "published"
    title = v1.fields.get(api_name="title")

    frozen = client.patch(
        f"/api/v1/workflow-versions/{v1.pk}/fields/{title.pk}", {"label": "Changed"}, format="json"
    )
    assert frozen.status_code == 400 and "frozen" in frozen.json()["detail"]
    again = client.post(f"/api/v1/workflow-versions/{v1.pk}/publish")
    assert again.status_code == 400 and again.json()["blockers"] == []

    draft = client.post(f"/api/v1/workflows/{workflow.pk}/draft")
    assert draft.status_code == 201
    v2 = draft.json()
    assert v2["number"] == 2 and v2["state"] == "draft"
    assert _names(v2["form_fields"]) == _names(
        client.get(f"/api/v1/workflow-versions/{v1.pk}").json()["form_fields"]
    )
    assert client.post(f"/api/v1/workflows/{workflow.pk}/draft").json()["id"] == v2["id"]
    assert client.post(f"/api/v1/workflows/{workflow.pk}/draft").status_code == 200

    title2 = next(f for f in v2["form_fields"] if f["api_name"] == "title")
    edited = client.patch(
        f"/api/v1/workflow-versions/{v2['id']}/fields/{title2['id']}",
        {"label": "Changed"},
        format="json",
    )
    assert edited.status_code == 200
    title.refresh_from_db()
    assert title.label == "Title"
    listed = client.get("/api/v1/workflows").json()["results"][0]
    assert (listed["published_version"], listed["draft_version"]) == (1, 2)

    assert client.post(f"/api/v1/workflow-versions/{v2['id']}/publish").status_code == 200
    states = {v.number: v.state for v in workflow.versions.all()}
    assert states == {1: "retired", 2: "published"}


@pytest.mark.parametrize("role", ["requester", "ops"])
def test_requesters_and_ops_cannot_read_or_change_workflows(
    role, make_user, organization, workflow
) -> None:
    client = api_as(make_user(role, organization))
    version = workflow.versions.get()
    field = version.fields.first()
    assert field is not None
    v = f"/api/v1/workflow-versions/{version.pk}"
    calls = [
        ("get", "/api/v1/workflows", None),
        ("post", "/api/v1/workflows", {"name": "Mine"}),
        ("get", f"/api/v1/workflows/{workflow.pk}", None),
        ("patch", f"/api/v1/workflows/{workflow.pk}", {"name": "Mine"}),
        ("get", f"/api/v1/workflows/{workflow.pk}/versions", None),
        ("post", f"/api/v1/workflows/{workflow.pk}/draft", None),
        ("get", v, None),
        ("put", f"{v}/steps", {"approval": "none", "document_status": "draft"}),
        ("post", f"{v}/publish", None),
        ("post", f"{v}/fields", {"label": "Extra"}),
        ("patch", f"{v}/fields/{field.pk}", {"label": "Mine"}),
        ("delete", f"{v}/fields/{field.pk}", None),
        ("post", f"{v}/fields/{field.pk}/move", {"offset": 1}),
        ("post", f"{v}/fields/reorder", {"api_names": ["reason"]}),
    ]
    for method, url, data in calls:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 403, (method, url)
    assert Workflow.objects.get().name == "IT hardware"
    assert version.fields.count() == 4 and version.fields.get(pk=field.pk).label == field.label


def test_anonymous_calls_are_refused(workflow) -> None:
    client = APIClient()
    assert client.get("/api/v1/workflows").status_code in (401, 403)
    assert client.post("/api/v1/workflows", {"name": "X"}).status_code in (401, 403)
    version = workflow.versions.get()
    assert client.post(f"/api/v1/workflow-versions/{version.pk}/publish").status_code in (401, 403)


def test_another_organizations_objects_are_not_found(admin_user, workflow, stranger) -> None:
    client = api_as(admin_user)
    version = stranger.versions.get()
    field = version.fields.get()
    v = f"/api/v1/workflow-versions/{version.pk}"
    calls = [
        ("get", f"/api/v1/workflows/{stranger.pk}", None),
        ("patch", f"/api/v1/workflows/{stranger.pk}", {"name": "Mine"}),
        ("get", f"/api/v1/workflows/{stranger.pk}/versions", None),
        ("post", f"/api/v1/workflows/{stranger.pk}/draft", None),
        ("get", v, None),
        ("get", f"{v}/blockers", None),
        ("put", f"{v}/steps", {"approval": "none", "document_status": "draft"}),
        ("post", f"{v}/publish", None),
        ("get", f"{v}/fields", None),
        ("post", f"{v}/fields", {"label": "Extra"}),
        ("get", f"{v}/fields/{field.pk}", None),
        ("patch", f"{v}/fields/{field.pk}", {"label": "Mine"}),
        ("delete", f"{v}/fields/{field.pk}", None),
        ("post", f"{v}/fields/{field.pk}/move", {"offset": 1}),
        ("post", f"{v}/fields/reorder", {"api_names": ["secret"]}),
        # Our own version with their field's id.
        ("get", f"/api/v1/workflow-versions/{workflow.versions.get().pk}/fields/{field.pk}", None),
    ]
    for method, url, data in calls:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 404, (method, url)
    assert [w["name"] for w in client.get("/api/v1/workflows").json()["results"]] == ["IT hardware"]
    stranger.refresh_from_db()
    assert stranger.name == "Globex" and field.label == FormField.objects.get(pk=field.pk).label
    assert stranger.versions.count() == 1 and version.fields.count() == 1


def test_the_openapi_schema_describes_the_workflow_operations(admin_user: User) -> None:
    schema = (
        api_as(admin_user)
        .get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()
    )
    paths = schema["paths"]
    expected = {
        "/api/v1/workflows": {"get", "post"},
        "/api/v1/workflows/{id}": {"get", "patch"},
        "/api/v1/workflows/{id}/versions": {"get"},
        "/api/v1/workflows/{id}/draft": {"post"},
        "/api/v1/workflow-versions/{id}": {"get"},
        "/api/v1/workflow-versions/{id}/steps": {"put"},
        "/api/v1/workflow-versions/{id}/blockers": {"get"},
        "/api/v1/workflow-versions/{id}/publish": {"post"},
        "/api/v1/workflow-versions/{id}/fields": {"get", "post"},
        "/api/v1/workflow-versions/{id}/fields/reorder": {"post"},
        "/api/v1/workflow-versions/{id}/fields/{field_id}": {"get", "patch", "delete"},
        "/api/v1/workflow-versions/{id}/fields/{field_id}/move": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    publish = paths["/api/v1/workflow-versions/{id}/publish"]["post"]["responses"]
    assert publish["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PublishBlocked"
    )
    blocked = schema["components"]["schemas"]["PublishBlocked"]["properties"]
    assert {"detail", "blockers"} <= blocked.keys()
    create = paths["/api/v1/workflow-versions/{id}/fields"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/FormFieldInput"
    )

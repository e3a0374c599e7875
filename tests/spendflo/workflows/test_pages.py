"""The admin's workflow pages: list, create, form builder, steps, drafts and publishing."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from spendflo.workflows.models import FormField, Workflow, WorkflowVersion
from spendflo.workflows.services import (
    FieldInput,
    form_field_add,
    version_publish,
    workflow_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(organization: Any, admin_user: Any) -> Workflow:
    return workflow_create(organization=organization, name="IT hardware", user=admin_user)


def _url(name: str, workflow: Workflow, number: int | None = None, **kw: Any) -> str:
    kwargs: dict[str, Any] = {"workflow_id": workflow.pk, **kw}
    if number is not None:
        kwargs["number"] = number
    return reverse(f"workflow_settings:{name}", kwargs=kwargs)


def _publishable(settings: Any) -> None:
    # Without providers, only the form's own blockers stand between a draft and publishing.
    settings.INTEGRATION_PROVIDERS = []
    from integrations.providers import _load

    _load.cache_clear()


@pytest.fixture
def no_providers(settings: Any) -> Any:
    _publishable(settings)
    yield
    from integrations.providers import _load

    _load.cache_clear()


def test_list_shows_workflows_and_creates_one(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    """The list shows each workflow's draft; creating one redirects to its page."""
    client = client_as(admin_user)
    page = client.get(reverse("workflow_settings:list"))
    assert page.status_code == 200
    assert "IT hardware" in page.content.decode()
    assert "Version 1 (draft)" in page.content.decode()
    response = client.post(
        reverse("workflow_settings:list"), {"name": "Software", "description": "Licences"}
    )
    created = Workflow.objects.get(name="Software")
    assert response.status_code == 302
    assert response["Location"] == _url("workflow", created)
    assert created.versions.get().state == WorkflowVersion.State.DRAFT


def test_create_refuses_a_duplicate_name(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    """A second workflow of the same name is refused with the service's sentence."""
    response = client_as(admin_user).post(
        reverse("workflow_settings:list"), {"name": "it hardware"}
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_empty_list_says_so(client_as: Any, admin_user: Any) -> None:
    page = client_as(admin_user).get(reverse("workflow_settings:list"))
    assert "No workflows yet" in page.content.decode()


def test_rename_and_describe(client_as: Any, admin_user: Any, workflow: Workflow) -> None:
    client_as(admin_user).post(
        _url("edit", workflow), {"name": "Hardware", "description": "Laptops"}
    )
    workflow.refresh_from_db()
    assert (workflow.name, workflow.description) == ("Hardware", "Laptops")


def test_form_builder_adds_edits_moves_and_removes_fields(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    """Request and line fields are added, edited, reordered and removed on the page."""
    client = client_as(admin_user)
    version = workflow.versions.get()
    add = _url("field_add", workflow, 1)
    client.post(add, {"label": "Vendor", "type": "vendor", "group": "line", "required": "on"})
    client.post(add, {"label": "Quantity", "type": "number", "group": "line"})
    client.post(
        add,
        {"label": "Priority", "type": "choice", "group": "request", "choices": "Low\nHigh\n"},
    )
    fields = {f.api_name: f for f in version.fields.all()}
    assert fields["vendor"].group == "line" and fields["vendor"].required
    assert fields["priority"].choices == ["Low", "High"]
    page = client.get(_url("workflow", workflow)).content.decode()
    assert "Priority" in page and "Options: Low, High" in page

    client.post(
        _url("field_update", workflow, 1, pk=fields["quantity"].pk),
        {"label": "How many", "type": "number", "help_text": "Units", "required": "on"},
    )
    fields["quantity"].refresh_from_db()
    assert (fields["quantity"].label, fields["quantity"].required) == ("How many", True)
    assert fields["quantity"].api_name == "quantity"

    client.post(_url("field_move", workflow, 1, pk=fields["quantity"].pk), {"direction": "up"})
    order = list(
        version.fields.filter(group="line").order_by("position").values_list("api_name", flat=True)
    )
    assert order == ["quantity", "vendor"]

    client.post(_url("field_remove", workflow, 1, pk=fields["vendor"].pk))
    assert not version.fields.filter(api_name="vendor").exists()


def test_a_single_choice_without_options_is_refused_in_words(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    client = client_as(admin_user)
    response = client.post(
        _url("field_add", workflow, 1),
        {"label": "Priority", "type": "choice", "group": "request"},
        follow=True,
    )
    assert "A single-choice field needs its options." in response.content.decode()
    assert not workflow.versions.get().fields.exists()


def test_htmx_field_add_returns_the_builder(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    """An htmx post follows the redirect to the page, from which the builder is swapped in."""
    client = client_as(admin_user)
    response = client.post(
        _url("field_add", workflow, 1),
        {"label": "Description", "type": "short_text", "group": "line"},
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="form-builder"' in body and 'data-field="description"' in body


def test_steps_are_saved_and_shown(
    client_as: Any, admin_user: Any, workflow: Workflow, make_user: Any, organization: Any
) -> None:
    """A named approver and a submitted status show in the steps summary."""
    approver = make_user(
        "admin", organization, email="boss@acme.test", first_name="Bo", last_name="Ss"
    )
    client = client_as(admin_user)
    client.post(
        _url("steps", workflow, 1),
        {"approval": "user", "approver": approver.pk, "document_status": "submitted"},
    )
    version = workflow.versions.get()
    assert (version.approval, version.approver, version.document_status) == (
        "user",
        approver,
        "submitted",
    )
    page = client.get(_url("workflow", workflow)).content.decode()
    assert "Bo Ss approves" in page
    assert 'data-testid="document-status">Submitted for approval' in page


def test_steps_refuse_an_approver_of_another_organization(
    client_as: Any, admin_user: Any, workflow: Workflow, make_user: Any, other_organization: Any
) -> None:
    stranger = make_user("admin", other_organization, email="x@globex.test")
    response = client_as(admin_user).post(
        _url("steps", workflow, 1),
        {"approval": "user", "approver": stranger.pk, "document_status": "draft"},
        follow=True,
    )
    assert "Choose the approver." in response.content.decode()
    assert workflow.versions.get().approval == "none"


def test_publish_is_disabled_with_the_list_of_blockers(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    """A draft with blockers shows them (linked where they have a page) and a disabled button."""
    page = client_as(admin_user).get(_url("workflow", workflow)).content.decode()
    assert "The form has no fields yet." in page
    assert "Coupa is not connected" in page
    assert 'href="/settings/integrations/procurement/"' in page
    assert 'disabled title="Fix the listed problems first">Publish version 1' in page


def test_publish_is_refused_server_side_with_the_list(
    client_as: Any, admin_user: Any, workflow: Workflow
) -> None:
    """A forced POST does not publish; the page answers 400 with the same list."""
    response = client_as(admin_user).post(_url("publish", workflow, 1))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not published: fix what is listed below first." in body
    assert "The form has no fields yet." in body
    assert workflow.versions.get().state == WorkflowVersion.State.DRAFT


def test_publish_then_edit_makes_a_new_draft(
    client_as: Any, admin_user: Any, workflow: Workflow, no_providers: Any
) -> None:
    """Publishing freezes version 1; Edit makes version 2 as a draft copy."""
    client = client_as(admin_user)
    form_field_add(version=workflow.versions.get(), data=FieldInput("Title"), user=admin_user)
    page = client.get(_url("workflow", workflow)).content.decode()
    assert "Ready:" in page
    response = client.post(_url("publish", workflow, 1))
    assert response.status_code == 302
    assert workflow.versions.get().state == WorkflowVersion.State.PUBLISHED
    page = client.get(_url("workflow", workflow)).content.decode()
    assert 'data-testid="frozen"' in page and "Add a request field" not in page
    response = client.post(_url("draft", workflow))
    assert response["Location"] == _url("version", workflow, 2)
    draft = workflow.versions.get(number=2)
    assert draft.state == WorkflowVersion.State.DRAFT
    assert list(draft.fields.values_list("api_name", flat=True)) == ["title"]


def test_a_published_version_cannot_be_edited_by_a_forced_post(
    client_as: Any, admin_user: Any, workflow: Workflow, no_providers: Any
) -> None:
    version = workflow.versions.get()
    form_field_add(version=version, data=FieldInput("Title"), user=admin_user)
    version_publish(version=version, user=admin_user)
    response = client_as(admin_user).post(
        _url("field_add", workflow, 1), {"label": "More", "type": "short_text"}, follow=True
    )
    assert "frozen" in response.content.decode()
    assert version.fields.count() == 1


def test_provider_links_are_shown(client_as: Any, admin_user: Any, workflow: Workflow) -> None:
    page = client_as(admin_user).get(_url("workflow", workflow)).content.decode()
    mapping = reverse("coupa:mapping", kwargs={"workflow_id": workflow.pk, "number": 1})
    assert f'href="{mapping}">Coupa field mapping' in page


def test_another_organizations_workflow_is_not_found(
    client_as: Any, make_user: Any, other_organization: Any, workflow: Workflow
) -> None:
    """An admin of another organization gets 404 on every page and action."""
    stranger = make_user("admin", other_organization, email="admin@globex.test")
    client = client_as(stranger)
    field = form_field_add(version=workflow.versions.get(), data=FieldInput("Title"), user=None)
    assert client.get(_url("workflow", workflow)).status_code == 404
    assert client.get(_url("version", workflow, 1)).status_code == 404
    assert client.post(_url("edit", workflow), {"name": "Mine"}).status_code == 404
    assert (
        client.post(
            _url("field_add", workflow, 1), {"label": "X", "type": "short_text"}
        ).status_code
        == 404
    )
    assert client.post(_url("field_remove", workflow, 1, pk=field.pk)).status_code == 404
    assert client.post(_url("publish", workflow, 1)).status_code == 404
    assert client.post(_url("draft", workflow)).status_code == 404
    assert "data-workflow=" not in client.get(reverse("workflow_settings:list")).content.decode()
    assert FormField.objects.filter(pk=field.pk).exists()


@pytest.mark.parametrize("role", ["requester", "ops"])
def test_non_admins_are_forbidden(
    role: str, client_as: Any, make_user: Any, organization: Any, workflow: Workflow
) -> None:
    user = make_user(role, organization, email=f"{role}2@acme.test")
    client = client_as(user)
    assert client.get(reverse("workflow_settings:list")).status_code == 403
    assert client.post(reverse("workflow_settings:list"), {"name": "X"}).status_code == 403
    assert client.get(_url("workflow", workflow)).status_code == 403
    assert client.post(_url("publish", workflow, 1)).status_code == 403
    assert "Workflows</a>" not in client.get("/").content.decode()


def test_admins_see_the_navigation_link(client_as: Any, admin_user: Any) -> None:
    page = client_as(admin_user).get(reverse("workflow_settings:list")).content.decode()
    assert 'data-nav="workflows"' in page

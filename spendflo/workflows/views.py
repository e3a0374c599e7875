"""Workflow pages: the requester's request list, and the admin's workflows, forms, steps and
publishing. Thin: parse a form, check permission, call one service, render or redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from integrations.providers import provider_list
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability
from spendflo.users.selectors import user_list
from spendflo.workflows.forms import FieldForm, StepsForm, WorkflowForm
from spendflo.workflows.models import FormField, Workflow, WorkflowVersion
from spendflo.workflows.selectors import version_shown, workflow_summary_list
from spendflo.workflows.services import (
    PublishBlockedError,
    WorkflowError,
    form_field_add,
    form_field_move,
    form_field_remove,
    form_field_update,
    publish_blockers,
    version_draft_for,
    version_publish,
    version_steps_set,
    workflow_create,
    workflow_update,
)


class RequestListView(CapabilityRequiredMixin, View):
    """A requester's own purchase requests."""

    capability = Capability.SUBMIT_REQUESTS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "workflows/request_list.html", {"requests": []})


# --- admin pages ------------------------------------------------------------------------


def _workflow(request: HttpRequest, workflow_id: int) -> Workflow:
    return get_object_or_404(Workflow, organization=request_organization(request), pk=workflow_id)


def _version(request: HttpRequest, workflow_id: int, number: int | None) -> WorkflowVersion:
    version = version_shown(workflow=_workflow(request, workflow_id), number=number)
    if version is None:
        raise Http404("No such version.")
    return version


def _version_url(version: WorkflowVersion) -> str:
    return reverse(
        "workflow_settings:version",
        kwargs={"workflow_id": version.workflow_id, "number": version.number},
    )


def _errors(form: Any) -> str:
    return " ".join(
        f"{'' if name == '__all__' else name.replace('_', ' ').capitalize() + ': '}{e}"
        for name, errs in form.errors.items()
        for e in errs
    )


def version_context(version: WorkflowVersion, **extra: Any) -> dict[str, Any]:
    """What the workflow page shows of one version."""
    workflow = version.workflow
    fields = list(version.fields.all())
    editable = version.is_editable
    draft = workflow.versions.filter(state=WorkflowVersion.State.DRAFT).first()
    return {
        "workflow": workflow,
        "version": version,
        "versions": list(workflow.versions.select_related("published_by").order_by("-number")),
        "draft": draft,
        "editable": editable,
        "groups": [
            (value, label, [f for f in fields if f.group == value])
            for value, label in FormField.Group.choices
        ],
        "field_types": FormField.Type.choices,
        "approvals": WorkflowVersion.Approval.choices,
        "document_statuses": WorkflowVersion.DocumentStatus.choices,
        "approvers": [u for u in user_list(organization=workflow.organization) if u.is_active],
        "providers": [p.name for p in provider_list()],
        "links": [link for p in provider_list() for link in p.workflow_links(version=version)],
        "blockers": publish_blockers(version) if editable else [],
        **extra,
    }


class WorkflowAdminMixin(CapabilityRequiredMixin):
    capability = Capability.MANAGE_WORKFLOWS


class WorkflowListView(WorkflowAdminMixin, View):
    """Every workflow with its published and draft version; a form to create one."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, WorkflowForm())

    def page(self, request: HttpRequest, form: WorkflowForm, status: int = 200) -> HttpResponse:
        rows = workflow_summary_list(organization=request_organization(request))
        return render(
            request, "workflows/workflow_list.html", {"rows": rows, "form": form}, status=status
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = WorkflowForm(request.POST)
        if form.is_valid():
            try:
                workflow = workflow_create(
                    organization=request_organization(request),
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    user=request_user(request),
                )
            except WorkflowError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Created “{workflow.name}”. Now build its form.")
                return redirect("workflow_settings:workflow", workflow_id=workflow.pk)
        return self.page(request, form, status=400)


class WorkflowView(WorkflowAdminMixin, View):
    """A workflow and one of its versions (the draft by default): form, steps, publishing."""

    def get(
        self, request: HttpRequest, workflow_id: int, number: int | None = None
    ) -> HttpResponse:
        version = _version(request, workflow_id, number)
        return render(request, "workflows/workflow.html", version_context(version))


class WorkflowEditView(WorkflowAdminMixin, View):
    def post(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        workflow = _workflow(request, workflow_id)
        form = WorkflowForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors(form))
        else:
            try:
                workflow_update(
                    workflow=workflow,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    user=request_user(request),
                )
            except WorkflowError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, "Saved the name and description.")
        return redirect("workflow_settings:workflow", workflow_id=workflow.pk)


class DraftView(WorkflowAdminMixin, View):
    """Edit a published workflow: its draft version, made from the published one if needed."""

    def post(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        draft = version_draft_for(
            workflow=_workflow(request, workflow_id), user=request_user(request)
        )
        messages.success(
            request,
            f"Editing version {draft.number} (a draft). Requesters keep the published version "
            "until you publish this one.",
        )
        return redirect(_version_url(draft))


class FieldAddView(WorkflowAdminMixin, View):
    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        form = FieldForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors(form))
        else:
            try:
                field = form_field_add(
                    version=version, data=form.field_input(), user=request_user(request)
                )
            except WorkflowError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Added “{field.label}”.")
        return redirect(f"{_version_url(version)}#form-builder")


class _FieldView(WorkflowAdminMixin, View):
    def field(self, request: HttpRequest, workflow_id: int, number: int, pk: int) -> FormField:
        version = _version(request, workflow_id, number)
        return get_object_or_404(
            FormField.objects.select_related("version__workflow"), version=version, pk=pk
        )

    def done(self, field: FormField) -> HttpResponse:
        return redirect(f"{_version_url(field.version)}#form-builder")


class FieldUpdateView(_FieldView):
    def post(self, request: HttpRequest, workflow_id: int, number: int, pk: int) -> HttpResponse:
        field = self.field(request, workflow_id, number, pk)
        form = FieldForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors(form))
        else:
            try:
                form_field_update(field=field, data=form.field_input(), user=request_user(request))
            except WorkflowError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Saved “{field.label}”.")
        return self.done(field)


class FieldRemoveView(_FieldView):
    def post(self, request: HttpRequest, workflow_id: int, number: int, pk: int) -> HttpResponse:
        field = self.field(request, workflow_id, number, pk)
        try:
            form_field_remove(field=field, user=request_user(request))
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Removed “{field.label}”.")
        return self.done(field)


class FieldMoveView(_FieldView):
    def post(self, request: HttpRequest, workflow_id: int, number: int, pk: int) -> HttpResponse:
        field = self.field(request, workflow_id, number, pk)
        offset = -1 if request.POST.get("direction") == "up" else 1
        try:
            form_field_move(field=field, offset=offset, user=request_user(request))
        except WorkflowError as exc:
            messages.error(request, str(exc))
        return self.done(field)


class StepsView(WorkflowAdminMixin, View):
    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        form = StepsForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors(form))
            return redirect(f"{_version_url(version)}#steps")
        approver = None
        if form.cleaned_data["approver"]:
            approver = (
                user_list(organization=version.workflow.organization)
                .filter(pk=form.cleaned_data["approver"])
                .first()
            )
        try:
            version_steps_set(
                version=version,
                approval=form.cleaned_data["approval"],
                approver=approver,
                document_status=form.cleaned_data["document_status"],
                user=request_user(request),
            )
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Saved the steps.")
        return redirect(f"{_version_url(version)}#steps")


class PublishView(WorkflowAdminMixin, View):
    """Publish the draft; refused with the list of blockers, whatever the button showed."""

    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        try:
            version_publish(version=version, user=request_user(request))
        except PublishBlockedError as exc:
            context = version_context(version, blockers=exc.blockers, publish_refused=True)
            return render(request, "workflows/workflow.html", context, status=400)
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Published version {version.number}: requesters now use it.")
        return redirect(_version_url(version))

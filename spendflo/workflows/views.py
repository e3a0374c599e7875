"""Workflow pages: requesting (new request, the form, my requests, a request, notices), all
requests for admins and ops, and the admin's workflows, forms, steps and publishing. Thin: parse a form, check permission, call one service, render or redirect."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from integrations.providers import provider_list
from spendflo.organizations.timezones import human_date
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability, user_can
from spendflo.users.selectors import user_list
from spendflo.workflows.forms import (
    MAX_LINES,
    PICKER_KINDS,
    CommentForm,
    FieldForm,
    RequestPost,
    StepsForm,
    WorkflowForm,
    request_post_parse,
)
from spendflo.workflows.models import (
    FormField,
    PurchaseRequest,
    RequestEvent,
    Workflow,
    WorkflowVersion,
)
from spendflo.workflows.notices import notices_mark_read
from spendflo.workflows.requests import (
    RequestError,
    RequestInvalidError,
    RequestProblem,
    request_approve,
    request_can_approve,
    request_reject,
    request_retry,
    request_submit,
)
from spendflo.workflows.selectors import (
    form_field_list,
    notice_list,
    provider_request_hooks,
    published_version_list,
    request_awaiting_list,
    request_document,
    request_documents,
    request_event_list,
    request_get,
    request_list,
    version_shown,
    workflow_summary_list,
)
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

# --- requester pages --------------------------------------------------------------------


class RequesterMixin(CapabilityRequiredMixin):
    capability = Capability.SUBMIT_REQUESTS


class MemberMixin(LoginRequiredMixin):
    """Any signed-in member of an organization; what they see is the selectors' rule."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and getattr(request.user, "organization_id", None) is None:
            raise PermissionDenied("Sign in as a member of an organization.")
        return super().dispatch(request, *args, **kwargs)


_DOCUMENT_KEYS = ("id", "status", "url", "messages")
_ORDER_KEYS = ("number", "status", "url", "supplier", "total", "currency")
_ATTEMPT_KEYS = ("at", "outcome", "message")


def _shown(data: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    return {k: data.get(k) or "" for k in keys}


def _moment(value: Any) -> dt.datetime | str:
    """A provider's ISO 8601 time as a datetime (pages show it in the one format)."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value if isinstance(value, dt.datetime) else ""


def document_view(document: dict[str, Any] | None) -> dict[str, Any]:
    """A provider's document with every key a page shows (empty when absent), its orders
    and attempts alike; attempts' time may be `at` or `created_at`, their text `message`
    or `detail`."""
    document = document or {}
    shown = _shown(document, _DOCUMENT_KEYS)
    shown["messages"] = list(document.get("messages") or [])
    shown["orders"] = [_shown(o, _ORDER_KEYS) for o in document.get("orders") or []]
    shown["attempts"] = [
        {
            "at": _moment(a.get("at") or a.get("created_at")),
            "outcome": a.get("outcome_label") or a.get("outcome") or "",
            "http_status": a.get("http_status"),
            "message": a.get("message")
            or a.get("detail")
            or "; ".join(str(m) for m in a.get("messages") or []),
        }
        for a in document.get("attempts") or []
        if isinstance(a, dict)
    ]
    return shown


def _document_rows(requests: list[PurchaseRequest]) -> list[dict[str, Any]]:
    documents = request_documents(requests=requests)
    return [{"request": r, "document": document_view(documents.get(r.pk))} for r in requests]


class RequestListView(RequesterMixin, View):
    """My requests: the signed-in requester's own, with their PR and POs."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request_user(request)
        rows = _document_rows(list(request_list(user=user).filter(requester=user)[:200]))
        awaiting = list(request_awaiting_list(user=user)[:200])
        context = {"rows": rows, "mine": True, "awaiting": awaiting}
        return render(request, "workflows/request_list.html", context)


class AllRequestListView(CapabilityRequiredMixin, View):
    """Every request of the organization (admins, ops), filtered by state."""

    capability = Capability.VIEW_ALL_REQUESTS

    def get(self, request: HttpRequest) -> HttpResponse:
        state = request.GET.get("state", "")
        if state not in PurchaseRequest.State.values:
            state = ""
        qs = request_list(user=request_user(request), state=state, everyone=True)
        context = {
            "rows": _document_rows(list(qs[:500])),
            "mine": False,
            "states": PurchaseRequest.State.choices,
            "state": state,
        }
        return render(request, "workflows/request_list.html", context)


class NewRequestView(RequesterMixin, View):
    """The published workflows a requester can submit to."""

    def get(self, request: HttpRequest) -> HttpResponse:
        versions = published_version_list(organization=request_organization(request))
        return render(request, "workflows/request_new.html", {"versions": versions})


def _cell(
    field: FormField,
    prefix: str,
    values: dict[str, Any],
    labels: dict[str, Any],
    errors: dict[str, list[str]],
    key: str,
) -> dict[str, Any]:
    value = values.get(field.api_name, "")
    cell: dict[str, Any] = {
        "field": field,
        "name": f"{prefix}-{field.api_name}",
        "id": f"f-{prefix}-{field.api_name}",
        "value": "" if isinstance(value, dict) else value,
        "errors": errors.get(key, []),
        "picker": PICKER_KINDS.get(field.type, ""),
        "picked_label": labels.get(field.api_name, ""),
    }
    if field.type == FormField.Type.MONEY:
        money = value if isinstance(value, dict) else {}
        cell.update(amount=money.get("amount", ""), currency=money.get("currency", ""))
    return cell


def request_form_context(
    version: WorkflowVersion,
    *,
    users: list[Any],
    post: RequestPost | None = None,
    problems: list[RequestProblem] | None = None,
) -> dict[str, Any]:
    """The request form: request fields, the lines, each input with its answer and errors."""
    errors: dict[str, list[str]] = {}
    for p in problems or []:
        errors.setdefault(p.key, []).append(p.message)
    fields = list(form_field_list(version=version))
    request_fields = [f for f in fields if f.group == FormField.Group.REQUEST]
    line_fields = [f for f in fields if f.group == FormField.Group.LINE]
    answers = post.answers if post else {"request": {}, "lines": [{}] if line_fields else []}
    labels = post.labels if post else {"request": {}, "lines": []}
    request_values, request_labels = answers["request"], labels["request"]
    lines = []
    for n, values in enumerate(answers["lines"]):
        line_labels = labels["lines"][n] if n < len(labels["lines"]) else {}
        lines.append(
            {
                "index": n,
                "number": n + 1,
                "errors": errors.get(f"lines.{n}", []),
                "cells": [
                    _cell(f, f"line-{n}", values, line_labels, errors, f"lines.{n}.{f.api_name}")
                    for f in line_fields
                ],
            }
        )
    return {
        "version": version,
        "workflow": version.workflow,
        "title": post.title if post else "",
        "title_errors": errors.get("title", []),
        "form_errors": errors.get("", []),
        "cells": [
            _cell(f, "request", request_values, request_labels, errors, f.api_name)
            for f in request_fields
        ],
        "line_fields": line_fields,
        "lines": lines,
        "submit_token": (post.submit_token if post else "") or uuid.uuid4().hex,
        "users": users,
        "picker_url": PICKER_URL,
    }


#: Where the request form's pickers search (the picker API of the configured provider).
PICKER_URL = "/api/v1/pickers/"


class RequestFormView(RequesterMixin, View):
    """A published workflow's form: fill it in, add and remove lines, submit."""

    def version(self, request: HttpRequest, workflow_id: int) -> WorkflowVersion:
        version = (
            published_version_list(organization=request_organization(request))
            .filter(workflow_id=workflow_id)
            .first()
        )
        if version is None:
            raise Http404("This workflow has no published version.")
        return version

    def page(
        self, request: HttpRequest, version: WorkflowVersion, status: int = 200, **kw: Any
    ) -> HttpResponse:
        users = [u for u in user_list(organization=version.workflow.organization) if u.is_active]
        context = request_form_context(version, users=users, **kw)
        return render(request, "workflows/request_form.html", context, status=status)

    def get(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        return self.page(request, self.version(request, workflow_id))

    def post(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        version = self.version(request, workflow_id)
        post = request_post_parse(version, request.POST)
        if post.action == "add_line":
            if len(post.answers["lines"]) < MAX_LINES:
                post.answers["lines"].append({})
                post.labels["lines"].append({})
            return self.page(request, version, post=post)
        if post.action == "remove_line":
            n = post.remove_index
            if n is not None and 0 <= n < len(post.answers["lines"]):
                del post.answers["lines"][n]
                if n < len(post.labels["lines"]):
                    del post.labels["lines"][n]
            return self.page(request, version, post=post)
        try:
            created = request_submit(
                version=version,
                requester=request_user(request),
                title=post.title,
                answers=post.answers,
                labels=post.labels,
                submit_token=post.submit_token,
            )
        except RequestInvalidError as exc:
            return self.page(request, version, status=400, post=post, problems=exc.problems)
        except RequestError as exc:
            return self.page(
                request, version, status=400, post=post, problems=[RequestProblem("", str(exc))]
            )
        messages.success(request, f"Submitted {created.reference}.")
        return redirect("workflows:request", pk=created.pk)


def _answer_text(field: FormField, value: Any, label: str, users: dict[int, str]) -> str:
    if value in (None, "", {}):
        return "—"
    if field.type == FormField.Type.MONEY and isinstance(value, dict):
        return f"{value.get('amount', '')} {value.get('currency', '')}".strip()
    if field.type == FormField.Type.USER:
        return users.get(int(value), f"User #{value}")
    if field.is_picker:
        return f"{label} (#{value})" if label else f"#{value}"
    if field.type == FormField.Type.DATE and isinstance(value, str):
        try:
            return human_date(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def request_answers(req: PurchaseRequest) -> dict[str, Any]:
    """The request's answers beside their questions' labels, request first, then lines."""
    fields = list(form_field_list(version=req.version))
    users = {u.pk: u.email for u in user_list(organization=req.organization)}
    answers = req.answers or {}
    # The labels the requester's browser saw are a hint; a provider that can name the
    # picked records itself (optional hook `request_labels`) is believed instead.
    labels = req.labels or {}
    for hook in provider_request_hooks("request_labels"):
        labels = hook(request=req) or labels
    request_labels = labels.get("request") or {}
    line_labels = labels.get("lines") or []
    header = [
        (
            f.label,
            _answer_text(
                f,
                (answers.get("request") or {}).get(f.api_name),
                request_labels.get(f.api_name, ""),
                users,
            ),
        )
        for f in fields
        if f.group == FormField.Group.REQUEST
    ]
    line_fields = [f for f in fields if f.group == FormField.Group.LINE]
    lines = []
    for n, line in enumerate(answers.get("lines") or []):
        shown = line_labels[n] if n < len(line_labels) else {}
        lines.append(
            [
                _answer_text(f, line.get(f.api_name), shown.get(f.api_name, ""), users)
                for f in line_fields
            ]
        )
    return {"header": header, "line_fields": line_fields, "lines": lines}


def _request_for(request: HttpRequest, pk: int) -> PurchaseRequest:
    found = request_get(user=request_user(request), request_id=pk)
    if found is None:
        raise Http404("No such request.")
    return found


class RequestDetailView(MemberMixin, View):
    """A request: answers, approval, the provider's document and its orders, the timeline."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        req = _request_for(request, pk)
        user = request_user(request)
        awaiting = req.state == PurchaseRequest.State.AWAITING_APPROVAL
        document = document_view(request_document(request=req))
        context = {
            "req": req,
            "answers": request_answers(req),
            "events": list(request_event_list(request=req)),
            "approvals": [
                e
                for e in request_event_list(request=req)
                if e.kind in (RequestEvent.Kind.APPROVED, RequestEvent.Kind.REJECTED)
            ],
            "document": document,
            "orders": document["orders"],
            "attempts": document["attempts"],
            "can_decide": awaiting and request_can_approve(request=req, user=user),
            "can_retry": req.state == PurchaseRequest.State.PR_FAILED
            and user_can(user, Capability.MANAGE_REQUESTS),
            "sees_all": user_can(user, Capability.VIEW_ALL_REQUESTS),
            "comment_form": CommentForm(),
        }
        return render(request, "workflows/request_detail.html", context)


class _RequestActionView(MemberMixin, View):
    def act(self, req: PurchaseRequest, user: Any, comment: str) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        req = _request_for(request, pk)
        form = CommentForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            done = self.act(req, request_user(request), comment)
        except RequestError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect("workflows:request", pk=req.pk)


class RequestApproveView(_RequestActionView):
    def act(self, req: PurchaseRequest, user: Any, comment: str) -> str:
        request_approve(request=req, user=user, comment=comment)
        return f"Approved {req.reference}: it is on its way to Coupa."


class RequestRejectView(_RequestActionView):
    def act(self, req: PurchaseRequest, user: Any, comment: str) -> str:
        request_reject(request=req, user=user, comment=comment)
        return f"Rejected {req.reference}."


class RequestRetryView(_RequestActionView):
    def act(self, req: PurchaseRequest, user: Any, comment: str) -> str:
        request_retry(request=req, user=user)
        return f"Retrying {req.reference}."


class NoticeListView(MemberMixin, View):
    """The signed-in user's notices; POST marks them read."""

    def get(self, request: HttpRequest) -> HttpResponse:
        notices = list(notice_list(user=request_user(request))[:200])
        return render(request, "workflows/notice_list.html", {"notices": notices})

    def post(self, request: HttpRequest) -> HttpResponse:
        ids = [int(i) for i in request.POST.getlist("notice") if i.isdigit()]
        notices_mark_read(user=request_user(request), notice_ids=ids or None)
        return redirect("workflows:notices")


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

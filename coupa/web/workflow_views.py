"""Pages of a workflow version's Coupa side: the field mapping, custom fields, the preview.

Thin: parse the POST, check permission, call one service, then redirect (with the
service's sentence as a message) or render. The presentation of the mapping table
(which sources a row offers, what its constant picker is) is derived here from the field
catalogue (`coupa.requisitions.fields`), never declared a second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from coupa.reference.selectors import offered_record_list
from coupa.requisitions.custom_fields import (
    CustomFieldError,
    custom_field_create,
    custom_field_delete,
)
from coupa.requisitions.fields import (
    BOOLEAN,
    DATE,
    DECIMAL,
    FORM_SOURCES,
    LINE_TYPE,
    LINE_TYPES,
    LOOKUP,
    PICKER_KINDS,
    QUANTITY,
    RECORD_TYPES,
    REQUEST_ATTRIBUTES,
    REQUEST_SOURCES,
    REQUESTER_ATTRIBUTES,
    PrField,
)
from coupa.requisitions.mapping import (
    MappingError,
    Row,
    mapping_accept_suggestions,
    mapping_problems,
    mapping_remove,
    mapping_set,
    mapping_table,
    pr_fields_for,
)
from coupa.requisitions.payload import sample_answers
from coupa.requisitions.services import PreviewError, requisition_preview, requisition_test_draft
from integrations.models import Connection, CustomFieldDefinition, FieldMapping
from integrations.selectors import connection_current
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability
from spendflo.users.selectors import user_list
from spendflo.workflows.models import FormField, WorkflowVersion

Source = FieldMapping.Source
#: How many records a picker lists at once; the search box narrows the rest server-side.
PICKER_LIMIT = 20


def _version(request: HttpRequest, workflow_id: int, number: int) -> WorkflowVersion:
    version = (
        WorkflowVersion.objects.select_related("workflow")
        .filter(
            workflow_id=workflow_id,
            number=number,
            workflow__organization=request_organization(request),
        )
        .first()
    )
    if version is None:
        raise Http404("No such workflow version.")
    return version


def _mapping_url(version: WorkflowVersion, target: str = "") -> str:
    url = reverse(
        "coupa:mapping", kwargs={"workflow_id": version.workflow_id, "number": version.number}
    )
    return f"{url}#row-{target}" if target else url


def record_label(record: Any) -> str:
    """A record as a picker shows it: its code or number and its name."""
    text = str(record)
    name = getattr(record, "name", "") or ""
    for attr in ("code", "number", "item_number", "location_code"):
        code = getattr(record, attr, "") or ""
        if code and name and code != name:
            return f"{code} · {name}"
    if getattr(record, "city", ""):
        return f"{text} · {record.city}"
    return text


# --- the mapping table, as the page shows it ------------------------------------------


@dataclass
class Picker:
    """A constant's input: a record picker, a select, or a plain input."""

    widget: str  # record | select | date | number | text
    kind: str = ""  # the reference resource of a record picker
    options: list[tuple[str, str]] = field(default_factory=list)
    selected: str = ""


@dataclass
class RowView:
    row: Row
    source_label: str
    form_fields: list[FormField]
    constant: Picker | None
    default: Picker | None
    requester: list[tuple[str, str]]
    request_data: list[tuple[str, str]]
    suggestion_label: str = ""
    form_types: list[str] = field(default_factory=list)  # form field types that could feed it

    @property
    def key(self) -> str:
        return self.row.field.key


class _Records:
    """Offered records by kind, read once per page."""

    def __init__(self, connection: Connection | None) -> None:
        self.connection = connection
        self._first: dict[str, list[tuple[str, str]]] = {}

    def first(self, kind: str) -> list[tuple[str, str]]:
        if kind not in self._first:
            qs = (
                offered_record_list(connection=self.connection, kind=kind)[:PICKER_LIMIT]
                if self.connection is not None
                else []
            )
            self._first[kind] = [(str(r.pk), record_label(r)) for r in qs]
        return self._first[kind]

    def label(self, kind: str, value: Any) -> str | None:
        pk = value.get("id") if isinstance(value, dict) else None
        if self.connection is None or not isinstance(pk, int):
            return None
        record = offered_record_list(connection=self.connection, kind=kind).filter(pk=pk).first()
        return record_label(record) if record is not None else None


def _picker(pr: PrField, value: Any, records: _Records) -> Picker | None:
    kind = pr.record_kind
    if kind is not None:
        options = list(records.first(kind))
        selected = ""
        if isinstance(value, dict) and isinstance(value.get("id"), int):
            selected = str(value["id"])
            if selected not in {v for v, _ in options}:
                options.insert(0, (selected, records.label(kind, value) or f"Record {selected}"))
        return Picker("record", kind=kind, options=options, selected=selected)
    vt = pr.value_type
    current = "" if value is None else str(value)
    if vt == LINE_TYPE:
        return Picker("select", options=list(LINE_TYPES.items()), selected=current)
    if vt == BOOLEAN:
        selected = "" if value is None else ("yes" if value is True else "no")
        return Picker("select", options=[("yes", "Yes"), ("no", "No")], selected=selected)
    if vt == LOOKUP:
        values = pr.custom.values if pr.custom is not None else []
        return Picker("select", options=[(v, v) for v in values], selected=current)
    if vt == DATE:
        return Picker("date", selected=current)
    if vt in (DECIMAL, QUANTITY):
        return Picker("number", selected=current)
    return Picker("text", selected=current)


def _source_label(mapping: FieldMapping | None, pr: PrField, records: _Records) -> str:
    if mapping is None:
        return ""
    if mapping.source == Source.FORM_FIELD:
        if mapping.form_field is None:
            return "Form field (deleted)"
        text = f"Form field “{mapping.form_field.label}”"
        if mapping.default is not None:
            text += f", else {_constant_text(pr, mapping.default, records)}"
        return text
    if mapping.source == Source.REQUESTER:
        return REQUESTER_ATTRIBUTES.get(str(mapping.value), "Requester")
    if mapping.source == Source.REQUEST:
        return REQUEST_ATTRIBUTES.get(str(mapping.value), "Request data")
    return f"Constant: {_constant_text(pr, mapping.value, records)}"


def _constant_text(pr: PrField, value: Any, records: _Records) -> str:
    if pr.record_kind is not None:
        return records.label(pr.record_kind, value) or "a record no longer offered"
    if pr.value_type == LINE_TYPE:
        return LINE_TYPES.get(str(value), str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _suggestion_label(row: Row, records: _Records) -> str:
    s = row.suggestion
    if s is None:
        return ""
    if s.source == Source.CONSTANT:
        return f"Constant: {_constant_text(row.field, s.value, records)}"
    return s.label


def mapping_rows(version: WorkflowVersion) -> list[RowView]:
    """The mapping table with, per row, what the admin may choose as its source."""
    connection = connection_current(organization=version.workflow.organization)
    records = _Records(connection)
    fields = list(version.fields.all())
    out = []
    for row in mapping_table(version):
        pr, mapping = row.field, row.mapping
        constant = None
        if Source.CONSTANT in pr.sources:
            value = mapping.value if mapping and mapping.source == Source.CONSTANT else None
            constant = _picker(pr, value, records)
        default = None
        if Source.FORM_FIELD in pr.sources:
            value = mapping.default if mapping and mapping.source == Source.FORM_FIELD else None
            default = _picker(pr, value, records)
        out.append(
            RowView(
                row=row,
                source_label=_source_label(mapping, pr, records),
                form_fields=[f for f in fields if pr.accepts_form_field(f)],
                constant=constant,
                default=default,
                requester=list(REQUESTER_ATTRIBUTES.items())
                if Source.REQUESTER in pr.sources
                else [],
                request_data=[
                    (k, v)
                    for k, v in REQUEST_ATTRIBUTES.items()
                    if k in REQUEST_SOURCES.get(pr.value_type, ())
                ],
                suggestion_label=_suggestion_label(row, records),
                form_types=[
                    str(FormField.Type(t).label)
                    for t in sorted(FORM_SOURCES.get(pr.value_type, ()))
                ],
            )
        )
    return out


def parse_constant(pr: PrField, raw: str) -> Any:
    """A posted constant as the mapping stores it; None when left empty."""
    raw = raw.strip()
    if raw == "":
        return None
    if pr.record_kind is not None:
        try:
            return {"id": int(raw)}
        except ValueError:
            raise MappingError(f"{pr.label}: pick a record from the list.") from None
    if pr.value_type == BOOLEAN:
        return raw == "yes"
    return raw


class MappingAdminMixin(CapabilityRequiredMixin):
    capability = Capability.CONFIGURE_INTEGRATIONS


class MappingView(MappingAdminMixin, View):
    """The mapping table of one version: sources, locks, problems, suggestions; custom fields."""

    def get(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        connection = connection_current(organization=version.workflow.organization)
        rows = mapping_rows(version)
        return render(
            request,
            "coupa/mapping.html",
            {
                "version": version,
                "workflow": version.workflow,
                "editable": version.is_editable,
                "sections": [
                    (
                        "header",
                        "Requisition (header)",
                        [r for r in rows if r.row.field.level == "header"],
                    ),
                    ("line", "Each line", [r for r in rows if r.row.field.level == "line"]),
                ],
                "problems": [p for p in mapping_problems(version) if not p.target],
                "suggestions": sum(1 for r in rows if r.row.suggestion is not None),
                "connection": connection,
                "custom_fields": list(connection.custom_fields.all()) if connection else [],
                "custom_types": CustomFieldDefinition.Type.choices,
                "custom_levels": CustomFieldDefinition.Level.choices,
                "workflow_url": reverse(
                    "workflow_settings:version",
                    kwargs={"workflow_id": version.workflow_id, "number": version.number},
                ),
            },
        )


class MappingSetView(MappingAdminMixin, View):
    """Map one Coupa field: from a form field (with a default), a constant, the requester
    or the request's data."""

    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        target = request.POST.get("target", "")
        source = request.POST.get("source", "")
        pr = next((f for f in pr_fields_for(version) if f.key == target), None)
        try:
            if pr is None:
                raise MappingError(f"{target!r} is not a Coupa requisition field.")
            form_field = None
            value: Any = None
            default: Any = None
            if source == Source.FORM_FIELD:
                pk = request.POST.get("form_field", "")
                form_field = version.fields.filter(pk=int(pk)).first() if pk.isdigit() else None
                default = parse_constant(pr, request.POST.get("default", ""))
            elif source == Source.CONSTANT:
                value = parse_constant(pr, request.POST.get("value", ""))
                if value is None:
                    raise MappingError(f"{pr.label}: give the constant a value.")
            else:
                value = request.POST.get("value", "")
            mapping_set(
                version=version,
                target=target,
                source=source,
                form_field=form_field,
                value=value,
                default=default,
                user=request_user(request),
            )
        except MappingError as exc:
            messages.error(request, str(exc), extra_tags=target)
        else:
            messages.success(request, f"Mapped {pr.label if pr else target}.", extra_tags=target)
        return redirect(_mapping_url(version, target))


class MappingRemoveView(MappingAdminMixin, View):
    """Unmap a field; a locked (required) one is refused with the reason and kept."""

    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        target = request.POST.get("target", "")
        try:
            mapping_remove(version=version, target=target, user=request_user(request))
        except MappingError as exc:
            messages.error(request, str(exc), extra_tags=target)
        else:
            messages.success(request, "Removed the mapping.", extra_tags=target)
        return redirect(_mapping_url(version, target))


class MappingAcceptView(MappingAdminMixin, View):
    """Accept one row's suggestion (`target`) or every suggestion (no target)."""

    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        target = request.POST.get("target", "")
        try:
            made = mapping_accept_suggestions(
                version=version, targets=[target] if target else None, user=request_user(request)
            )
        except MappingError as exc:
            messages.error(request, str(exc))
        else:
            if made:
                messages.success(
                    request,
                    f"Accepted {len(made)} suggestion{'s' if len(made) != 1 else ''}.",
                )
            else:
                messages.error(request, "No suggestion could be accepted.")
        return redirect(_mapping_url(version, target))


class RecordSearchView(MappingAdminMixin, View):
    """The options of a record picker: the first matches of a server-side search."""

    def get(self, request: HttpRequest, workflow_id: int, number: int, kind: str) -> HttpResponse:
        version = _version(request, workflow_id, number)
        if kind not in RECORD_TYPES.values():
            raise Http404("No such record type.")
        connection = connection_current(organization=version.workflow.organization)
        search = request.GET.get("q", "")[:100]
        records = (
            list(
                offered_record_list(connection=connection, kind=kind, search=search)[:PICKER_LIMIT]
            )
            if connection is not None
            else []
        )
        return render(
            request,
            "coupa/_record_options.html",
            {
                "options": [(r.pk, record_label(r)) for r in records],
                "search": search,
                "blank": request.GET.get("blank", "")[:40],
            },
        )


class CustomFieldCreateView(MappingAdminMixin, View):
    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        connection = connection_current(organization=version.workflow.organization)
        if connection is None:
            messages.error(request, "Connect Coupa before declaring its custom fields.")
            return redirect(_mapping_url(version))
        values = request.POST.get("values", "").replace(",", "\n").splitlines()
        try:
            definition = custom_field_create(
                connection=connection,
                api_name=request.POST.get("api_name", ""),
                label=request.POST.get("label", ""),
                type=request.POST.get("type", CustomFieldDefinition.Type.STRING),
                level=request.POST.get("level", CustomFieldDefinition.Level.HEADER),
                required=request.POST.get("required") == "on",
                values=values,
                user=request_user(request),
            )
        except CustomFieldError as exc:
            messages.error(request, str(exc))
            return redirect(f"{_mapping_url(version)}#custom-fields")
        messages.success(request, f"Declared the custom field {definition.api_name}.")
        return redirect(_mapping_url(version, f"custom.{definition.level}.{definition.api_name}"))


class CustomFieldDeleteView(MappingAdminMixin, View):
    def post(self, request: HttpRequest, workflow_id: int, number: int, pk: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        definition = get_object_or_404(
            CustomFieldDefinition,
            pk=pk,
            connection__organization=version.workflow.organization,
        )
        custom_field_delete(definition=definition, user=request_user(request))
        messages.success(request, f"Removed the custom field {definition.api_name}.")
        return redirect(f"{_mapping_url(version)}#custom-fields")


# --- preview ----------------------------------------------------------------------------


@dataclass
class AnswerInput:
    """One input of the preview's answers form."""

    name: str
    form_field: FormField
    widget: str  # text | long_text | number | money | date | choice | user | record
    value: Any
    options: list[tuple[str, str]] = field(default_factory=list)
    kind: str = ""
    currency: str = ""

    @property
    def selected(self) -> str:
        """The current answer, as a record picker marks its option."""
        return str(self.value)


def _answer_inputs(
    version: WorkflowVersion,
    answers: dict[str, Any],
    records: _Records,
    users: list[tuple[str, str]],
) -> tuple[list[AnswerInput], list[list[AnswerInput]]]:
    fields = list(version.fields.all())
    lines = answers.get("lines") or [{}]

    def inputs(group_answers: dict[str, Any], group: str, prefix: str) -> list[AnswerInput]:
        out = []
        for ff in (f for f in fields if f.group == group):
            value = group_answers.get(ff.api_name)
            name = f"{prefix}{ff.api_name}"
            if ff.type in PICKER_KINDS:
                kind = PICKER_KINDS[ff.type]
                options = list(records.first(kind))
                if value not in (None, "") and str(value) not in {v for v, _ in options}:
                    label = records.label(kind, {"id": value}) if isinstance(value, int) else None
                    options.insert(0, (str(value), label or f"Record {value}"))
                out.append(AnswerInput(name, ff, "record", str(value or ""), options, kind))
            elif ff.type == FormField.Type.MONEY:
                money = value if isinstance(value, dict) else {}
                out.append(
                    AnswerInput(
                        name,
                        ff,
                        "money",
                        money.get("amount", ""),
                        currency=money.get("currency", ""),
                    )
                )
            elif ff.type == FormField.Type.CHOICE:
                out.append(
                    AnswerInput(name, ff, "choice", value or "", [(c, c) for c in ff.choices])
                )
            elif ff.type == FormField.Type.USER:
                out.append(AnswerInput(name, ff, "user", str(value or ""), users))
            else:
                widget = {"long_text": "long_text", "number": "number", "date": "date"}.get(
                    ff.type, "text"
                )
                out.append(AnswerInput(name, ff, widget, "" if value is None else value))
        return out

    request_inputs = inputs(answers.get("request") or {}, FormField.Group.REQUEST, "r-")
    line_inputs = [
        inputs(line, FormField.Group.LINE, f"l{i}-") for i, line in enumerate(lines, start=1)
    ]
    return request_inputs, line_inputs


def answers_from_post(version: WorkflowVersion, data: Any) -> dict[str, Any]:
    """The answers the preview form posted, in the payload builder's format."""
    fields = list(version.fields.all())

    def read(group: str, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ff in (f for f in fields if f.group == group):
            name = f"{prefix}{ff.api_name}"
            raw = str(data.get(name, "")).strip()
            if ff.type == FormField.Type.MONEY:
                amount = raw
                currency = str(data.get(f"{name}-currency", "")).strip().upper()
                out[ff.api_name] = {"amount": amount, "currency": currency} if amount else None
            elif ff.type in PICKER_KINDS or ff.type == FormField.Type.USER:
                out[ff.api_name] = int(raw) if raw.isdigit() else None
            else:
                out[ff.api_name] = raw
        return out

    try:
        count = max(1, min(50, int(data.get("lines", "1"))))
    except ValueError:
        count = 1
    return {
        "request": read(FormField.Group.REQUEST, "r-"),
        "lines": [read(FormField.Group.LINE, f"l{i}-") for i in range(1, count + 1)],
    }


class PreviewView(MappingAdminMixin, View):
    """Sample answers, editable; the exact payload; problems grouped by where they are fixed."""

    template = "coupa/preview.html"

    def get(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        answers = sample_answers(version, requester=request_user(request))
        return self.page(request, version, answers)

    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        answers = answers_from_post(version, request.POST)
        if "add_line" in request.POST:
            sample = sample_answers(version, requester=request_user(request))["lines"][0]
            answers["lines"].append(sample)
        return self.page(request, version, answers)

    def page(
        self,
        request: HttpRequest,
        version: WorkflowVersion,
        answers: dict[str, Any],
        status: int = 200,
        **extra: Any,
    ) -> HttpResponse:
        user = request_user(request)
        preview = requisition_preview(version=version, answers=answers, requester=user)
        connection = connection_current(organization=version.workflow.organization)
        users = [
            (str(u.pk), u.email)
            for u in user_list(organization=version.workflow.organization)
            if u.is_active
        ]
        request_inputs, line_inputs = _answer_inputs(version, answers, _Records(connection), users)
        return render(
            request,
            self.template,
            {
                "version": version,
                "workflow": version.workflow,
                "preview": preview,
                "payload": json.dumps(preview.payload, indent=2, ensure_ascii=False, default=str),
                "groups": [
                    ("mapping", "Mapping", "Fix once in the field mapping.", preview.mapping),
                    (
                        "answers",
                        "These answers",
                        "Checked against the data imported from Coupa.",
                        preview.answers,
                    ),
                    (
                        "spec",
                        "Coupa's specification",
                        "The payload against Coupa's R39 API definition.",
                        preview.spec,
                    ),
                ],
                "request_inputs": request_inputs,
                "line_inputs": line_inputs,
                "line_count": len(line_inputs),
                "mapping_url": _mapping_url(version),
                **extra,
            },
            status=status,
        )


class TestDraftView(PreviewView):
    """Post the previewed payload once to Coupa as a test draft; show its id or Coupa's words."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        answers = answers_from_post(version, request.POST)
        try:
            draft = requisition_test_draft(
                version=version, answers=answers, user=request_user(request)
            )
        except PreviewError as exc:
            return self.page(
                request,
                version,
                answers,
                status=400,
                draft_error=str(exc),
                draft_messages=exc.messages,
            )
        return self.page(request, version, answers, draft=draft)

"""Forms of the workflow pages; they only parse: the services decide what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from spendflo.workflows.models import FormField, WorkflowVersion
from spendflo.workflows.services import FieldInput


class WorkflowForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class FieldForm(forms.Form):
    label = forms.CharField(max_length=120)
    type = forms.ChoiceField(choices=FormField.Type.choices)
    group = forms.ChoiceField(choices=FormField.Group.choices, required=False)
    api_name = forms.CharField(max_length=64, required=False)
    help_text = forms.CharField(max_length=300, required=False)
    required = forms.BooleanField(required=False)
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One option a line."
    )

    def field_input(self) -> FieldInput:
        data: dict[str, Any] = dict(self.cleaned_data)
        data["choices"] = [c for c in str(data.get("choices") or "").splitlines() if c.strip()]
        return FieldInput.from_mapping(data)


class StepsForm(forms.Form):
    approval = forms.ChoiceField(choices=WorkflowVersion.Approval.choices)
    approver = forms.IntegerField(required=False)
    document_status = forms.ChoiceField(choices=WorkflowVersion.DocumentStatus.choices)


# --- the request form -----------------------------------------------------------------------

#: The picker API's kind for each record-picking field type (`/api/v1/pickers/<kind>`).
PICKER_KINDS: dict[str, str] = {
    FormField.Type.VENDOR: "vendors",
    FormField.Type.ITEM: "items",
    FormField.Type.ACCOUNT: "accounts",
    FormField.Type.SHIP_TO: "addresses",
    FormField.Type.DEPARTMENT: "departments",
    FormField.Type.COMMODITY: "commodities",
    FormField.Type.UOM: "uoms",
    FormField.Type.CURRENCY: "currencies",
}

#: Most lines one form may have (the add-line button stops there).
MAX_LINES = 200


@dataclass
class RequestPost:
    """A request form as posted: what to submit, and what the requester asked for."""

    title: str
    answers: dict[str, Any]
    labels: dict[str, Any]
    submit_token: str
    action: str  # "submit", "add_line" or "remove_line"
    remove_index: int | None = None


def _input_name(prefix: str, field: FormField) -> str:
    return f"{prefix}-{field.api_name}"


def _read(post: Any, prefix: str, field: FormField) -> tuple[Any, str]:
    """One answer and, for a picker, the label of the picked record."""
    name = _input_name(prefix, field)
    if field.type == FormField.Type.MONEY:
        amount = str(post.get(f"{name}-amount", "")).strip()
        currency = str(post.get(f"{name}-currency", "")).strip()
        return ({"amount": amount, "currency": currency} if amount or currency else ""), ""
    value = str(post.get(name, "")).strip()
    label = str(post.get(f"{name}-label", "")).strip()[:200] if field.is_picker else ""
    return value, label


def request_post_parse(version: WorkflowVersion, post: Any) -> RequestPost:
    """Turn the request form's POST into answers, labels and the action asked for.

    Values stay as typed (strings) so a refused form shows them again unchanged; the
    service checks and normalises them.
    """
    fields = list(version.fields.all())
    request_fields = [f for f in fields if f.group == FormField.Group.REQUEST]
    line_fields = [f for f in fields if f.group == FormField.Group.LINE]
    request: dict[str, Any] = {}
    request_labels: dict[str, str] = {}
    for f in request_fields:
        request[f.api_name], label = _read(post, "request", f)
        if label:
            request_labels[f.api_name] = label
    try:
        count = max(0, min(MAX_LINES, int(post.get("lines", "0"))))
    except ValueError:
        count = 0
    lines: list[dict[str, Any]] = []
    line_labels: list[dict[str, str]] = []
    for n in range(count if line_fields else 0):
        line: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for f in line_fields:
            line[f.api_name], label = _read(post, f"line-{n}", f)
            if label:
                labels[f.api_name] = label
        lines.append(line)
        line_labels.append(labels)
    action = str(post.get("action", "submit"))
    remove_index = None
    if action.startswith("remove_line-"):
        try:
            remove_index = int(action.removeprefix("remove_line-"))
        except ValueError:
            remove_index = None
        action = "remove_line"
    elif action not in ("add_line", "submit"):
        action = "submit"
    return RequestPost(
        title=str(post.get("title", "")).strip(),
        answers={"request": request, "lines": lines},
        labels={"request": request_labels, "lines": line_labels},
        submit_token=str(post.get("submit_token", "")).strip()[:64],
        action=action,
        remove_index=remove_index,
    )


class CommentForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

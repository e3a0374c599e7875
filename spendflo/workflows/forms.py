"""Forms of the workflow pages; they only parse: the services decide what is allowed."""

from __future__ import annotations

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

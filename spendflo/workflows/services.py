"""Every change to workflows, their versions, forms and steps.

Published versions are frozen: changes go to the workflow's draft version, which
`version_draft_for` makes on demand as a copy of the published one (form, steps and
field mappings). Publishing asks every configured provider what keeps the version from
going live (`integrations.providers`), so a workflow whose requisitions Coupa would
refuse never reaches requesters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from integrations.models import FieldMapping
from integrations.providers import Blocker, provider_list
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.workflows.models import (
    FormField,
    PurchaseRequest,
    RequestEvent,
    Workflow,
    WorkflowVersion,
)
from spendflo.workflows.notices import notices_send

_API_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class WorkflowError(Exception):
    """A workflow change that cannot be made; the message is shown as it is."""


class PublishBlockedError(WorkflowError):
    """Publishing refused: `blockers` lists what to fix, each tied to a row when it has one."""

    def __init__(self, blockers: Sequence[Blocker]) -> None:
        super().__init__(
            "This version cannot be published yet: " + "; ".join(b.message for b in blockers)
        )
        self.blockers = list(blockers)


@dataclass(frozen=True)
class FieldInput:
    label: str
    api_name: str = ""
    type: str = FormField.Type.SHORT_TEXT
    group: str = FormField.Group.REQUEST
    help_text: str = ""
    required: bool = False
    choices: Sequence[str] = ()

    @classmethod
    def from_mapping(cls, data: Any) -> FieldInput:
        return cls(
            label=str(data.get("label", "")).strip(),
            api_name=str(data.get("api_name") or "").strip(),
            type=str(data.get("type") or FormField.Type.SHORT_TEXT),
            group=str(data.get("group") or FormField.Group.REQUEST),
            help_text=str(data.get("help_text") or "").strip(),
            required=bool(data.get("required", False)),
            choices=[str(c).strip() for c in data.get("choices") or () if str(c).strip()],
        )


def api_name_from(label: str) -> str:
    """A form field's default API name: `Vendor name` → `vendor_name`."""
    name = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"field_{name}".strip("_")
    return name[:64]


def _audit(
    version: WorkflowVersion | Workflow, user: User | None, summary: str, **details: Any
) -> None:
    workflow = version if isinstance(version, Workflow) else version.workflow
    audit_record(
        organization=workflow.organization,
        actor=user,
        action=AuditEvent.Action.WORKFLOW_CHANGE,
        summary=summary,
        details={"workflow": workflow.pk, **details},
    )


@transaction.atomic
def workflow_create(
    *, organization: Organization, name: str, description: str = "", user: User | None
) -> Workflow:
    """A new workflow with an empty draft version 1."""
    name = name.strip()
    if not name:
        raise WorkflowError("Give the workflow a name.")
    if Workflow.objects.filter(organization=organization, name__iexact=name).exists():
        raise WorkflowError(f"A workflow named “{name}” already exists.")
    workflow = Workflow.objects.create(
        organization=organization, name=name, description=description.strip(), created_by=user
    )
    WorkflowVersion.objects.create(workflow=workflow, number=1)
    _audit(workflow, user, f"Created workflow “{name}”.")
    return workflow


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    name: str | None = None,
    description: str | None = None,
    user: User | None,
) -> Workflow:
    """Rename or describe a workflow (versions are unaffected)."""
    if name is not None:
        name = name.strip()
        if not name:
            raise WorkflowError("Give the workflow a name.")
        clash = Workflow.objects.filter(organization=workflow.organization, name__iexact=name)
        if clash.exclude(pk=workflow.pk).exists():
            raise WorkflowError(f"A workflow named “{name}” already exists.")
        workflow.name = name
    if description is not None:
        workflow.description = description.strip()
    workflow.save()
    _audit(workflow, user, f"Edited workflow “{workflow.name}”.")
    return workflow


@transaction.atomic
def version_draft_for(*, workflow: Workflow, user: User | None) -> WorkflowVersion:
    """The workflow's draft version; made from the latest version when there is none.

    The copy has the same form fields (same API names), steps and mappings, so editing
    a published workflow starts from what is live while requests keep their version.
    """
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    draft = workflow.versions.filter(state=WorkflowVersion.State.DRAFT).first()
    if draft is not None:
        return draft
    latest = workflow.versions.order_by("-number").first()
    number = (workflow.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = WorkflowVersion.objects.create(
        workflow=workflow,
        number=number,
        approval=latest.approval if latest else WorkflowVersion.Approval.NONE,
        approver=latest.approver if latest else None,
        document_status=latest.document_status if latest else WorkflowVersion.DocumentStatus.DRAFT,
    )
    if latest is not None:
        FormField.objects.bulk_create(
            FormField(
                version=draft,
                group=f.group,
                position=f.position,
                label=f.label,
                api_name=f.api_name,
                type=f.type,
                help_text=f.help_text,
                required=f.required,
                choices=f.choices,
            )
            for f in latest.fields.all()
        )
        fields = {f.api_name: f for f in draft.fields.all()}
        FieldMapping.objects.bulk_create(
            FieldMapping(
                version=draft,
                target=m.target,
                source=m.source,
                form_field=fields.get(m.form_field.api_name) if m.form_field else None,
                value=m.value,
                default=m.default,
            )
            for m in latest.mappings.select_related("form_field")
        )
    _audit(workflow, user, f"Started version {number} of “{workflow.name}”.", number=number)
    return draft


def _editable(version: WorkflowVersion) -> None:
    if not version.is_editable:
        raise WorkflowError(
            f"Version {version.number} is {version.get_state_display().lower()} and frozen: "
            "edit the workflow's draft version."
        )


def _check_field(data: FieldInput) -> None:
    if not data.label:
        raise WorkflowError("Give the field a label.")
    if data.type not in FormField.Type.values:
        raise WorkflowError(f"Unknown field type {data.type!r}.")
    if data.group not in FormField.Group.values:
        raise WorkflowError(f"Unknown group {data.group!r}.")
    if not _API_NAME.match(data.api_name):
        raise WorkflowError(
            f"API name {data.api_name!r}: use lower-case letters, digits and _ , starting with a letter."
        )
    if data.type == FormField.Type.CHOICE and not data.choices:
        raise WorkflowError("A single-choice field needs its options.")
    if data.type == FormField.Type.USER and data.group == FormField.Group.LINE:
        raise WorkflowError("A user field is asked once per request, not on each line.")


@transaction.atomic
def form_field_add(*, version: WorkflowVersion, data: FieldInput, user: User | None) -> FormField:
    """Add a question at the end of the request's fields or of the line group."""
    _editable(version)
    if not data.api_name:
        data = FieldInput(**{**data.__dict__, "api_name": api_name_from(data.label)})
    _check_field(data)
    if version.fields.filter(api_name=data.api_name).exists():
        raise WorkflowError(f"Another field already has the API name {data.api_name!r}.")
    last = version.fields.filter(group=data.group).aggregate(p=Max("position"))["p"]
    try:
        with transaction.atomic():
            field = FormField.objects.create(
                version=version,
                position=(last or 0) + 1,
                label=data.label,
                api_name=data.api_name,
                type=data.type,
                group=data.group,
                help_text=data.help_text,
                required=data.required,
                choices=list(data.choices) if data.type == FormField.Type.CHOICE else [],
            )
    except IntegrityError:
        raise WorkflowError(f"Another field already has the API name {data.api_name!r}.") from None
    _audit(version, user, f"Added field “{field.label}” to {version}.")
    return field


@transaction.atomic
def form_field_update(*, field: FormField, data: FieldInput, user: User | None) -> FormField:
    """Change a question; its API name and group stay (mappings refer to them)."""
    _editable(field.version)
    data = FieldInput(**{**data.__dict__, "api_name": field.api_name, "group": field.group})
    _check_field(data)
    field.label, field.type, field.help_text = data.label, data.type, data.help_text
    field.required = data.required
    field.choices = list(data.choices) if data.type == FormField.Type.CHOICE else []
    field.save()
    _audit(field.version, user, f"Edited field “{field.label}” of {field.version}.")
    return field


@transaction.atomic
def form_field_remove(*, field: FormField, user: User | None) -> None:
    """Remove a question; mappings it fed lose their source and show it."""
    _editable(field.version)
    version, label = field.version, field.label
    field.delete()
    _audit(version, user, f"Removed field “{label}” from {version}.")


@transaction.atomic
def form_field_move(*, field: FormField, offset: int, user: User | None) -> None:
    """Move a question up (-1) or down (+1) within its group."""
    _editable(field.version)
    siblings = list(field.version.fields.filter(group=field.group).order_by("position", "pk"))
    index = siblings.index(field)
    new = max(0, min(len(siblings) - 1, index + offset))
    siblings.insert(new, siblings.pop(index))
    for position, f in enumerate(siblings, start=1):
        if f.position != position:
            FormField.objects.filter(pk=f.pk).update(position=position)
    if new != index:
        _audit(field.version, user, f"Moved field “{field.label}” of {field.version}.")


@transaction.atomic
def version_steps_set(
    *,
    version: WorkflowVersion,
    approval: str,
    approver: User | None = None,
    document_status: str,
    user: User | None,
) -> WorkflowVersion:
    """Set the in-app approval step and the status the requisition gets in the provider."""
    _editable(version)
    if approval not in WorkflowVersion.Approval.values:
        raise WorkflowError(f"Unknown approval {approval!r}.")
    if document_status not in WorkflowVersion.DocumentStatus.values:
        raise WorkflowError(f"Unknown requisition status {document_status!r}.")
    if approval == WorkflowVersion.Approval.USER:
        if approver is None:
            raise WorkflowError("Choose the approver.")
        if approver.organization_id != version.workflow.organization_id or not approver.is_active:
            raise WorkflowError("The approver must be an active user of this organization.")
    else:
        approver = None
    version.approval, version.approver, version.document_status = (
        approval,
        approver,
        document_status,
    )
    version.save()
    _audit(version, user, f"Changed the steps of {version}.")
    return version


def publish_blockers(version: WorkflowVersion) -> list[Blocker]:
    """What keeps a version from being published: the form's own, then each provider's."""
    blockers: list[Blocker] = []
    if not version.fields.exists():
        blockers.append(Blocker("", "The form has no fields yet."))
    if version.approval == WorkflowVersion.Approval.USER and version.approver is None:
        blockers.append(Blocker("", "Choose the approver of the approval step."))
    for provider in provider_list():
        blockers.extend(provider.workflow_blockers(version=version))
    return blockers


@transaction.atomic
def version_publish(*, version: WorkflowVersion, user: User | None) -> WorkflowVersion:
    """Publish a draft: it becomes the version requesters use; the previous one retires."""
    version = WorkflowVersion.objects.select_for_update().get(pk=version.pk)
    _editable(version)
    blockers = publish_blockers(version)
    if blockers:
        raise PublishBlockedError(blockers)
    version.workflow.versions.filter(state=WorkflowVersion.State.PUBLISHED).update(
        state=WorkflowVersion.State.RETIRED
    )
    version.state = WorkflowVersion.State.PUBLISHED
    version.published_at, version.published_by = timezone.now(), user
    version.save()
    audit_record(
        organization=version.workflow.organization,
        actor=user,
        action=AuditEvent.Action.WORKFLOW_PUBLISH,
        summary=f"Published version {version.number} of “{version.workflow.name}”.",
        details={"workflow": version.workflow_id, "version": version.number},
    )
    return version


@transaction.atomic
def fields_reorder(
    *, version: WorkflowVersion, api_names: Iterable[str], user: User | None
) -> None:
    """Put a group's fields in the given order (API names of one group).

    All or nothing: an unknown or repeated name, or names of both groups, change nothing.
    Fields of the group that are not listed follow the listed ones, in their order.
    """
    _editable(version)
    names = list(api_names)
    by_name = {f.api_name: f for f in version.fields.all()}
    for name in names:
        if name not in by_name:
            raise WorkflowError(f"No field {name!r} in this version.")
    if len(set(names)) != len(names):
        raise WorkflowError("Each field can be listed once.")
    groups = {by_name[name].group for name in names}
    if len(groups) != 1:
        raise WorkflowError("Reorder one group at a time: the request's fields or each line's.")
    group = groups.pop()
    rest = sorted(
        (f for f in by_name.values() if f.group == group and f.api_name not in names),
        key=lambda f: (f.position, f.pk),
    )
    for position, field in enumerate([*(by_name[n] for n in names), *rest], start=1):
        if field.position != position:
            FormField.objects.filter(pk=field.pk).update(position=position)
    _audit(version, user, f"Reordered the fields of {version}.")


# --- requests ---------------------------------------------------------------------------


def request_event_record(
    *,
    request: PurchaseRequest,
    kind: str,
    message: str,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
    notify: bool = False,
) -> RequestEvent:
    """Add an entry to a request's timeline; call inside the change's transaction.

    Every change a person should hear of (PR created or failed, approved or rejected in
    Coupa, a PO issued) is one event with `notify=True`, recorded once per change, never
    once per poll; notices go out from it.
    """
    event = RequestEvent.objects.create(
        request=request, kind=kind, message=message[:500], actor=actor, details=details or {}
    )
    if notify:
        transaction.on_commit(lambda: _notify(event))
    return event


def _notify(event: RequestEvent) -> None:
    """Tell the requester and the workflow's admins: an in-app notice and an email each."""
    notices_send(event_id=event.pk, event=event)

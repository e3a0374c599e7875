"""Shared reads of workflows and their versions (pages and API), scoped to one organization."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, OuterRef, Prefetch, QuerySet, Subquery, Value, When

from spendflo.organizations.models import Organization
from spendflo.workflows.models import FormField, Workflow, WorkflowVersion


def _version_of(state: str, column: str) -> Subquery:
    return Subquery(
        WorkflowVersion.objects.filter(workflow=OuterRef("pk"), state=state).values(column)[:1]
    )


def workflow_list(*, organization: Organization) -> QuerySet[Workflow]:
    """The organization's workflows by name, with the id and number of their published and
    draft versions (`published_id`, `published_number`, `draft_id`, `draft_number`)."""
    published, draft = WorkflowVersion.State.PUBLISHED, WorkflowVersion.State.DRAFT
    return (
        Workflow.objects.filter(organization=organization)
        .annotate(
            published_id=_version_of(published, "pk"),
            published_number=_version_of(published, "number"),
            draft_id=_version_of(draft, "pk"),
            draft_number=_version_of(draft, "number"),
        )
        .order_by("name", "pk")
    )


def version_list(*, organization: Organization) -> QuerySet[WorkflowVersion]:
    """Every workflow version of the organization, newest first within a workflow."""
    return (
        WorkflowVersion.objects.filter(workflow__organization=organization)
        .select_related("workflow", "approver", "published_by")
        .order_by("workflow__name", "workflow_id", "-number")
    )


def version_get(*, organization: Organization, version_id: int) -> WorkflowVersion | None:
    """One version of the organization's workflows, or None (another tenant's is None too)."""
    return version_list(organization=organization).filter(pk=version_id).first()


def form_field_list(*, version: WorkflowVersion) -> QuerySet[FormField]:
    """A version's form: the request's questions, then each line's, in their order."""
    request_first = Case(When(group=FormField.Group.REQUEST, then=Value(0)), default=Value(1))
    return version.fields.order_by(request_first, "position", "pk")


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of the workflow list."""

    workflow: Workflow
    published: WorkflowVersion | None
    draft: WorkflowVersion | None


def workflow_summary_list(*, organization: Organization) -> list[WorkflowSummary]:
    """The organization's workflows by name, each with its published and draft version."""
    workflows = Workflow.objects.filter(organization=organization).prefetch_related(
        Prefetch("versions", queryset=WorkflowVersion.objects.order_by("-number"))
    )
    out = []
    for workflow in workflows:
        versions = list(workflow.versions.all())
        out.append(
            WorkflowSummary(
                workflow,
                next((v for v in versions if v.state == WorkflowVersion.State.PUBLISHED), None),
                next((v for v in versions if v.state == WorkflowVersion.State.DRAFT), None),
            )
        )
    return out


def version_shown(*, workflow: Workflow, number: int | None = None) -> WorkflowVersion | None:
    """A version by number; without one, the draft, else the published, else the latest."""
    versions: QuerySet[WorkflowVersion] = workflow.versions.select_related("approver")
    if number is not None:
        version = versions.filter(number=number).first()
    else:
        version = (
            versions.filter(state=WorkflowVersion.State.DRAFT).first()
            or versions.filter(state=WorkflowVersion.State.PUBLISHED).first()
            or versions.order_by("-number").first()
        )
    return version

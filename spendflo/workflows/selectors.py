"""Reads of workflows shared by the pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from spendflo.organizations.models import Organization
from spendflo.workflows.models import Workflow, WorkflowVersion


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of the workflow list."""

    workflow: Workflow
    published: WorkflowVersion | None
    draft: WorkflowVersion | None


def workflow_list(*, organization: Organization) -> list[WorkflowSummary]:
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


def version_get(*, workflow: Workflow, number: int | None = None) -> WorkflowVersion | None:
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

"""Shared reads of workflows and their versions (pages and API), scoped to one organization."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When

from integrations.providers import provider_list
from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.users.roles import Capability, user_can
from spendflo.workflows.models import (
    FormField,
    Notification,
    PurchaseRequest,
    RequestEvent,
    Workflow,
    WorkflowVersion,
)


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


# --- requests ---------------------------------------------------------------------------


def published_version_list(*, organization: Organization) -> QuerySet[WorkflowVersion]:
    """What requesters of the organization can submit: each workflow's published version."""
    return (
        WorkflowVersion.objects.filter(
            workflow__organization=organization, state=WorkflowVersion.State.PUBLISHED
        )
        .select_related("workflow", "approver")
        .prefetch_related(Prefetch("fields", queryset=FormField.objects.order_by("position", "pk")))
        .order_by("workflow__name", "workflow_id")
    )


def request_list(
    *, user: User, state: str = "", everyone: bool = False
) -> QuerySet[PurchaseRequest]:
    """Requests a user may see, newest first: their own (and those they approve), or with
    `everyone` and the capability to, all of their organization's."""
    if user.organization_id is None:
        return PurchaseRequest.objects.none()
    qs = PurchaseRequest.objects.filter(organization_id=user.organization_id)
    if not (everyone and user_can(user, Capability.VIEW_ALL_REQUESTS)):
        qs = qs.filter(Q(requester=user) | Q(version__approver=user))
    if state:
        qs = qs.filter(state=state)
    return qs.select_related("requester", "version__workflow", "version__approver").order_by(
        "-submitted_at", "-pk"
    )


def request_awaiting_list(*, user: User) -> QuerySet[PurchaseRequest]:
    """Requests waiting for this user's decision: named approver, or an admin where any
    admin approves."""
    if user.organization_id is None:
        return PurchaseRequest.objects.none()
    mine = Q(version__approval=WorkflowVersion.Approval.USER, version__approver=user)
    if user.is_org_admin:
        mine |= Q(version__approval=WorkflowVersion.Approval.ANY_ADMIN)
    return (
        PurchaseRequest.objects.filter(
            organization_id=user.organization_id, state=PurchaseRequest.State.AWAITING_APPROVAL
        )
        .filter(mine)
        .select_related("requester", "version__workflow")
        .order_by("submitted_at", "pk")
    )


def request_get(*, user: User, request_id: int) -> PurchaseRequest | None:
    """One request the user may see: theirs, one they approve, or any of the organization's
    for those who see all (admins approving "any admin" steps among them); else None."""
    return request_list(user=user, everyone=True).filter(pk=request_id).first()


def request_event_list(*, request: PurchaseRequest) -> QuerySet[RequestEvent]:
    """A request's timeline, oldest first."""
    return request.events.select_related("actor").order_by("created_at", "pk")


def provider_request_hooks(name: str) -> list[Callable[..., Any]]:
    """Each configured provider's request hook `name` (`request_send`, ...), in order.

    A provider that takes no requests (none of the hooks) is skipped rather than failing
    every submit: requests then wait in "sending" until one that does is configured.
    """
    return [hook for p in provider_list() if (hook := getattr(p, name, None)) is not None]


def request_document(*, request: PurchaseRequest) -> dict[str, Any] | None:
    """What the providers show of the request's document (the first that has one)."""
    for hook in provider_request_hooks("request_document"):
        document: dict[str, Any] | None = hook(request=request)
        if document:
            return document
    return None


def request_documents(*, requests: Sequence[PurchaseRequest]) -> dict[int, dict[str, Any]]:
    """The documents of many requests at once, by request pk (for lists: no query per row).

    Providers with a batched `request_documents` hook answer in a few queries; others are
    asked request by request.
    """
    out: dict[int, dict[str, Any]] = {}
    for provider in provider_list():
        batched = getattr(provider, "request_documents", None)
        single = getattr(provider, "request_document", None)
        missing = [r for r in requests if r.pk not in out]
        if not missing:
            break
        if batched is not None:
            found: dict[int, dict[str, Any]] = batched(requests=missing)
            out.update({pk: d for pk, d in found.items() if d})
        elif single is not None:
            for r in missing:
                document = single(request=r)
                if document:
                    out[r.pk] = document
    return out


def notice_list(*, user: User, unread: bool = False) -> QuerySet[Notification]:
    """A user's notices, newest first."""
    qs = Notification.objects.filter(recipient=user)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("request").order_by("-created_at", "-pk")

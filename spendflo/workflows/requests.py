"""Purchase requests: submit, approve or reject in the app, send to the providers, retry.

A request is checked whole before anything is stored or sent: the form's own rules
(`answers_problems`), then each provider's (`request_problems`: the requester matched to
a provider user, every picked record still offered, ...). A refusal is a
`RequestInvalidError` whose problems name the field they belong to, so the page shows
each on its field and keeps everything typed.

The state machine (`PurchaseRequest.State`)::

    submit ─┬─ approval step ─→ awaiting_approval ─┬─ approve ─→ sending
            │                                      └─ reject  ─→ rejected
            └─ no approval ──────────────────────────────────────→ sending
    sending ─→ pr_created | pr_failed (the provider) ; pr_failed ─ retry ─→ sending

Numbers are per organization (`SF-<n>`): the organization row is locked while the next
number is taken (PostgreSQL), and the unique constraint with a retry covers databases
that do not lock rows (SQLite serialises writers instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.users.roles import Capability, user_can
from spendflo.workflows.models import FormField, PurchaseRequest, RequestEvent, WorkflowVersion
from spendflo.workflows.selectors import provider_request_hooks
from spendflo.workflows.services import WorkflowError, request_event_record

#: Attempts at taking the next number when a concurrent submit took it first.
NUMBER_ATTEMPTS = 5


class RequestError(WorkflowError):
    """A request change that cannot be made; the message is shown as it is."""


@dataclass(frozen=True)
class RequestProblem:
    """One reason the answers cannot be submitted.

    `field` is the form field's API name, or empty for the request as a whole; `line` is
    the line's index (0-based) for a line field's problem, else None.
    """

    field: str
    message: str
    line: int | None = None

    @property
    def key(self) -> str:
        """Where a page shows it: `api_name`, `lines.<n>.api_name`, or `` for the form."""
        if self.line is None:
            return self.field
        return f"lines.{self.line}.{self.field}" if self.field else f"lines.{self.line}"


class RequestInvalidError(RequestError):
    """The answers were refused; `problems` lists every reason, each on its field."""

    def __init__(self, problems: list[RequestProblem]) -> None:
        super().__init__(
            "The request cannot be submitted: " + "; ".join(p.message for p in problems)
        )
        self.problems = problems


# --- validating answers -------------------------------------------------------------------


def _empty(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_empty(v) for v in value.values())
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _answer_problem(field: FormField, value: Any, users: set[int]) -> str | None:
    """What is wrong with one non-empty answer, or None."""
    kind = field.type
    if kind == FormField.Type.NUMBER:
        if _decimal(value) is None:
            return "Enter a number."
    elif kind == FormField.Type.MONEY:
        if not isinstance(value, Mapping):
            return "Enter an amount and a currency."
        if _decimal(value.get("amount")) is None:
            return "Enter the amount as a number."
        currency = value.get("currency")
        if not isinstance(currency, str) or not currency.strip():
            return "Enter the currency."
    elif kind == FormField.Type.DATE:
        try:
            if not isinstance(value, str):
                raise ValueError
            dt.date.fromisoformat(value)
            if len(value) != 10:
                raise ValueError
        except ValueError:
            return "Enter a date as YYYY-MM-DD."
    elif kind == FormField.Type.CHOICE:
        if value not in field.choices:
            return "Choose one of the options."
    elif kind == FormField.Type.USER:
        if not _is_id(value) or int(value) not in users:
            return "Choose a user of this organization."
    elif field.is_picker:
        if not _is_id(value):
            return "Pick a record from the list."
    elif not isinstance(value, str):
        return "Enter text."
    return None


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value > 0
    return isinstance(value, str) and value.strip().isdigit() and int(value) > 0


def _check_group(
    fields: list[FormField], answers: Any, users: set[int], line: int | None
) -> list[RequestProblem]:
    if not isinstance(answers, Mapping):
        return [RequestProblem("", "The answers must be an object.", line)]
    problems = []
    for field in fields:
        value = answers.get(field.api_name)
        if _empty(value):
            if field.required:
                problems.append(RequestProblem(field.api_name, f"{field.label} is required.", line))
            continue
        message = _answer_problem(field, value, users)
        if message:
            problems.append(RequestProblem(field.api_name, f"{field.label}: {message}", line))
    return problems


def answers_problems(*, version: WorkflowVersion, answers: Any) -> list[RequestProblem]:
    """What is wrong with answers to a version's form, by the form's own rules.

    Required answers, their types (numbers, money `{amount, currency}`, dates
    `YYYY-MM-DD`, one of a choice's options, picked records and users as ids) and, when
    the form asks per-line questions, at least one line.
    """
    if not isinstance(answers, Mapping):
        return [RequestProblem("", "The answers must be an object with request and lines.")]
    fields = list(version.fields.all())
    request_fields = [f for f in fields if f.group == FormField.Group.REQUEST]
    line_fields = [f for f in fields if f.group == FormField.Group.LINE]
    users = set(
        User.objects.filter(
            organization_id=version.workflow.organization_id, is_active=True
        ).values_list("pk", flat=True)
    )
    problems = _check_group(request_fields, answers.get("request") or {}, users, None)
    lines = answers.get("lines") or []
    if not isinstance(lines, list):
        return [*problems, RequestProblem("", "Lines must be a list.")]
    if line_fields and not lines:
        problems.append(RequestProblem("", "Add at least one line."))
    for index, line in enumerate(lines):
        problems.extend(_check_group(line_fields, line, users, index))
    return problems


def _normalised(version: WorkflowVersion, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers as stored: only the form's fields, ids as ints, text stripped."""
    by_group: dict[str, list[FormField]] = {g: [] for g in FormField.Group.values}
    for f in version.fields.all():
        by_group[f.group].append(f)

    def clean(fields: list[FormField], values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields:
            value: Any = values.get(f.api_name)
            if value is None or _empty(value):
                continue
            if f.is_picker or f.type == FormField.Type.USER:
                value = int(value)
            elif f.type == FormField.Type.MONEY:
                value = {
                    "amount": str(value["amount"]).strip(),
                    "currency": str(value["currency"]).strip().upper(),
                }
            elif isinstance(value, str):
                value = value.strip()
            out[f.api_name] = value
        return out

    return {
        "request": clean(by_group[FormField.Group.REQUEST], answers.get("request") or {}),
        "lines": [
            clean(by_group[FormField.Group.LINE], line) for line in answers.get("lines") or []
        ],
    }


# --- submitting -----------------------------------------------------------------------------


def _next_number(organization: Organization) -> int:
    last = PurchaseRequest.objects.filter(organization=organization).aggregate(n=Max("number"))
    return (last["n"] or 0) + 1


@transaction.atomic
def request_submit(
    *,
    version: WorkflowVersion,
    requester: User,
    title: str,
    answers: Any,
    labels: Mapping[str, Any] | None = None,
    submit_token: str = "",
) -> PurchaseRequest:
    """Submit answers to a published version's form as a new request.

    Checks the answers (the form's rules, then each provider's) before anything is
    stored; raises `RequestInvalidError` with every problem. Takes the organization's
    next number, records `submitted`, then waits for the approval step (notifying the
    approver) or hands the request to the providers at once.

    Idempotent per `submit_token`: the same requester submitting the same form again
    (a double click, a resent POST) gets the request already made, and nothing is sent
    twice.
    """
    organization = version.workflow.organization
    if requester.organization_id != organization.pk or not requester.is_active:
        raise RequestError("Only members of the workflow's organization can submit to it.")
    submit_token = submit_token.strip()[:64]
    if submit_token:
        existing = PurchaseRequest.objects.filter(
            requester=requester, submit_token=submit_token
        ).first()
        if existing is not None:
            return existing
    if version.state != WorkflowVersion.State.PUBLISHED:
        raise RequestError("This workflow version is not published: reload the form.")
    title = (title or "").strip()
    problems = [] if title else [RequestProblem("title", "Give the request a title.")]
    if len(title) > 200:
        problems.append(RequestProblem("title", "Keep the title under 200 characters."))
    problems.extend(answers_problems(version=version, answers=answers))
    if problems:
        raise RequestInvalidError(problems)
    answers = _normalised(version, answers)
    problems = [
        RequestProblem(_field_of(blocker.target, version), blocker.message)
        for problems_of in provider_request_hooks("request_problems")
        for blocker in problems_of(version=version, answers=answers, requester=requester)
    ]
    if problems:
        raise RequestInvalidError(problems)

    # The organization row is the lock numbers are taken under (PostgreSQL). NO KEY:
    # rows that reference the organization (audit events of a Show to Users toggle, say)
    # are still written while a submit holds it.
    Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).first()
    approval = version.approval != WorkflowVersion.Approval.NONE
    state = PurchaseRequest.State.AWAITING_APPROVAL if approval else PurchaseRequest.State.SENDING
    for attempt in range(NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                request = PurchaseRequest.objects.create(
                    organization=organization,
                    version=version,
                    requester=requester,
                    number=_next_number(organization),
                    title=title,
                    answers=answers,
                    labels=dict(labels or {}),
                    submit_token=submit_token,
                    state=state,
                    submitted_at=timezone.now(),
                )
            break
        except IntegrityError:
            if submit_token:
                existing = PurchaseRequest.objects.filter(
                    requester=requester, submit_token=submit_token
                ).first()
                if existing is not None:  # the concurrent submit was this very form
                    return existing
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    if approval:
        who = version.approver.get_full_name() or version.approver.email if version.approver else ""
        request_event_record(
            request=request,
            kind=RequestEvent.Kind.SUBMITTED,
            message=f"Submitted; waiting for approval by {who or 'an admin'}.",
            actor=requester,
            notify=True,
        )
    else:
        request_event_record(
            request=request, kind=RequestEvent.Kind.SUBMITTED, message="Submitted.", actor=requester
        )
        _request_dispatch(request, actor=requester)
    return request


def _field_of(target: str, version: WorkflowVersion) -> str:
    """A provider problem's field: the form field it names, if it names one."""
    return target if version.fields.filter(api_name=target).exists() else ""


def _request_dispatch(request: PurchaseRequest, *, actor: User | None) -> None:
    """Hand the request to every provider (inside the caller's transaction)."""
    request.state = PurchaseRequest.State.SENDING
    request.save(update_fields=["state", "updated_at"])
    # Each provider records on the timeline what it queued (one entry, with its details).
    for send in provider_request_hooks("request_send"):
        send(request=request)


# --- approving ------------------------------------------------------------------------------


def request_can_approve(*, request: PurchaseRequest, user: User) -> bool:
    """Whether the user decides the request's approval step (named approver or any admin)."""
    version = request.version
    if not user.is_active or user.organization_id != request.organization_id:
        return False
    if version.approval == WorkflowVersion.Approval.USER:
        return version.approver_id == user.pk
    if version.approval == WorkflowVersion.Approval.ANY_ADMIN:
        return user.is_org_admin
    return False


def _awaiting(request: PurchaseRequest, user: User) -> PurchaseRequest:
    locked = (
        PurchaseRequest.objects.select_for_update().select_related("version").get(pk=request.pk)
    )
    if not request_can_approve(request=locked, user=user):
        raise RequestError("Only the approver of this workflow's approval step can decide it.")
    if locked.state != PurchaseRequest.State.AWAITING_APPROVAL:
        raise RequestError(
            f"This request is {locked.get_state_display().lower()}: nothing to decide."
        )
    return locked


@transaction.atomic
def request_approve(*, request: PurchaseRequest, user: User, comment: str = "") -> PurchaseRequest:
    """Approve a request awaiting approval, then send it to the providers.

    Only the version's approver (a named user, or any admin) may; a decided request is
    refused, so two approvers clicking at once send it once.
    """
    locked = _awaiting(request, user)
    comment = comment.strip()
    request_event_record(
        request=locked,
        kind=RequestEvent.Kind.APPROVED,
        message=f"Approved by {user.email}." + (f" “{comment}”" if comment else ""),
        actor=user,
        details={"comment": comment},
        notify=True,
    )
    _request_dispatch(locked, actor=user)
    return locked


@transaction.atomic
def request_reject(*, request: PurchaseRequest, user: User, comment: str) -> PurchaseRequest:
    """Reject a request awaiting approval; the comment (required) tells the requester why."""
    comment = (comment or "").strip()
    if not comment:
        raise RequestError("Say why the request is rejected: the requester reads it.")
    locked = _awaiting(request, user)
    locked.state = PurchaseRequest.State.REJECTED
    locked.save(update_fields=["state", "updated_at"])
    request_event_record(
        request=locked,
        kind=RequestEvent.Kind.REJECTED,
        message=f"Rejected by {user.email}: “{comment}”",
        actor=user,
        details={"comment": comment},
        notify=True,
    )
    return locked


@transaction.atomic
def request_retry(*, request: PurchaseRequest, user: User) -> PurchaseRequest:
    """Try again a request whose document failed (admins, after fixing the cause).

    The providers decide what a retry does (Coupa first looks the PR up, so a retry
    never makes a second one).
    """
    if (
        not user_can(user, Capability.MANAGE_REQUESTS)
        or user.organization_id != request.organization_id
    ):
        raise RequestError("Only admins can retry a request.")
    locked = PurchaseRequest.objects.select_for_update().get(pk=request.pk)
    if locked.state != PurchaseRequest.State.PR_FAILED:
        raise RequestError(
            f"This request is {locked.get_state_display().lower()}: nothing to retry."
        )
    locked.state = PurchaseRequest.State.SENDING
    locked.save(update_fields=["state", "updated_at"])
    request_event_record(
        request=locked,
        kind=RequestEvent.Kind.RETRIED,
        message=f"Retried by {user.email}.",
        actor=user,
    )
    for retry in provider_request_hooks("request_retry"):
        retry(request=locked, user=user)
    return locked

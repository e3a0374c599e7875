"""Telling people about request events: an in-app notice and an email per recipient.

A request event recorded with `notify=True` reaches, once, the requester, the
organization's admins and the version's named approver, except whoever caused it (they
know). Notices are keyed by (event, recipient), so running this twice for one event sends
nothing more.

Alerts (a failing sync, a connection needing attention) reach the organization's active
admins through `admin_notices_send`: a notice without a request, leading to the page
where the problem shows. Whoever raises them decides when (`integrations.alerts` sends
one per change of state, never one per failure).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import ForeignKey, Model
from django.urls import reverse
from django.utils import timezone

from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.workflows.models import Notification, RequestEvent

logger = logging.getLogger(__name__)


def notice_recipients(event: RequestEvent) -> list[User]:
    """Who hears of an event: requester, the organization's admins, the named approver."""
    request = event.request
    people: dict[int, User] = {request.requester_id: request.requester}
    admins = User.objects.filter(
        organization_id=request.organization_id, role=User.Role.ADMIN, is_active=True
    )
    people.update({u.pk: u for u in admins})
    approver = request.version.approver
    if approver is not None:
        people[approver.pk] = approver
    people.pop(event.actor_id or 0, None)
    return [
        u for u in people.values() if u.is_active and u.organization_id == request.organization_id
    ]


#: What the notices of an event read beyond the event: who hears of it, and the email.
_EVENT_RELATED = ("request__requester", "request__version__approver", "request__version__workflow")


def _loaded(instance: Model, path: str) -> bool:
    """Whether following `path` (`request__version__approver`) from `instance` reads
    nothing: each relation on it is already loaded, or empty."""
    for name in path.split("__"):
        field = instance._meta.get_field(name)
        if not isinstance(field, ForeignKey):
            return False
        if getattr(instance, field.attname) is None:
            return True  # no related row: following it reads nothing
        if not field.is_cached(instance):
            return False
        instance = getattr(instance, name)
    return True


def notices_send(*, event_id: int, event: RequestEvent | None = None) -> list[Notification]:
    """Make the in-app notices of one event and email each recipient.

    `event`: the event `event_id` names as its caller holds it (just recorded, after its
    transaction committed), used as it is when its request's requester, version, approver and
    workflow are loaded already; else the event is read with them in one query.

    Idempotent: a recipient already noticed of the event is skipped. Email failures are
    logged, never raised: the notice in the app is the record.
    """
    if event is None or not all(_loaded(event, path) for path in _EVENT_RELATED):
        event = RequestEvent.objects.select_related(*_EVENT_RELATED).filter(pk=event_id).first()
    if event is None:
        return []
    request = event.request
    message = f"{request.reference} {request.title}: {event.message}"[:500]
    made: list[Notification] = []
    for user in notice_recipients(event):
        notice = _notice_once(recipient=user, request=request, event=event, message=message)
        if notice is not None:
            made.append(notice)
    if made:
        _email(made, event)
    return made


def _notice_once(**fields: Any) -> Notification | None:
    """A new notice of an event, or None if its recipient has one already (the unique
    event and recipient)."""
    # In a transaction a savepoint keeps the refused insert from breaking it; outside one
    # (after the event's commit, as usual) the insert is a transaction of its own, and a
    # refused one changes nothing else.
    guard = transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
    try:
        with guard:
            return Notification.objects.create(**fields)
    except IntegrityError:
        return None


def _email(notices: list[Notification], event: RequestEvent) -> None:
    request = event.request
    subject = f"[Spendflo] {request.reference} {request.title}: {event.get_kind_display()}"
    base = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    link = base + reverse("workflows:request", kwargs={"pk": request.pk})
    body = (
        f"{event.message}\n\n"
        f"Request: {request.reference} {request.title}\n"
        f"Workflow: {request.version.workflow.name}\n"
        f"Open it in Spendflo: {link}\n"
    )
    messages = [
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [n.recipient.email])
        for n in notices
        if n.recipient.email
    ]
    try:
        get_connection().send_messages(messages)
    except Exception:  # a mail server being down must not undo or hide the notice
        logger.exception("Could not email the notices of request event %s", event.pk)


def admin_notices_send(
    *, organization: Organization, subject: str, message: str, link: str = ""
) -> list[Notification]:
    """Give each active admin of the organization a notice and an email of one alert.

    `link` is the site path the notice leads to. Not idempotent by itself: the caller
    calls it once per alert. Email failures are logged, never raised.
    """
    admins = User.objects.filter(
        organization=organization, role=User.Role.ADMIN, is_active=True
    ).order_by("pk")
    text = message[:500]
    made = [
        Notification.objects.create(recipient=user, message=text, link=link[:300])
        for user in admins
    ]
    base = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    body = f"{message}\n\nOrganization: {organization.name}\n"
    if link:
        body += f"Open it in Spendflo: {base}{link}\n"
    emails = [
        EmailMessage(
            f"[Spendflo] {subject}", body, settings.DEFAULT_FROM_EMAIL, [n.recipient.email]
        )
        for n in made
        if n.recipient.email
    ]
    try:
        get_connection().send_messages(emails)
    except Exception:  # a mail server being down must not undo or hide the notice
        logger.exception(
            "Could not email an alert to the admins of organization %s", organization.pk
        )
    return made


def notices_mark_read(*, user: User, notice_ids: list[int] | None = None) -> int:
    """Mark a user's notices read (all unread ones when no ids are given); how many changed."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notice_ids is not None:
        qs = qs.filter(pk__in=notice_ids)
    return qs.update(read_at=timezone.now())

"""Alerts: telling an organization's admins that a connection's syncs fail or it needs
attention, and once more when it recovers.

Providers call `alert_raise` when a run fails or a connection turns "needs attention",
and `alert_clear` when a run of that topic succeeds or the connection validates again.
At most one alert per (connection, topic) is open (a partial unique constraint): raising
it again while it is open tells no one, so an hourly sync failing every hour alerts once;
clearing an open alert tells the admins once that it recovered; clearing when none is
open does nothing. Each telling is an in-app notice and an email to every active admin
of the connection's organization (`spendflo.workflows.notices.admin_notices_send`), made
after the caller's transaction commits.

Messages are the provider's sentences (a run's error, a connection's reason), which never
hold credentials.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from integrations.models import Alert, Connection
from spendflo.organizations.models import Organization
from spendflo.workflows.notices import admin_notices_send

__all__ = ["alert_clear", "alert_raise"]

logger = logging.getLogger(__name__)

_RAISED = {
    Alert.Topic.SYNC: "{provider} data sync failed at {host}",
    Alert.Topic.REQUISITION_SYNC: "{provider} requisition and order sync failed at {host}",
    Alert.Topic.CONNECTION: "{provider} connection at {host} needs attention",
}
_CLEARED = {
    Alert.Topic.SYNC: "{provider} data sync at {host} works again",
    Alert.Topic.REQUISITION_SYNC: "{provider} requisition and order sync at {host} works again",
    Alert.Topic.CONNECTION: "{provider} connection at {host} works again",
}
_AFTER_RAISE = {
    Alert.Topic.SYNC: "You will not be alerted again until a sync succeeds.",
    Alert.Topic.REQUISITION_SYNC: "You will not be alerted again until a pass succeeds.",
    Alert.Topic.CONNECTION: (
        "Hourly syncs are paused until an admin fixes the connection "
        "(Edit Configuration, or Validate again)."
    ),
}
_AFTER_CLEAR = {
    Alert.Topic.SYNC: "The last sync succeeded.",
    Alert.Topic.REQUISITION_SYNC: "The last pass succeeded.",
    Alert.Topic.CONNECTION: "It validated again; hourly syncs resume.",
}


def _link(topic: str) -> str:
    if topic == Alert.Topic.CONNECTION:
        return reverse("integrations:procurement")
    return reverse("integrations:sync_activity")


def _subject(connection: Connection, topic: str, *, cleared: bool) -> str:
    template = (_CLEARED if cleared else _RAISED)[Alert.Topic(topic)]
    return template.format(provider=connection.get_provider_display(), host=connection.host)


def alert_raise(*, connection: Connection, topic: str, message: str) -> Alert | None:
    """Open an alert of the connection's topic and tell its admins, unless one is open.

    `message` is the sentence saying what went wrong. Returns the new alert, or None when
    one was already open (nobody is told again). Safe to call concurrently: the unique
    constraint lets one caller open it.
    """
    if Alert.objects.filter(connection=connection, topic=topic, resolved_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                connection=connection, topic=topic, message=message.strip()[:2000]
            )
    except IntegrityError:
        return None  # opened meanwhile by another worker
    subject = _subject(connection, topic, cleared=False)
    text = f"{subject}: {alert.message} {_AFTER_RAISE[Alert.Topic(topic)]}"
    _tell_on_commit(connection, subject, text, _link(topic))
    logger.info("Alert %s opened (%s of connection %s)", alert.pk, topic, connection.pk)
    return alert


def alert_clear(*, connection: Connection, topic: str) -> Alert | None:
    """Resolve the open alert of the connection's topic and tell its admins it recovered.

    Returns the resolved alert, or None when none was open (nobody is told).
    """
    alert = Alert.objects.filter(
        connection=connection, topic=topic, resolved_at__isnull=True
    ).first()
    if alert is None:
        return None
    if not Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    ):
        return None  # resolved meanwhile by another worker
    subject = _subject(connection, topic, cleared=True)
    text = f"{subject}. {_AFTER_CLEAR[Alert.Topic(topic)]}"
    _tell_on_commit(connection, subject, text, _link(topic))
    logger.info("Alert %s resolved (%s of connection %s)", alert.pk, topic, connection.pk)
    return alert


def _tell_on_commit(connection: Connection, subject: str, text: str, link: str) -> None:
    organization_id = connection.organization_id

    def tell() -> None:
        organization = Organization.objects.filter(pk=organization_id).first()
        if organization is not None:
            admin_notices_send(organization=organization, subject=subject, message=text, link=link)

    transaction.on_commit(tell)

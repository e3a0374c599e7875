"""Admins hear of failing syncs and connections once, and once more when they recover."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from coupa.connections.services import coupa_validate
from coupa.reference.services import charts_select
from coupa.reference.sync import STALE_MESSAGE, sync_request, sync_runs_sweep_stale
from coupa.reference.walk import sync_run_execute
from coupa.tasks import reference_sync_all_task
from integrations.models import Alert, Connection, SyncRun
from spendflo.users.models import User
from spendflo.workflows.models import Notification
from tests.coupa.support import connect_sandbox, load_charts, sandbox_fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]

SIZES = {"accounts": 30, "suppliers": 20, "items": 20, "users": 5, "addresses": 3}


_sandbox_process, sandbox = sandbox_fixtures(**SIZES)


@pytest.fixture
def admins(admin_user: User, make_user: Any, organization: Any) -> list[User]:
    return [admin_user, make_user(User.Role.ADMIN, organization)]


@pytest.fixture
def bystanders(make_user: Any, organization: Any, other_organization: Any) -> list[User]:
    """Who must never hear of this organization's alerts: its ops and requesters, and the
    admin of another organization."""
    return [
        make_user(User.Role.OPS, organization),
        make_user(User.Role.REQUESTER, organization),
        make_user(User.Role.ADMIN, other_organization),
    ]


@pytest.fixture
def connection(
    organization, admin_user, admins, bystanders, sandbox, settings, django_capture_on_commit_callbacks
) -> Connection:
    settings.COUPA_RETRY_ATTEMPTS = 2
    settings.COUPA_RETRY_DEADLINE = 2.0
    settings.COUPA_BACKOFF_BASE = 0.01
    settings.COUPA_BACKOFF_MAX = 0.02
    conn = connect_sandbox(organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings)
    charts = load_charts(conn)[:1]
    run = charts_select(connection=conn, chart_ids=[c.pk for c in charts], user=admin_user, enqueue=False)
    assert run is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_run_execute(sync_run_id=run.pk).state == SyncRun.State.SUCCEEDED
    mail.outbox.clear()
    return conn


def hourly(capture: Any) -> SyncRun:
    """What beat does every hour, with the run executing as a worker would."""
    with capture(execute=True):
        reference_sync_all_task()
    return SyncRun.objects.filter(trigger=SyncRun.Trigger.HOURLY).latest("created_at")


def told(users: list[User]) -> dict[str, list[str]]:
    """Per user email: the notices they got and the subjects of the emails sent to them."""
    out: dict[str, list[str]] = {}
    for user in users:
        notices = [n.message for n in Notification.objects.filter(recipient=user).order_by("pk")]
        emails = [m.subject for m in mail.outbox if user.email in m.to]
        assert len(notices) == len(emails), (notices, emails)
        out[user.email] = notices
    return out


def test_failing_hourly_sync_alerts_each_admin_once_then_once_recovered(
    connection, admins, bystanders, sandbox, django_capture_on_commit_callbacks
) -> None:
    sandbox.set_faults(error_503=1.0)
    run = hourly(django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.FAILED
    for messages in told(admins).values():
        assert len(messages) == 1
        assert messages[0].startswith(f"Coupa data sync failed at {connection.host}: ")
        assert run.error in messages[0]  # the error in words
    assert len(mail.outbox) == len(admins)
    assert "failed" in mail.outbox[0].subject and run.error in mail.outbox[0].body
    assert "/settings/integrations/sync-activity/" in Notification.objects.first().link

    # The next hours fail the same way: nobody is told again.
    for _ in range(2):
        assert hourly(django_capture_on_commit_callbacks).state == SyncRun.State.FAILED
    assert all(len(m) == 1 for m in told(admins).values())
    assert len(mail.outbox) == len(admins)

    # Coupa answers again: one "works again" each, then silence while it stays well.
    sandbox.clear_faults()
    assert hourly(django_capture_on_commit_callbacks).state == SyncRun.State.SUCCEEDED
    assert hourly(django_capture_on_commit_callbacks).state == SyncRun.State.SUCCEEDED
    for messages in told(admins).values():
        assert len(messages) == 2
        assert messages[1].startswith(f"Coupa data sync at {connection.host} works again")
    assert len(mail.outbox) == 2 * len(admins)
    assert all(not m for m in told(bystanders).values())
    assert Alert.objects.get().resolved_at is not None

    # A new failure after the recovery is a new alert.
    sandbox.set_faults(error_503=1.0)
    hourly(django_capture_on_commit_callbacks)
    assert all(len(m) == 3 for m in told(admins).values())


def test_needs_attention_alerts_once_until_validated_again(
    connection, admins, bystanders, admin_user, sandbox, django_capture_on_commit_callbacks
) -> None:
    sandbox.remove_scope(sandbox.client_id, "core.supplier.read")
    run = hourly(django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.FAILED
    connection.refresh_from_db()
    assert connection.state == Connection.State.NEEDS_ATTENTION
    for messages in told(admins).values():
        # One alert, the connection's (the failed run's own would say the same).
        assert len(messages) == 1
        assert messages[0].startswith(f"Coupa connection at {connection.host} needs attention: ")
        assert "core.supplier.read" in messages[0]
    assert Notification.objects.first().link == "/settings/integrations/procurement/"

    # Hourly syncs pause; validating while the scope is still missing fails again: silence.
    hourly(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        coupa_validate(organization=connection.organization, user=admin_user)
    connection.refresh_from_db()
    assert connection.state == Connection.State.NEEDS_ATTENTION
    assert all(len(m) == 1 for m in told(admins).values())

    sandbox.grant_scope(sandbox.client_id, "core.supplier.read")
    with django_capture_on_commit_callbacks(execute=True):
        coupa_validate(organization=connection.organization, user=admin_user)
    connection.refresh_from_db()
    assert connection.state == Connection.State.CONNECTED
    for messages in told(admins).values():
        assert len(messages) == 2
        assert messages[1].startswith(f"Coupa connection at {connection.host} works again")
    assert hourly(django_capture_on_commit_callbacks).state == SyncRun.State.SUCCEEDED
    assert all(len(m) == 2 for m in told(admins).values())  # no sync alert was open
    assert len(mail.outbox) == 2 * len(admins)
    assert all(not m for m in told(bystanders).values())


def test_a_run_whose_worker_died_alerts_once(
    connection, admins, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    for _ in range(2):
        run = sync_request(connection=connection, trigger=SyncRun.Trigger.HOURLY, enqueue=False)
        SyncRun.objects.filter(pk=run.pk).update(
            state=SyncRun.State.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert sync_runs_sweep_stale() == 1
    for messages in told(admins).values():
        assert len(messages) == 1 and STALE_MESSAGE in messages[0]


def test_no_secret_in_any_alert(connection, admins, sandbox, django_capture_on_commit_callbacks) -> None:
    sandbox.set_faults(error_503=1.0)
    hourly(django_capture_on_commit_callbacks)
    sandbox.clear_faults()
    sandbox.remove_scope(sandbox.client_id, "core.supplier.read")
    hourly(django_capture_on_commit_callbacks)
    texts = [n.message for n in Notification.objects.all()]
    texts += [m.subject + m.body for m in mail.outbox] + [a.message for a in Alert.objects.all()]
    assert len(texts) >= 3 * len(admins)
    assert sandbox.client_secret and all(sandbox.client_secret not in t for t in texts)
    assert all("Bearer" not in t and "access_token" not in t for t in texts)

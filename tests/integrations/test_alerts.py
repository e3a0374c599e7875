"""The alert service: one telling per change of state, to the organization's admins only."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from integrations.alerts import alert_clear, alert_raise
from integrations.models import Alert
from spendflo.users.models import User
from spendflo.workflows.models import Notification
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_raise_tells_active_admins_once_and_clear_once(
    organization: Any, admin_user: User, make_user: Any, other_organization: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    inactive = make_user(User.Role.ADMIN, organization, is_active=False)
    ops = make_user(User.Role.OPS, organization)
    stranger = make_user(User.Role.ADMIN, other_organization)
    connection = ConnectionFactory(organization=organization)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_raise(connection=connection, topic=Alert.Topic.SYNC, message="Coupa is down.")
        assert alert_raise(connection=connection, topic=Alert.Topic.SYNC, message="Still down.") is None
        # Another topic of the same connection is an alert of its own.
        assert alert_raise(connection=connection, topic=Alert.Topic.CONNECTION, message="Bad secret.")
        assert alert_clear(connection=connection, topic=Alert.Topic.SYNC)
        assert alert_clear(connection=connection, topic=Alert.Topic.SYNC) is None
    messages = list(Notification.objects.order_by("pk").values_list("recipient", "message"))
    assert [r for r, _ in messages] == [admin_user.pk] * 3
    assert "Coupa is down." in messages[0][1] and "Bad secret." in messages[1][1]
    assert "works again" in messages[2][1]
    assert [m.to for m in mail.outbox] == [[admin_user.email]] * 3
    for user in (inactive, ops, stranger):
        assert not Notification.objects.filter(recipient=user).exists()


def test_nothing_is_told_when_the_transaction_rolls_back(
    organization: Any, admin_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    connection = ConnectionFactory(organization=organization)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        alert_raise(connection=connection, topic=Alert.Topic.SYNC, message="x")
        raise RuntimeError
    assert not Alert.objects.exists() and not Notification.objects.exists() and not mail.outbox


def test_alert_notices_show_on_the_notices_page_and_api(
    organization: Any, admin_user: User, client_as: Any, django_capture_on_commit_callbacks: Any
) -> None:
    connection = ConnectionFactory(organization=organization)
    with django_capture_on_commit_callbacks(execute=True):
        alert_raise(connection=connection, topic=Alert.Topic.SYNC, message="Coupa is down.")
    client = client_as(admin_user)
    page = client.get(reverse("workflows:notices")).content.decode()
    assert "Coupa is down." in page
    assert f'href="{reverse("integrations:sync_activity")}"' in page
    (notice,) = client.get("/api/v1/notices").json()["results"]
    assert notice["request"] is None
    assert notice["link"] == reverse("integrations:sync_activity")
    assert "Coupa is down." in notice["message"]


@pytest.mark.parametrize("state", ["disconnected", "needs_attention", "archived"])
def test_a_failed_run_of_a_connection_out_of_use_alerts_nobody(
    state: str, organization: Any, admin_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    from django.utils import timezone

    from coupa.reference.sync import sync_run_alert
    from integrations.models import SyncRun
    from tests.factories import SyncRunFactory

    connection = ConnectionFactory(organization=organization)
    if state == "archived":
        connection.archived_at = timezone.now()
    else:
        connection.state = state
    connection.save()
    run = SyncRunFactory(connection=connection, state=SyncRun.State.FAILED, error="Down.")
    with django_capture_on_commit_callbacks(execute=True):
        sync_run_alert(run_id=run.pk)
    assert not Alert.objects.exists() and not mail.outbox

"""A connection needing attention because its validations keep getting lost alerts its admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from coupa.connections.services import (
    VALIDATION_STALE,
    VALIDATION_STALE_AGAIN,
    connection_validations_sweep_stale,
)
from integrations.models import Alert, Connection, ConnectionValidation
from spendflo.workflows.models import Notification
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_second_lost_validation_alerts_the_admins_once(
    organization: Any, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    connection = ConnectionFactory(organization=organization, state=Connection.State.VALIDATING)
    long_ago = timezone.now() - timedelta(days=1)
    earlier = ConnectionValidation.objects.create(
        connection=connection, state="failed", error=VALIDATION_STALE
    )
    lost = ConnectionValidation.objects.create(connection=connection, state="running")
    ConnectionValidation.objects.filter(pk=earlier.pk).update(created_at=long_ago)
    ConnectionValidation.objects.filter(pk=lost.pk).update(created_at=long_ago + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert connection_validations_sweep_stale() == 1
        assert connection_validations_sweep_stale() == 0
    connection.refresh_from_db()
    assert connection.state == Connection.State.NEEDS_ATTENTION
    (notice,) = Notification.objects.filter(recipient=admin_user)
    assert "needs attention" in notice.message and VALIDATION_STALE_AGAIN in notice.message
    assert len(mail.outbox) == 1
    assert Alert.objects.get().topic == Alert.Topic.CONNECTION

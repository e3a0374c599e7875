"""A connection that never validated is a draft: what it offers, how it is audited."""

from __future__ import annotations

import pytest

from coupa.connections.selectors import connection_summary
from coupa.connections.services import (
    ConnectionInput,
    connection_validate,
    coupa_connection_update,
    coupa_validate,
)
from coupa.reference.sync import SyncRequestError, sync_request
from integrations.models import Connection, ConnectionValidation, SyncRun
from integrations.selectors import connection_offers_records, connection_sync_blocker
from spendflo.audit.models import AuditEvent
from tests.coupa.connections.test_connect_service import connect

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def trail(organization) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(organization=organization)
        .order_by("pk")
        .values_list("action", "summary")
    )


def test_a_failed_first_connect_is_a_draft_offering_only_edit_and_validate(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    validation = connect(
        organization, admin_user, sandbox_allowed, secret="wrong-secret",
        capture=django_capture_on_commit_callbacks,
    )
    connection = Connection.objects.get()
    assert validation.state == ConnectionValidation.State.FAILED
    assert connection.state == Connection.State.DRAFT
    summary = connection_summary(connection)
    assert summary["is_draft"] is True
    assert summary["actions"] == ["edit", "validate"]
    assert summary["scopes_checked"] is False  # never "Missing scopes: none"
    assert summary["state_reason"] == "Coupa rejected the client ID or secret."
    assert not connection_offers_records(connection)
    assert "draft" in (connection_sync_blocker(connection) or "")
    with pytest.raises(SyncRequestError, match="draft"):
        sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, user=admin_user)
    host = connection.host
    assert trail(organization) == [
        ("connect", f"Started connecting Coupa at {host}; validating the credentials"),
        ("connect_failed", f"Could not connect Coupa at {host}: Coupa rejected the client ID or secret."),
    ]


def test_a_draft_stays_a_draft_while_it_validates_again_and_after_failing_again(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    connect(
        organization, admin_user, sandbox_allowed, secret="wrong-secret",
        capture=django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        validation = coupa_validate(organization=organization, user=admin_user)
    assert Connection.objects.get().state == Connection.State.DRAFT  # not "Validating"
    assert len(queued) == 1
    connection_validate(validation_id=validation.pk)
    assert Connection.objects.get().state == Connection.State.DRAFT
    assert AuditEvent.objects.filter(action="connect_failed").count() == 2


def test_fixing_a_draft_connects_it_and_the_trail_says_so(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    connect(
        organization, admin_user, sandbox_allowed, secret="wrong-secret",
        capture=django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=True):
        validation = coupa_connection_update(
            organization=organization, user=admin_user,
            data=ConnectionInput(domain="", client_id=sandbox_allowed.client_id,
                                 client_secret=sandbox_allowed.client_secret),
        )
    validation.refresh_from_db()
    connection = Connection.objects.get()
    assert validation.state == ConnectionValidation.State.SUCCEEDED
    assert connection.state == Connection.State.CONNECTED
    summary = connection_summary(connection)
    assert summary["is_draft"] is False and summary["scopes_checked"] is True
    assert summary["missing_scopes"] == []
    assert summary["actions"] == ["sync", "edit", "configure_charts", "validate", "disconnect"]
    assert trail(organization)[-2:] == [
        ("edit", "Edited the Coupa configuration (client_secret)"),
        ("connect", f"Connected Coupa at {connection.host}"),
    ]


def test_a_connection_that_validated_before_needs_attention_when_it_fails(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        coupa_connection_update(
            organization=organization, user=admin_user,
            data=ConnectionInput(domain="", client_id=sandbox_allowed.client_id, client_secret="wrong"),
        )
    connection = Connection.objects.get()
    assert connection.state == Connection.State.NEEDS_ATTENTION
    summary = connection_summary(connection)
    assert summary["is_draft"] is False
    assert summary["actions"] == ["edit", "configure_charts", "validate", "disconnect"]  # no sync
    assert trail(organization)[-1] == (
        "needs_attention",
        f"Validation of Coupa at {connection.host} failed: Coupa rejected the client ID or secret.",
    )

"""Connecting Coupa end to end against the real sandbox over HTTP."""

from __future__ import annotations

import logging

import pytest

from coupa.client.connection import coupa_settings
from coupa.client.domains import CoupaDomainError
from coupa.connections.services import (
    ConnectionChangeError,
    ConnectionInput,
    coupa_connect,
    coupa_connection_update,
    coupa_disconnect,
)
from coupa.sandbox.testing import running_sandbox
from integrations.crypto import decrypt
from integrations.models import Connection, ConnectionValidation
from integrations.selectors import connection_offers_records
from spendflo.audit.models import AuditEvent

# Not transactional: every walk here is sequential, so all database work happens on the
# test's connection, except the Postgres limiter's (helper thread, own connection; only
# without Redis), whose bucket rows simply outlive the test.
pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def connect(org, user, sandbox, *, secret=None, client_id=None, domain=None, capture=None):
    data = ConnectionInput(
        domain=domain or sandbox.base_url,
        client_id=client_id or sandbox.client_id,
        client_secret=sandbox.client_secret if secret is None else secret,
    )
    with capture(execute=True):
        validation = coupa_connect(organization=org, user=user, data=data)
    validation.refresh_from_db()
    return validation


def test_connect_validates_and_connects(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    validation = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks)
    assert validation.state == ConnectionValidation.State.SUCCEEDED, validation.error
    assert [s["status"] for s in validation.steps] == ["done", "done", "done"]
    assert "active chart" in validation.steps[2]["message"]
    connection = validation.connection
    assert connection.state == Connection.State.CONNECTED
    assert coupa_settings(connection).missing_scopes == ()
    assert "core.supplier.read" in coupa_settings(connection).granted_scopes
    assert connection.last_validated_at is not None
    assert list(
        AuditEvent.objects.filter(organization=organization, action="connect")
        .order_by("pk")
        .values_list("summary", flat=True)
    ) == [
        f"Started connecting Coupa at {connection.host}; validating the credentials",
        f"Connected Coupa at {connection.host}",
    ]


def test_wrong_secret_fails_with_the_authentication_sentence(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    validation = connect(
        organization, admin_user, sandbox_allowed, secret="wrong-secret",
        capture=django_capture_on_commit_callbacks,
    )
    assert validation.state == ConnectionValidation.State.FAILED
    assert validation.error == "Coupa rejected the client ID or secret."
    assert [s["status"] for s in validation.steps] == ["failed", "skipped", "skipped"]
    connection = Connection.objects.get()
    assert connection.state == Connection.State.DRAFT
    assert connection.state_reason == "Coupa rejected the client ID or secret."


@pytest.mark.parametrize("scope_mode", ["list", "no-scope-field", "invalid-scope"])
def test_missing_scopes_are_named_in_every_scope_mode(
    scope_mode, organization, admin_user, settings, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    settings.COUPA_RETRY_ATTEMPTS = 1
    sandbox_allowed.settings(scope_mode=scope_mode)
    sandbox_allowed.add_client("narrow", "narrow-secret", scopes=[
        "core.accounting.read", "core.catalog.read", "core.user.read", "core.common.read",
        "core.requisition.read", "core.requisition.write", "core.purchase_order.read",
    ])
    validation = connect(
        organization, admin_user, sandbox_allowed, client_id="narrow", secret="narrow-secret",
        capture=django_capture_on_commit_callbacks,
    )
    assert validation.state == ConnectionValidation.State.FAILED
    assert validation.error.startswith("These scopes are missing: core.supplier.read.")
    assert [s["status"] for s in validation.steps] == ["done", "failed", "skipped"]
    assert coupa_settings(validation.connection).missing_scopes == ("core.supplier.read",)


def test_an_unanswering_domain_gives_the_timeout_sentence(
    organization, admin_user, settings, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    # Every call hangs; the sandbox drops each one when the client gives up on it.
    sandbox_allowed.set_faults(slow=1.0, slow_seconds=600, apply_to=["/oauth2/", "/api/"])
    settings.COUPA_READ_TIMEOUT = 0.3
    settings.COUPA_RETRY_ATTEMPTS = 1
    validation = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks)
    assert validation.state == ConnectionValidation.State.FAILED
    assert "did not answer within" in validation.error


def test_the_secret_is_encrypted_at_rest_and_never_logged(
    organization, admin_user, sandbox_allowed, caplog, django_capture_on_commit_callbacks
) -> None:
    from django.db import connection as db

    caplog.set_level(logging.DEBUG)
    validation = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks)
    with db.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM integrations_connection")
        (raw,) = cursor.fetchone()
    assert sandbox_allowed.client_secret not in raw
    assert decrypt(raw) == sandbox_allowed.client_secret
    assert sandbox_allowed.client_secret not in caplog.text
    assert sandbox_allowed.client_secret not in repr(validation.connection.__dict__)
    assert "Bearer" not in caplog.text


def test_editing_keeps_the_secret_when_left_blank(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        validation = coupa_connection_update(
            organization=organization, user=admin_user,
            data=ConnectionInput(domain="", client_id=sandbox_allowed.client_id, client_secret="", rate_limit=12),
        )
    validation.refresh_from_db()
    assert validation.state == ConnectionValidation.State.SUCCEEDED
    connection = Connection.objects.get()
    assert connection.rate_limit == 12
    assert decrypt(connection.secret_encrypted) == sandbox_allowed.client_secret


def test_a_new_host_archives_the_old_instance_and_reconnecting_picks_it_up(
    organization, admin_user, sandbox_allowed, settings, django_capture_on_commit_callbacks
) -> None:
    first = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks).connection
    with running_sandbox("--rate", "0") as other:
        settings.COUPA_ALLOWED_HOSTS = [sandbox_allowed.base_url, other.base_url]
        second = connect(organization, admin_user, other, capture=django_capture_on_commit_callbacks).connection
    first.refresh_from_db()
    assert second.pk != first.pk
    assert first.archived_at is not None and first.state == Connection.State.DISCONNECTED
    again = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks).connection
    assert again.pk == first.pk
    assert Connection.objects.filter(archived_at__isnull=True).get().pk == first.pk
    assert Connection.objects.count() == 2


def test_disconnect_keeps_the_connection_row_and_reconnect_reuses_it(
    organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks
) -> None:
    first = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks).connection
    coupa_disconnect(organization=organization, user=admin_user)
    first.refresh_from_db()
    assert first.state == Connection.State.DISCONNECTED and not connection_offers_records(first)
    again = connect(organization, admin_user, sandbox_allowed, capture=django_capture_on_commit_callbacks)
    assert again.connection.pk == first.pk and again.state == ConnectionValidation.State.SUCCEEDED
    assert Connection.objects.count() == 1


def test_refused_domains_create_nothing(organization, admin_user) -> None:
    with pytest.raises(CoupaDomainError):
        coupa_connect(
            organization=organization, user=admin_user,
            data=ConnectionInput(domain="https://10.0.0.1", client_id="x", client_secret="y"),
        )
    with pytest.raises(ConnectionChangeError):
        coupa_disconnect(organization=organization, user=admin_user)
    assert not Connection.objects.exists()

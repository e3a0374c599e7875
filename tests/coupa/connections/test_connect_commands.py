"""Ops command line: coupa_connect, coupa_status, rotate_encryption_key."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.crypto import decrypt
from integrations.models import Connection

# Not transactional: every walk here is sequential, so all database work happens on the
# test's connection, except the Postgres limiter's (helper thread, own connection; only
# without Redis), whose bucket rows simply outlive the test.
pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def run(*args: str, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_coupa_connect_prints_each_step_and_succeeds(organization, sandbox_allowed, monkeypatch) -> None:
    monkeypatch.setenv("COUPA_CLIENT_SECRET", sandbox_allowed.client_secret)
    output = run("coupa_connect", "--org", "acme", "--domain", sandbox_allowed.base_url,
                 "--client-id", sandbox_allowed.client_id)
    assert "✓ Sign in to Coupa" in output
    assert "✓ Check the OAuth scopes" in output
    assert "✓ Read the active charts of accounts" in output
    assert "Coupa is connected." in output
    assert sandbox_allowed.client_secret not in output
    status = json.loads(run("coupa_status", "--org", "acme", "--json"))
    assert status["state"] == "connected" and status["missing_scopes"] == []
    assert "client_secret" not in json.dumps(status)
    text = run("coupa_status", "--org", "acme")
    assert "Connected" in text and sandbox_allowed.base_url in text


def test_coupa_connect_fails_with_the_same_sentence(organization, sandbox_allowed, monkeypatch) -> None:
    monkeypatch.setenv("COUPA_CLIENT_SECRET", "not-the-secret")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Coupa rejected the client ID or secret."):
        call_command("coupa_connect", "--org", "acme", "--domain", sandbox_allowed.base_url,
                     "--client-id", sandbox_allowed.client_id, stdout=out)
    assert "saved as a draft" in out.getvalue()
    assert Connection.objects.get().state == Connection.State.DRAFT
    status = json.loads(run("coupa_status", "--org", "acme", "--json"))
    assert (status["state"], status["is_draft"], status["actions"]) == ("draft", True, ["edit", "validate"])
    assert "Missing scopes:   not checked yet" in run("coupa_status", "--org", "acme")


def test_coupa_connect_reads_the_secret_from_stdin(organization, sandbox_allowed, monkeypatch) -> None:
    monkeypatch.delenv("COUPA_CLIENT_SECRET", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(sandbox_allowed.client_secret + "\n"))
    assert "Coupa is connected." in run(
        "coupa_connect", "--org", "acme", "--domain", sandbox_allowed.base_url,
        "--client-id", sandbox_allowed.client_id,
    )


def test_coupa_connect_refuses_bad_domains_and_unknown_orgs(organization, monkeypatch) -> None:
    monkeypatch.setenv("COUPA_CLIENT_SECRET", "x")
    with pytest.raises(CommandError, match="IP addresses"):
        run("coupa_connect", "--org", "acme", "--domain", "http://10.0.0.8", "--client-id", "c")
    with pytest.raises(CommandError, match="No organization"):
        run("coupa_status", "--org", "nope")


def test_status_of_an_unconnected_organization(organization) -> None:
    assert json.loads(run("coupa_status", "--org", "acme", "--json"))["state"] == "not_connected"


def test_secrets_stay_readable_after_key_rotation(organization, sandbox_allowed, monkeypatch, settings) -> None:
    monkeypatch.setenv("COUPA_CLIENT_SECRET", sandbox_allowed.client_secret)
    run("coupa_connect", "--org", "acme", "--domain", sandbox_allowed.base_url,
        "--client-id", sandbox_allowed.client_id)
    old_key = settings.FIELD_ENCRYPTION_KEY[0]
    before = Connection.objects.get().secret_encrypted
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    assert "Re-encrypted 1 secret" in run("rotate_encryption_key")
    after = Connection.objects.get().secret_encrypted
    assert after != before
    settings.FIELD_ENCRYPTION_KEY = [new_key]  # the old key is gone: still readable
    assert decrypt(after) == sandbox_allowed.client_secret
    Fernet(new_key).decrypt(after.encode())  # encrypted with the newest key

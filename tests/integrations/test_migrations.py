"""Stored rows keep working across the move to a provider-neutral Connection."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor

from integrations.crypto import decrypt, encrypt

BEFORE = [
    ("integrations", "0004_audit_needs_attention"),
    ("coupa", "0002_chartofaccounts_account_commodity_coupauser_currency_and_more"),
]
AFTER = [("integrations", "0005_neutral_connection"), ("coupa", "0003_ratelimitbucket_to_integrations")]


def _audit_leaf() -> list[tuple[str, str]]:
    # The audit trail's own later migrations stay applied throughout (they never depend
    # on the connection's columns): target its latest, so the plan only goes forwards.
    return [n for n in MigrationExecutor(db).loader.graph.leaf_nodes() if n[0] == "audit"]


def migrate(targets):
    executor = MigrationExecutor(db)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_coupa_settings_secret_audit_and_buckets_survive_the_migration() -> None:
    old = migrate(BEFORE)
    org = old.get_model("organizations", "Organization").objects.create(slug="acme", name="Acme")
    conn = old.get_model("integrations", "Connection").objects.create(
        organization=org, host="acme.coupahost.com", base_url="https://acme.coupahost.com",
        client_id="acme-client", client_secret_encrypted=encrypt("the-secret"),
        granted_scopes=["core.supplier.read"], missing_scopes=["core.catalog.read"],
        token_path="/oauth2/token", post_token_pause=5.0, state="connected",
    )
    old.get_model("integrations", "AuditEvent").objects.create(
        organization=org, connection=conn, action="connect", summary="Connected Coupa"
    )
    old.get_model("coupa", "RateLimitBucket").objects.create(host="acme.coupahost.com", tat=12.5)
    try:
        new = migrate(AFTER + _audit_leaf())
        moved = new.get_model("integrations", "Connection").objects.get(pk=conn.pk)
        assert moved.provider_settings == {
            "client_id": "acme-client", "token_path": "/oauth2/token", "post_token_pause": 5.0,
            "granted_scopes": ["core.supplier.read"], "missing_scopes": ["core.catalog.read"],
        }
        assert decrypt(moved.secret_encrypted) == "the-secret"
        event = new.get_model("audit", "AuditEvent").objects.get()
        assert (event.summary, event.connection_id) == ("Connected Coupa", conn.pk)
        assert new.get_model("integrations", "RateLimitBucket").objects.get().tat == 12.5
        # And back: the columns are restored from the settings.
        back = migrate(BEFORE).get_model("integrations", "Connection").objects.get(pk=conn.pk)
        assert (back.client_id, back.missing_scopes, back.token_path) == (
            "acme-client", ["core.catalog.read"], "/oauth2/token"
        )
        assert decrypt(back.client_secret_encrypted) == "the-secret"
    finally:
        migrate(MigrationExecutor(db).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_never_validated_becomes_a_draft() -> None:
    old = migrate([("integrations", "0007_fieldmapping_form_field_fieldmapping_version_and_more")])
    org = old.get_model("organizations", "Organization").objects.create(slug="acme", name="Acme")
    connection = old.get_model("integrations", "Connection")
    never = connection.objects.create(organization=org, host="a.coupahost.com", state="needs_attention")
    once = connection.objects.create(
        organization=org, host="b.coupahost.com", state="needs_attention",
        archived_at="2026-01-01T00:00:00Z",
    )
    old.get_model("integrations", "ConnectionValidation").objects.create(connection=once, state="succeeded")
    try:
        new = migrate([("integrations", "0008_draft_state")])
        states = dict(new.get_model("integrations", "Connection").objects.values_list("host", "state"))
        assert states == {never.host: "draft", once.host: "needs_attention"}
    finally:
        migrate(MigrationExecutor(db).loader.graph.leaf_nodes())

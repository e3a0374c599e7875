"""Connect pages and API: roles, tenant isolation, secrets never rendered back."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import Connection, ConnectionValidation
from spendflo.audit.models import AuditEvent
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def connection(organization):
    return ConnectionFactory(
        organization=organization, host="acme.coupahost.com", client_id="acme-client",
        secret=SECRET,
    )


@pytest.fixture
def other_connection(other_organization):
    connection = ConnectionFactory(
        organization=other_organization, host="globex.coupahost.com",
        client_id="globex-client", secret="globex-secret",
    )
    AuditEvent.objects.create(organization=other_organization, connection=connection,
                              action="connect", summary="Globex connected")
    return connection


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_integration_page_shows_state_without_the_secret(client_as, admin_user, connection) -> None:
    html = client_as(admin_user).get(reverse("integrations:procurement")).content.decode()
    assert "Connected" in html and "acme-client" in html and "Edit Configuration" in html
    assert SECRET not in html
    edit = client_as(admin_user).get(reverse("coupa:edit")).content.decode()
    assert SECRET not in edit and connection.secret_encrypted not in edit
    assert "acme-client" in edit


def test_not_connected_shows_a_connect_button(client_as, admin_user) -> None:
    html = client_as(admin_user).get(reverse("integrations:procurement")).content.decode()
    assert "Not connected" in html and reverse("coupa:connect") in html


def test_ops_sees_the_page_but_no_configuration_actions(client_as, ops_user, connection) -> None:
    html = client_as(ops_user).get(reverse("integrations:procurement")).content.decode()
    assert "Connected" in html
    assert reverse("coupa:edit") not in html and reverse("coupa:disconnect") not in html


@pytest.mark.parametrize(
    ("method", "url_name"),
    [("get", "coupa:connect"), ("post", "coupa:connect"), ("get", "coupa:edit"),
     ("post", "coupa:edit"), ("post", "coupa:disconnect"), ("post", "coupa:validate")],
)
def test_only_admins_may_change_the_connection(client_as, ops_user, requester_user, connection, method, url_name) -> None:
    for user in (ops_user, requester_user):
        response = getattr(client_as(user), method)(reverse(url_name))
        assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.state == Connection.State.CONNECTED


def test_requesters_cannot_see_integrations_or_audit(client_as, requester_user, connection) -> None:
    client = client_as(requester_user)
    assert client.get(reverse("integrations:procurement")).status_code == 403
    assert client.get(reverse("integrations:audit")).status_code == 403
    assert api_as(requester_user).get("/api/v1/integrations/coupa").status_code == 403
    assert api_as(requester_user).get("/api/v1/audit-events").status_code == 403


def test_bad_domain_is_shown_on_the_form_and_nothing_is_saved(client_as, admin_user) -> None:
    response = client_as(admin_user).post(
        reverse("coupa:connect"),
        {"domain": "https://192.168.1.4", "client_id": "x", "client_secret": SECRET, "rate_limit": 20},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "IP addresses are not accepted" in html
    assert SECRET not in html  # the password field is never rendered back
    assert not Connection.objects.exists()


def test_validation_page_of_another_organization_is_not_found(
    client_as, admin_user, other_connection
) -> None:
    validation = ConnectionValidation.objects.create(connection=other_connection, steps=[])
    assert client_as(admin_user).get(reverse("coupa:validation", args=[validation.pk])).status_code == 404
    assert api_as(admin_user).get(f"/api/v1/integrations/coupa/validations/{validation.pk}").status_code == 404


def test_api_reads_the_connection_without_secrets(admin_user, ops_user, connection) -> None:
    for user in (admin_user, ops_user):
        response = api_as(user).get("/api/v1/integrations/coupa")
        assert response.status_code == 200
        body = response.content.decode()
        assert response.json()["client_id"] == "acme-client"
        assert SECRET not in body and "client_secret" not in body


def test_api_changes_are_for_admins_only(ops_user, connection) -> None:
    client = api_as(ops_user)
    assert client.post("/api/v1/integrations/coupa/connect", {}, format="json").status_code == 403
    assert client.patch("/api/v1/integrations/coupa", {"rate_limit": 5}, format="json").status_code == 403
    assert client.post("/api/v1/integrations/coupa/disconnect").status_code == 403
    assert client.post("/api/v1/integrations/coupa/validate").status_code == 403


def test_api_disconnect_then_status(admin_user, connection) -> None:
    client = api_as(admin_user)
    response = client.post("/api/v1/integrations/coupa/disconnect")
    assert response.status_code == 200 and response.json()["state"] == "disconnected"
    assert AuditEvent.objects.filter(action="disconnect", actor=admin_user).exists()


def test_api_connect_refuses_bad_domains_with_the_reason(admin_user) -> None:
    response = api_as(admin_user).post(
        "/api/v1/integrations/coupa/connect",
        {"domain": "https://user@acme.coupahost.com", "client_id": "x", "client_secret": SECRET},
        format="json",
    )
    assert response.status_code == 400
    assert "user name or password" in response.content.decode()
    assert SECRET not in response.content.decode()


def test_audit_trail_is_tenant_scoped(client_as, admin_user, ops_user, connection, other_connection) -> None:
    AuditEvent.objects.create(organization=connection.organization, connection=connection,
                              action="connect", summary="Acme connected", actor_label="admin@acme.test")
    for user in (admin_user, ops_user):
        html = client_as(user).get(reverse("integrations:audit")).content.decode()
        assert "Acme connected" in html and "Globex connected" not in html
        results = api_as(user).get("/api/v1/audit-events").json()["results"]
        assert [e["summary"] for e in results] == ["Acme connected"]


def test_api_status_when_not_connected(admin_user) -> None:
    assert api_as(admin_user).get("/api/v1/integrations/coupa").json()["state"] == "not_connected"

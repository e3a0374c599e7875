"""A draft connection on the integration page, the charts panel and the API; Disconnect asks."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import Connection, ConnectionValidation
from spendflo.audit.models import AuditEvent
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

REASON = "Coupa rejected the client ID or secret."


@pytest.fixture
def draft(organization):
    return ConnectionFactory(
        organization=organization, host="acme.coupahost.com", client_id="acme-client",
        state=Connection.State.DRAFT, state_reason=REASON,
    )


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_draft_card_says_so_and_offers_only_edit_and_validate(client_as, admin_user, draft) -> None:
    html = client_as(admin_user).get(reverse("integrations:procurement")).content.decode()
    assert 'data-testid="connection-state">Draft<' in html
    assert 'data-testid="draft-note"' in html and REASON in html
    assert reverse("coupa:edit") in html and reverse("coupa:validate") in html
    for absent in ("coupa:sync", "coupa:charts", "coupa:disconnect"):
        assert reverse(absent) not in html, absent
    assert "Sync Data" not in html and "Configure Chart of Accounts" not in html
    assert 'data-testid="missing-scopes">not checked yet<' in html
    assert "Imported data" not in html


def test_ops_sees_a_draft_without_actions(client_as, ops_user, draft) -> None:
    html = client_as(ops_user).get(reverse("integrations:procurement")).content.decode()
    assert "An admin needs to correct and validate it." in html
    assert "Sync Data" not in html and reverse("coupa:validate") not in html


def test_the_api_tells_the_same_story(admin_user, ops_user, draft) -> None:
    for user in (admin_user, ops_user):
        body = api_as(user).get("/api/v1/integrations/coupa").json()
        assert (body["state"], body["is_draft"], body["actions"]) == ("draft", True, ["edit", "validate"])
        assert body["scopes_checked"] is False and body["state_reason"] == REASON
    response = api_as(admin_user).post("/api/v1/coupa/sync", {}, format="json")
    assert response.status_code == 400 and "draft" in response.json()["detail"]


def test_the_api_of_an_unconnected_organization_offers_connect(admin_user) -> None:
    body = api_as(admin_user).get("/api/v1/integrations/coupa").json()
    assert (body["state"], body["is_draft"], body["actions"]) == ("not_connected", False, ["connect"])


def test_a_connected_card_keeps_its_actions(client_as, admin_user, organization) -> None:
    ConnectionFactory(organization=organization, provider_settings={
        "client_id": "c", "granted_scopes": ["core.supplier.read"], "missing_scopes": [],
    })
    html = client_as(admin_user).get(reverse("integrations:procurement")).content.decode()
    for present in ("coupa:sync", "coupa:charts", "coupa:disconnect", "coupa:edit"):
        assert reverse(present) in html, present
    assert 'data-testid="missing-scopes">none<' in html and "draft-note" not in html


def test_the_charts_panel_of_a_draft_explains_instead_of_offering_sync(
    client_as, admin_user, draft
) -> None:
    html = client_as(admin_user).get(reverse("coupa:charts")).content.decode()
    assert 'data-testid="charts-draft"' in html and "Run Sync Data" not in html
    assert 'aria-label="Close"' in html
    assert 'data-provider="Coupa"' in html  # the integration page sits behind the panel


def test_the_charts_panel_opened_by_ops_can_be_closed(client_as, ops_user, organization) -> None:
    ConnectionFactory(organization=organization)
    response = client_as(ops_user).get(reverse("coupa:charts"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("integrations:procurement")}" aria-label="Close"' in html
    assert 'data-provider="Coupa"' in html
    assert "Run Sync Data" in html  # ops may sync a connected instance with no charts yet


def test_disconnect_asks_first_then_disconnects(client_as, admin_user, organization) -> None:
    connection = ConnectionFactory(organization=organization, host="acme.coupahost.com")
    client = client_as(admin_user)
    response = client.post(reverse("coupa:disconnect"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Disconnect Coupa at acme.coupahost.com?" in html
    assert "0 accounts, 0 vendors and 0 items" in html
    assert 'name="confirm" value="yes"' in html
    connection.refresh_from_db()
    assert connection.state == Connection.State.CONNECTED
    assert not AuditEvent.objects.filter(action="disconnect").exists()
    client.post(reverse("coupa:disconnect"), {"confirm": "yes"})
    connection.refresh_from_db()
    assert connection.state == Connection.State.DISCONNECTED


def test_the_tabs_of_a_draft_say_it_is_a_draft(client_as, admin_user, draft) -> None:
    html = client_as(admin_user).get(reverse("coupa:records", args=["accounts"])).content.decode()
    assert "Coupa is a draft: it has not validated yet" in html and "disconnected" not in html


def test_sync_activity_offers_no_pr_sync_for_a_draft(client_as, ops_user, draft) -> None:
    html = client_as(ops_user).get(reverse("integrations:sync_activity")).content.decode()
    assert reverse("coupa:pr_sync") not in html


def test_a_draft_being_validated_says_so(client_as, admin_user, draft) -> None:
    ConnectionValidation.objects.create(connection=draft, state="running", steps=[])
    html = client_as(admin_user).get(reverse("integrations:procurement")).content.decode()
    assert "It is being validated now." in html and "Watch the validation in progress" in html

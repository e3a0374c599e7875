from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from spendflo.users.models import User

pytestmark = pytest.mark.django_db


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_me_returns_user_organization_and_role(ops_user: User) -> None:
    body = api_as(ops_user).get("/api/v1/me").json()
    assert body["user"]["email"] == "ops@acme.test"
    assert body["organization"]["slug"] == "acme"
    assert body["role"] == "ops"
    assert "trigger_sync" in body["capabilities"]
    assert "manage_users" not in body["capabilities"]


def test_token_authentication_works(requester_user: User) -> None:
    token = Token.objects.create(user=requester_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/me").json()["role"] == "requester"


def test_anonymous_api_calls_are_refused(db: None) -> None:
    assert APIClient().get("/api/v1/me").status_code in (401, 403)


def test_requester_gets_403_on_admin_api(requester_user: User) -> None:
    client = api_as(requester_user)
    assert client.get("/api/v1/users").status_code == 403
    assert client.post("/api/v1/users", {"email": "x@acme.test", "role": "admin"}).status_code == 403
    assert not User.objects.filter(email="x@acme.test").exists()


def test_ops_cannot_manage_users(ops_user: User) -> None:
    assert api_as(ops_user).get("/api/v1/users").status_code == 403


def test_admin_manages_users_through_the_api(admin_user: User) -> None:
    client = api_as(admin_user)
    created = client.post("/api/v1/users", {"email": "n@acme.test", "role": "requester"}, format="json")
    assert created.status_code == 201
    assert created.json()["one_time_password"]
    user_id = created.json()["id"]
    updated = client.patch(f"/api/v1/users/{user_id}", {"role": "ops", "is_active": False}, format="json")
    assert updated.status_code == 200
    assert updated.json()["role"] == "ops" and updated.json()["is_active"] is False


def test_user_list_is_paginated_and_tenant_scoped(admin_user, make_user, other_organization) -> None:
    make_user("requester", other_organization, email="s@globex.test")
    body = api_as(admin_user).get("/api/v1/users").json()
    assert {"count", "next", "previous", "results"} <= body.keys()
    assert [u["email"] for u in body["results"]] == ["admin@acme.test"]


def test_another_organizations_user_is_not_found(admin_user, make_user, other_organization) -> None:
    stranger = make_user("requester", other_organization)
    client = api_as(admin_user)
    assert client.get(f"/api/v1/users/{stranger.pk}").status_code == 404
    assert client.patch(f"/api/v1/users/{stranger.pk}", {"role": "admin"}, format="json").status_code == 404


def test_openapi_schema_describes_the_api(admin_user: User) -> None:
    response = api_as(admin_user).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/me" in schema["paths"]
    assert "/api/v1/users" in schema["paths"]


def test_api_docs_page_renders(admin_user: User, client_as) -> None:
    assert client_as(admin_user).get("/api/docs/").status_code == 200


def test_openapi_schema_generates_without_warnings() -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("spectacular", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    import json

    paths = json.loads(out.getvalue())["paths"]
    for path in ("/api/v1/integrations/coupa", "/api/v1/coupa/vendors", "/api/v1/pickable/items",
                 "/api/v1/coupa/sync", "/api/v1/coupa/charts", "/api/v1/audit-events"):
        assert path in paths

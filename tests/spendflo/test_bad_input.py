"""Bad input is a 400 with words on every page and endpoint, never a 500.

PostgreSQL refuses null characters in text and jsonb and enforces column lengths; SQLite
does neither, so these tests matter most on PostgreSQL: they use the configured database
(DATABASE_URL: CI runs them on PostgreSQL).
"""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from spendflo.users.models import User
from tests.coupa.web import test_records_pages
from tests.coupa.web.test_records_pages import api_as

pytestmark = pytest.mark.django_db

data = test_records_pages.data  # fixture: one connection's charts, accounts, vendors, items

LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + ".test"  # 197 characters, valid


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/coupa/accounts",
        "/api/v1/coupa/vendors",
        "/api/v1/coupa/users",
        "/api/v1/pickable/vendors",
        "/api/v1/pickers/vendors",
        "/api/v1/pickers/addresses",
        "/api/v1/users",
        "/api/v1/requests",
    ],
)
def test_a_null_character_in_an_api_search_is_a_400_naming_it(admin_user, data, path) -> None:
    response = api_as(admin_user).get(path, {"search": "ac\x00me"})
    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}


def test_a_null_character_in_a_json_body_is_a_400_naming_where(admin_user, data) -> None:
    response = api_as(admin_user).post(
        "/api/v1/coupa/vendors/bulk-visibility",
        {"show_to_users": False, "search": "\x00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}
    response = api_as(admin_user).post(
        "/api/v1/workflows",
        {"name": "Laptops", "description": ["ok", {"x": "\x00"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"description.1.x": ["Null characters are not allowed."]}


@pytest.mark.parametrize("kind", ["accounts", "vendors", "items", "supporting"])
def test_a_null_character_in_a_tab_search_is_a_400_page_saying_so(
    client_as, admin_user, data, kind
) -> None:
    response = client_as(admin_user).get(reverse("coupa:records", args=[kind]), {"search": "x\x00"})
    assert response.status_code == 400
    assert "Search: null characters are not allowed." in response.content.decode()


def test_a_null_character_in_the_bulk_form_changes_nothing_and_says_so(
    client_as, admin_user, data
) -> None:
    from coupa.models import Vendor

    response = client_as(admin_user).post(
        reverse("coupa:bulk_toggle", args=["vendors"]), {"show_to_users": "0", "search": "\x00"}
    )
    assert response.status_code == 400
    assert "Search: null characters are not allowed." in response.content.decode()
    assert Vendor.objects.filter(show_to_users=True).count() == 1


def test_a_null_character_in_a_page_form_is_a_400_page_naming_the_field(
    client_as, admin_user
) -> None:
    response = client_as(admin_user).post(
        reverse("users:list"), {"email": "n@acme.test", "first_name": "N\x00", "role": "ops"}
    )
    assert response.status_code == 400
    assert "First name: null characters are not allowed." in response.content.decode()
    assert not User.objects.filter(email="n@acme.test").exists()


def test_an_email_longer_than_a_username_is_refused_by_the_api(admin_user) -> None:
    response = api_as(admin_user).post(
        "/api/v1/users", {"email": LONG_EMAIL, "role": "requester"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"email": ["Ensure this field has no more than 150 characters."]}
    assert not User.objects.filter(email=LONG_EMAIL).exists()


def test_an_email_longer_than_a_username_is_refused_by_the_users_form(
    client_as, admin_user
) -> None:
    response = client_as(admin_user).post(
        reverse("users:list"), {"email": LONG_EMAIL, "first_name": "Long", "role": "ops"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Ensure this value has at most 150 characters (it has 197)." in html
    assert "Long" in html  # what was typed is kept
    assert not User.objects.filter(email=LONG_EMAIL).exists()


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_name_longer_than_its_column_is_refused_by_the_api(admin_user, field) -> None:
    response = api_as(admin_user).post(
        "/api/v1/users",
        {"email": "n@acme.test", "role": "requester", field: "x" * 151},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {field: ["Ensure this field has no more than 150 characters."]}


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/workflows", "/api/v1/coupa/charts"])
def test_deeply_nested_json_is_a_400(admin_user, data, depth, path) -> None:
    body = "[" * depth + "]" * depth
    client = api_as(admin_user)
    send = client.put if path.endswith("charts") else client.post
    response = send(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 32 levels deep" in response.json()["detail"]


def test_json_nested_within_the_limit_is_read(admin_user) -> None:
    nested: object = "x"
    for _ in range(20):
        nested = {"a": nested}
    response = api_as(admin_user).post(
        "/api/v1/users", {"email": "n@acme.test", "role": "ops", "extra": nested}, format="json"
    )
    assert response.status_code == 201


def test_an_unexpected_error_in_an_api_view_answers_json(admin_user, monkeypatch, caplog) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("spendflo.users.api.user_list", broken)
    response = api_as(admin_user).get("/api/v1/users")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Something went wrong on our side")
    assert "boom" not in response.content.decode()
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_errors_outside_api_views_answer_json_under_the_api() -> None:
    from spendflo.views import page_not_found, server_error

    api = RequestFactory().get("/api/v1/anything")
    assert json.loads(server_error(api).content)["detail"].startswith("Something went wrong")
    assert json.loads(page_not_found(api, Exception()).content) == {"detail": "Not found."}
    assert server_error(RequestFactory().get("/requests/"))["Content-Type"].startswith("text/html")


def test_anonymous_api_calls_get_401_with_www_authenticate(db: None) -> None:
    response = APIClient().get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"

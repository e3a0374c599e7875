"""The generated schema (/api/schema/) says what the API does, errors included."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from coupa.models import ChartOfAccounts
from spendflo.middleware import UNREADABLE_FORM_MESSAGE
from spendflo.users.models import User
from tests.coupa.web import test_records_pages
from tests.coupa.web.test_records_pages import api_as
from tests.support import tenant_with_data

pytestmark = pytest.mark.django_db

data = test_records_pages.data  # fixture: one connection's charts, accounts, vendors, items


@pytest.fixture
def schema(admin_user) -> dict[str, Any]:
    response = api_as(admin_user).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _responses(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return schema["paths"][path][method]["responses"]


def test_a_chart_selection_that_adds_no_chart_is_a_documented_204(admin_user, data, schema) -> None:
    response = api_as(admin_user).put(
        "/api/v1/coupa/charts", {"chart_ids": [data["us"].pk]}, format="json"
    )
    assert response.status_code == 204 and response.content == b""
    documented = _responses(schema, "/api/v1/coupa/charts", "put")
    assert "content" not in documented["204"]
    assert documented["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SyncRun")


def test_a_chart_selection_that_adds_a_chart_answers_its_sync(admin_user, data) -> None:
    response = api_as(admin_user).put(
        "/api/v1/coupa/charts", {"chart_ids": [data["us"].pk, data["eu"].pk]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["trigger"] in ("initial", "chart_change")
    assert ChartOfAccounts.objects.get(pk=data["eu"].pk).selected


def test_empty_chart_ids_are_refused_as_the_schema_says(admin_user, data, schema) -> None:
    field = schema["components"]["schemas"]["ChartSelection"]["properties"]["chart_ids"]
    assert field["minItems"] == 1
    response = api_as(admin_user).put("/api/v1/coupa/charts", {"chart_ids": []}, format="json")
    assert response.status_code == 400 and "chart_ids" in response.json()


def test_enum_query_parameters_are_documented_and_enforced(admin_user, data, schema) -> None:
    parameters = schema["paths"]["/api/v1/coupa/vendors"]["get"]["parameters"]
    visibility = next(p for p in parameters if p["name"] == "visibility")
    assert set(visibility["schema"]["enum"]) == {"shown", "hidden"}
    assert (
        api_as(admin_user).get("/api/v1/coupa/vendors", {"visibility": "bogus"}).status_code == 400
    )
    assert (
        api_as(admin_user).get("/api/v1/coupa/vendors", {"visibility": "shown"}).status_code == 200
    )


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/v1/coupa/charts", "put", {"400", "401", "403", "404"}),
        ("/api/v1/coupa/accounts", "get", {"400", "401", "403", "404"}),
        ("/api/v1/coupa/accounts/bulk-visibility", "post", {"400", "401", "403", "404"}),
        ("/api/v1/users", "post", {"400", "401", "403"}),
        ("/api/v1/users/{id}", "get", {"401", "403", "404"}),
        ("/api/v1/me", "get", {"401", "403"}),
    ],
)
def test_error_answers_are_documented_with_their_bodies(schema, path, method, codes) -> None:
    responses = _responses(schema, path, method)
    assert codes <= set(responses)
    components = schema["components"]["schemas"]
    for code in codes:
        ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in components
    assert "WWW-Authenticate" in responses["401"]["headers"]


def test_documented_error_bodies_are_what_the_api_answers(
    admin_user, requester_user, schema
) -> None:
    components = schema["components"]["schemas"]
    assert components["ErrorDetail"]["required"] == ["detail"]
    anonymous = APIClient().get("/api/v1/users")
    forbidden = api_as(requester_user).get("/api/v1/users")
    missing = api_as(admin_user).get("/api/v1/users/999999")
    for response, code in ((anonymous, 401), (forbidden, 403), (missing, 404)):
        assert response.status_code == code and set(response.json()) == {"detail"}
    invalid = api_as(admin_user).post("/api/v1/users", {"role": "nope"}, format="json")
    assert invalid.status_code == 400
    assert all(isinstance(v, list) for v in invalid.json().values())


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/requests", {"state": "bogus"}, "state"),
        ("/api/v1/notices", {"unread": "perhaps"}, "unread"),
    ],
)
def test_other_enum_query_parameters_refuse_unknown_values(admin_user, path, params, field) -> None:
    response = api_as(admin_user).get(path, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert api_as(admin_user).get(path).status_code == 200


# What schemathesis found (tests/spendflo/test_api_fuzz.py), one test each.


def test_errors_of_list_items_are_numbered_fields_as_the_schema_says(admin_user, data) -> None:
    """A list item's error is `chart_ids.0`, a list of sentences, not a nested object."""
    response = api_as(admin_user).put("/api/v1/coupa/charts", {"chart_ids": [0]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"chart_ids.0": ["Ensure this value is greater than or equal to 1."]}


def test_a_views_own_refusal_may_also_be_field_errors_and_the_schema_says_so(
    admin_user, schema
) -> None:
    documented = _responses(schema, "/api/v1/workflows", "post")["400"]
    refs = [s["$ref"] for s in documented["content"]["application/json"]["schema"]["anyOf"]]
    assert [r.rsplit("/", 1)[1] for r in refs] == ["Error", "FieldErrors"]
    response = api_as(admin_user).post("/api/v1/workflows", {}, format="json")
    assert response.status_code == 400 and response.json() == {"name": ["This field is required."]}


def test_a_request_without_a_document_is_documented_as_null(admin_user, schema) -> None:
    tenant = tenant_with_data("initech")
    field = schema["components"]["schemas"]["Request"]["properties"]["document"]
    assert field["nullable"] is True
    listed = api_as(tenant.users[User.Role.ADMIN]).get("/api/v1/requests").json()["results"]
    assert [row["document"] for row in listed] == [None]


@pytest.mark.parametrize("chart", [2**63, 10**32])
def test_a_chart_id_beyond_64_bits_is_a_400_naming_it(admin_user, data, chart) -> None:
    client = api_as(admin_user)
    bulk = client.post(
        "/api/v1/coupa/accounts/bulk-visibility",
        {"chart": chart, "show_to_users": False},
        format="json",
    )
    listed = client.get("/api/v1/coupa/accounts", {"chart": str(chart)})
    for response in (bulk, listed):
        assert response.status_code == 400 and list(response.json()) == ["chart"]
    assert client.get("/api/v1/coupa/accounts", {"chart": str(2**63 - 1)}).status_code == 200


def test_a_multipart_body_without_a_boundary_is_a_json_400_saying_so(admin_user) -> None:
    response = api_as(admin_user).post(
        "/api/v1/workflows", data=b"name=x", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": UNREADABLE_FORM_MESSAGE}


def test_a_body_of_another_content_type_is_a_documented_415(admin_user, schema) -> None:
    assert "415" in _responses(schema, "/api/v1/workflows", "post")
    assert "415" not in _responses(schema, "/api/v1/workflows", "get")
    response = api_as(admin_user).post("/api/v1/workflows", data="x", content_type="text/plain")
    assert response.status_code == 415 and set(response.json()) == {"detail"}


def test_a_bulk_visibility_form_without_show_to_users_is_refused(admin_user, data) -> None:
    """A form body, like JSON, must say whether to show or hide: a missing checkbox is not
    False (it would hide every record the filter matches)."""
    response = api_as(admin_user).post(
        "/api/v1/coupa/accounts/bulk-visibility", {"chart": str(data["us"].pk)}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json() == {"show_to_users": ["This field is required."]}
    data["a1"].refresh_from_db()
    assert data["a1"].show_to_users

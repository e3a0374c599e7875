"""The generated schema (/api/schema/) says what the API does, errors included."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from coupa.models import ChartOfAccounts
from tests.coupa.web import test_records_pages
from tests.coupa.web.test_records_pages import api_as

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

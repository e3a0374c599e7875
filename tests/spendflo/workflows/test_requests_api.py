"""The requests API: published workflows, submit, list and detail, approve, reject, retry,
notices; each role and organization seeing what it may."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from spendflo.users.models import User
from spendflo.workflows.models import Notification, PurchaseRequest
from spendflo.workflows.requests import request_submit
from spendflo.workflows.services import request_event_record
from tests.spendflo.workflows.conftest import build_published, good_answers

pytestmark = pytest.mark.django_db


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _body(version: Any, **over: Any) -> dict[str, Any]:
    return {"version": version.pk, "title": "Laptops", "answers": good_answers(2), **over}


def test_published_workflows_list_the_forms(requester_user, published, ops_user) -> None:
    body = api_as(requester_user).get("/api/v1/published-workflows").json()
    (row,) = body["results"]
    assert row["version_id"] == published.pk and row["name"] == "IT hardware"
    assert [f["api_name"] for f in row["form_fields"]][:3] == ["ship_to", "cost_centre", "need_by"]
    assert api_as(ops_user).get("/api/v1/published-workflows").status_code == 403


def test_submit_creates_and_the_same_key_returns_it(
    requester_user, published, fake_provider
) -> None:
    client = api_as(requester_user)
    first = client.post("/api/v1/requests", _body(published, idempotency_key="k1"), format="json")
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["reference"] == "SF-1" and data["state"] == "sending"
    assert [e["kind"] for e in data["events"]] == ["submitted", "queued"]
    again = client.post("/api/v1/requests", _body(published, idempotency_key="k1"), format="json")
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert PurchaseRequest.objects.count() == 1


def test_refused_answers_are_400_with_problems(requester_user, published, fake_provider) -> None:
    answers = good_answers()
    answers["lines"][0]["quantity"] = "many"
    response = api_as(requester_user).post(
        "/api/v1/requests", _body(published, answers=answers), format="json"
    )
    assert response.status_code == 400
    assert response.json()["problems"] == [
        {"field": "quantity", "line": 0, "message": "Quantity: Enter a number."}
    ]


def test_ops_cannot_submit_and_other_tenants_versions_are_refused(
    ops_user, requester_user, published, fake_provider, other_organization, make_user
) -> None:
    assert (
        api_as(ops_user).post("/api/v1/requests", _body(published), format="json").status_code
        == 403
    )
    stranger = make_user("requester", other_organization)
    response = api_as(stranger).post("/api/v1/requests", _body(published), format="json")
    assert response.status_code == 400 and PurchaseRequest.objects.count() == 0


def test_who_sees_which_requests(
    requester_user, admin_user, ops_user, make_user, organization, other_organization,
    published, fake_provider,
) -> None:  # fmt: skip
    mine = request_submit(
        version=published, requester=requester_user, title="Mine", answers=good_answers()
    )
    other = make_user("requester", organization)
    theirs = request_submit(
        version=published, requester=other, title="Theirs", answers=good_answers()
    )
    fake_provider.documents[mine.pk] = {"id": 5, "status": "draft", "orders": []}
    titles = [r["title"] for r in api_as(requester_user).get("/api/v1/requests").json()["results"]]
    assert titles == ["Mine"]
    for user in (admin_user, ops_user):
        results = api_as(user).get("/api/v1/requests").json()["results"]
        assert sorted(r["title"] for r in results) == ["Mine", "Theirs"]
    detail = api_as(requester_user).get(f"/api/v1/requests/{mine.pk}").json()
    assert detail["document"] == {"id": 5, "status": "draft", "orders": []}
    assert api_as(requester_user).get(f"/api/v1/requests/{theirs.pk}").status_code == 404
    stranger = make_user("admin", other_organization)
    assert api_as(stranger).get(f"/api/v1/requests/{mine.pk}").status_code == 404
    assert api_as(stranger).get("/api/v1/requests").json()["results"] == []
    PurchaseRequest.objects.filter(pk=theirs.pk).update(state="pr_failed")
    failed = api_as(admin_user).get("/api/v1/requests", {"state": "pr_failed"}).json()["results"]
    assert [r["title"] for r in failed] == ["Theirs"]


def test_approve_reject_and_retry_by_role(
    requester_user, admin_user, ops_user, make_user, organization, fake_provider
) -> None:
    boss = make_user("requester", organization)
    version = build_published(organization, admin_user, name="N", approval="user", approver=boss)
    req = request_submit(
        version=version, requester=requester_user, title="T", answers=good_answers()
    )
    url = f"/api/v1/requests/{req.pk}"
    assert api_as(requester_user).post(f"{url}/approve", {}, format="json").status_code == 400
    assert api_as(boss).post(f"{url}/reject", {"comment": ""}, format="json").status_code == 400
    approved = api_as(boss).post(f"{url}/approve", {"comment": "fine"}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "sending"
    PurchaseRequest.objects.filter(pk=req.pk).update(state="pr_failed")
    assert api_as(ops_user).post(f"{url}/retry", format="json").status_code == 400
    retried = api_as(admin_user).post(f"{url}/retry", format="json")
    assert retried.status_code == 200 and retried.json()["state"] == "sending"
    assert ("retry", req.pk) in fake_provider.calls


def test_notices_list_and_mark_read(
    requester_user, published, fake_provider, django_capture_on_commit_callbacks
) -> None:
    req = request_submit(
        version=published, requester=requester_user, title="T", answers=good_answers()
    )
    with django_capture_on_commit_callbacks(execute=True):
        request_event_record(request=req, kind="pr_created", message="PR 1 created.", notify=True)
    client = api_as(requester_user)
    (notice,) = client.get("/api/v1/notices", {"unread": "true"}).json()["results"]
    assert "PR 1 created." in notice["message"] and notice["read_at"] is None
    assert client.post(
        "/api/v1/notices/mark-read", {"ids": [notice["id"]]}, format="json"
    ).json() == {"marked": 1}
    assert client.get("/api/v1/notices", {"unread": "true"}).json()["results"] == []
    assert Notification.objects.get(recipient=requester_user).read_at is not None
    assert Notification.objects.exclude(recipient=requester_user).get().read_at is None


def test_the_openapi_schema_describes_the_request_operations(admin_user: User) -> None:
    schema = (
        api_as(admin_user)
        .get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()
    )
    expected = {
        "/api/v1/published-workflows": {"get"},
        "/api/v1/requests": {"get", "post"},
        "/api/v1/requests/{id}": {"get"},
        "/api/v1/requests/{id}/approve": {"post"},
        "/api/v1/requests/{id}/reject": {"post"},
        "/api/v1/requests/{id}/retry": {"post"},
        "/api/v1/notices": {"get"},
        "/api/v1/notices/mark-read": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(schema["paths"][path]), path
    post = schema["paths"]["/api/v1/requests"]["post"]
    # The view's own refusal, or the body's fields refused before it (FieldErrors).
    refused = post["responses"]["400"]["content"]["application/json"]["schema"]["anyOf"]
    assert [r["$ref"].rsplit("/", 1)[1] for r in refused] == ["RequestInvalid", "FieldErrors"]

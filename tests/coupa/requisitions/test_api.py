"""The Coupa side of the workflows API: mapping, suggestions, publishing, preview, test draft,
custom field declarations (admins) and the pickers (every member)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from coupa.client.exceptions import CoupaTimeoutError, CoupaValidationError
from coupa.reference.registry import RESOURCES
from coupa.requisitions.mapping import mapping_accept_suggestions, mapping_set
from integrations.models import Connection, CustomFieldDefinition, FieldMapping
from spendflo.users.models import User
from spendflo.workflows.models import WorkflowVersion
from spendflo.workflows.services import FieldInput, form_field_add, workflow_create
from tests.coupa.requisitions.conftest import Setup
from tests.factories import (
    AccountFactory,
    AddressFactory,
    ChartFactory,
    CommodityFactory,
    ConnectionFactory,
    CurrencyFactory,
    DepartmentFactory,
    ItemFactory,
    UomFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db
Source = FieldMapping.Source


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _v(s: Setup) -> str:
    return f"/api/v1/workflow-versions/{s.version.pk}"


def _complete(s: Setup) -> None:
    """Accept the suggestions and map what has none: a complete mapping."""
    mapping_accept_suggestions(version=s.version, user=s.admin)
    mapping_set(
        version=s.version,
        target="line.uom",
        source=Source.CONSTANT,
        value={"id": s.records["uom"].pk},
        user=s.admin,
    )


def _rows(body: Any) -> dict[str, dict[str, Any]]:
    return {r["target"]: r for r in body["rows"]}


@pytest.fixture
def stranger(other_organization: Any, make_user: Any) -> WorkflowVersion:
    """Another organization's connected workflow version with one mapped field."""
    admin = make_user(User.Role.ADMIN, other_organization, email="admin@globex.test")
    ConnectionFactory(organization=other_organization, host="globex.coupahost.com")
    workflow = workflow_create(organization=other_organization, name="Globex", user=admin)
    version = workflow.versions.get()
    form_field_add(version=version, data=FieldInput("Title"), user=admin)
    mapping_set(
        version=version, target="requested-by", source=Source.REQUESTER, value="email", user=admin
    )
    return version


# --- mapping ------------------------------------------------------------------------------


def test_the_mapping_table_has_a_row_per_coupa_field(setup: Setup) -> None:
    body = api_as(setup.admin).get(f"{_v(setup)}/coupa/mapping").json()
    rows = _rows(body)
    assert {"requested-by", "ship-to-address", "line.currency", "line.uom"} <= rows.keys()
    ship = rows["ship-to-address"]
    assert ship["required"] is True and ship["locked"] is False and ship["source"] is None
    assert ship["level"] == "header" and ship["coupa_type"] == "Address"
    assert ship["suggestion"]["source"] == "form_field"
    assert ship["suggestion"]["form_field"] == setup.fields["ship_to"].pk
    assert "Ship-to address is required by Coupa: map it." in ship["problems"]
    assert rows["requested-by"]["suggestion"]["value"] == "email"
    assert {p["target"] for p in body["problems"]} >= {"requested-by", "line.currency"}


def test_one_mapping_is_set_and_its_row_answered(setup: Setup) -> None:
    client = api_as(setup.admin)
    response = client.put(
        f"{_v(setup)}/coupa/mapping/ship-to-address",
        {"source": "form_field", "form_field": setup.fields["ship_to"].pk},
        format="json",
    )
    assert response.status_code == 200, response.json()
    row = response.json()
    assert row["source"] == "form_field" and row["form_field"] == setup.fields["ship_to"].pk
    assert row["locked"] is True and row["problems"] == []
    mapping = setup.version.mappings.get(target="ship-to-address")
    assert mapping.form_field == setup.fields["ship_to"]

    constant = client.put(
        f"{_v(setup)}/coupa/mapping/line.uom",
        {"source": "constant", "value": {"id": setup.records["uom"].pk}},
        format="json",
    )
    assert constant.status_code == 200
    assert constant.json()["value"] == {"id": setup.records["uom"].pk}


def test_a_mapping_that_cannot_feed_the_field_is_400_with_the_reason(
    setup: Setup, stranger: WorkflowVersion
) -> None:
    client = api_as(setup.admin)
    url = f"{_v(setup)}/coupa/mapping/ship-to-address"
    wrong_type = client.put(
        url, {"source": "form_field", "form_field": setup.fields["title"].pk}, format="json"
    )
    assert wrong_type.status_code == 400
    assert wrong_type.json()["detail"].startswith("Ship-to address: A short text field cannot feed")
    hidden = AddressFactory(connection=setup.connection, active=False)
    not_offered = client.put(url, {"source": "constant", "value": {"id": hidden.pk}}, format="json")
    assert not_offered.status_code == 400 and "not an offered" in not_offered.json()["detail"]
    theirs = client.put(
        url, {"source": "form_field", "form_field": stranger.fields.get().pk}, format="json"
    )
    assert theirs.status_code == 400
    assert theirs.json()["detail"] == "No such form field in this version."
    unknown = client.put(
        f"{_v(setup)}/coupa/mapping/nope", {"source": "constant", "value": "x"}, format="json"
    )
    assert (
        unknown.status_code == 400 and "not a Coupa requisition field" in unknown.json()["detail"]
    )
    assert not setup.version.mappings.exists()


def test_removing_a_required_mapping_is_400_and_the_mapping_stays(setup: Setup) -> None:
    _complete(setup)
    client = api_as(setup.admin)
    response = client.delete(f"{_v(setup)}/coupa/mapping/requested-by")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Requested by is required by Coupa: its mapping cannot be removed, only changed to "
        "another source."
    )
    assert setup.version.mappings.filter(target="requested-by").exists()
    assert _rows(client.get(f"{_v(setup)}/coupa/mapping").json())["requested-by"]["locked"]

    assert client.delete(f"{_v(setup)}/coupa/mapping/justification").status_code == 204
    assert not setup.version.mappings.filter(target="justification").exists()


def test_suggestions_are_accepted_for_the_listed_targets_or_all(setup: Setup) -> None:
    client = api_as(setup.admin)
    url = f"{_v(setup)}/coupa/mapping/accept-suggestions"
    some = client.post(url, {"targets": ["requested-by", "req-title"]}, format="json")
    assert some.status_code == 200
    assert sorted(some.json()["accepted"]) == ["req-title", "requested-by"]
    assert set(setup.version.mappings.values_list("target", flat=True)) == {
        "requested-by",
        "req-title",
    }
    everything = client.post(url, {}, format="json").json()
    assert "line.currency" in everything["accepted"] and "req-title" not in everything["accepted"]
    assert {p["target"] for p in everything["problems"]} == {"line.uom"}


# --- publishing ---------------------------------------------------------------------------


def test_publishing_with_a_missing_mapping_is_400_with_the_blockers(setup: Setup) -> None:
    client = api_as(setup.admin)
    response = client.post(f"{_v(setup)}/publish")
    assert response.status_code == 400
    blockers = response.json()["blockers"]
    assert {b["target"] for b in blockers} == {
        "requested-by",
        "ship-to-address",
        "line.line-type",
        "line.description",
        "line.quantity",
        "line.uom",
        "line.currency",
    }
    ship = next(b for b in blockers if b["target"] == "ship-to-address")
    assert ship["message"] == "Ship-to address is required by Coupa: map it."
    assert ship["url"].endswith("/mapping/#row-ship-to-address")
    assert client.get(f"{_v(setup)}/blockers").json() == blockers
    setup.version.refresh_from_db()
    assert setup.version.state == WorkflowVersion.State.DRAFT


def test_a_required_custom_field_blocks_publishing_until_mapped(setup: Setup) -> None:
    _complete(setup)
    client = api_as(setup.admin)
    declared = client.post(
        "/api/v1/coupa/custom-fields",
        {"api_name": "po-reference", "label": "PO reference", "required": True},
        format="json",
    )
    assert declared.status_code == 201, declared.json()
    assert declared.json()["target"] == "custom.header.po-reference"

    refused = client.post(f"{_v(setup)}/publish")
    assert refused.status_code == 400
    assert [b["target"] for b in refused.json()["blockers"]] == ["custom.header.po-reference"]
    assert "PO reference is required by Coupa" in refused.json()["detail"]

    mapped = client.put(
        f"{_v(setup)}/coupa/mapping/custom.header.po-reference",
        {"source": "constant", "value": "PO-1"},
        format="json",
    )
    assert mapped.status_code == 200, mapped.json()
    published = client.post(f"{_v(setup)}/publish")
    assert published.status_code == 200, published.json()
    assert published.json()["state"] == "published"


def test_publishing_with_an_unusable_connection_is_400(setup: Setup) -> None:
    _complete(setup)
    Connection.objects.filter(pk=setup.connection.pk).update(
        state=Connection.State.NEEDS_ATTENTION, state_reason="Credentials rejected"
    )
    response = api_as(setup.admin).post(f"{_v(setup)}/publish")
    assert response.status_code == 400
    (blocker,) = response.json()["blockers"]
    assert blocker["target"] == ""
    assert blocker["message"].startswith("The Coupa connection is not usable: ")
    assert blocker["url"] == reverse("integrations:procurement")


def test_a_published_version_is_edited_through_a_new_draft(setup: Setup) -> None:
    _complete(setup)
    client = api_as(setup.admin)
    assert client.post(f"{_v(setup)}/publish").status_code == 200
    frozen = client.put(
        f"{_v(setup)}/coupa/mapping/justification",
        {"source": "request", "value": "number"},
        format="json",
    )
    assert frozen.status_code == 400 and "edit the draft version" in frozen.json()["detail"]

    draft = client.post(f"/api/v1/workflows/{setup.workflow.pk}/draft").json()
    v2 = f"/api/v1/workflow-versions/{draft['id']}"
    assert _rows(client.get(f"{v2}/coupa/mapping").json())["requested-by"]["value"] == "email"
    changed = client.put(
        f"{v2}/coupa/mapping/requested-by", {"source": "requester", "value": "login"}, format="json"
    )
    assert changed.status_code == 200
    assert setup.version.mappings.get(target="requested-by").value == "email"
    setup.version.refresh_from_db()
    assert setup.version.state == WorkflowVersion.State.PUBLISHED


# --- preview and test draft ----------------------------------------------------------------


def test_preview_without_answers_uses_sample_answers(setup: Setup) -> None:
    _complete(setup)
    response = api_as(setup.admin).post(f"{_v(setup)}/coupa/preview", {}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ok"] is True
    assert body["problems"] == {"mapping": [], "answers": [], "spec": []}
    assert body["answers"]["lines"][0]["vendor"] == setup.records["vendor"].pk
    assert body["payload"]["requested-by"] == {"id": setup.records["coupa_admin"].external_id}
    assert body["payload"]["requisition-lines"][0]["quantity"] == "2"


def test_preview_groups_the_problems_of_given_answers(setup: Setup) -> None:
    mapping_accept_suggestions(version=setup.version, user=setup.admin)  # line.uom unmapped
    answers = {
        "request": {"title": "Laptops", "ship_to": setup.records["address"].pk},
        "lines": [{"description": "Laptop", "quantity": "0", "unit_price": "x", "vendor": 999999}],
    }
    body = (
        api_as(setup.admin)
        .post(f"{_v(setup)}/coupa/preview", {"answers": answers}, format="json")
        .json()
    )
    assert body["ok"] is False and body["answers"] == answers
    assert [p["target"] for p in body["problems"]["mapping"]] == ["line.uom"]
    answer_targets = {p["target"] for p in body["problems"]["answers"]}
    assert {"line.quantity", "line.supplier"} <= answer_targets
    bad = api_as(setup.admin).post(f"{_v(setup)}/coupa/preview", {"answers": [1]}, format="json")
    assert bad.status_code == 400


@contextlib.contextmanager
def _fake_coupa(answer: Any) -> Iterator[Any]:
    class Client:
        sent: list[Any] = []

        def post(self, path: str, body: Any) -> Any:
            self.sent.append((path, body))
            if isinstance(answer, Exception):
                raise answer
            return answer

    yield Client()


def test_test_draft_reports_the_requisition_coupa_created(setup: Setup, monkeypatch) -> None:
    _complete(setup)
    monkeypatch.setattr(
        "coupa.requisitions.services.client_for",
        lambda connection: _fake_coupa({"id": 77, "status": "draft"}),
    )
    response = api_as(setup.admin).post(f"{_v(setup)}/coupa/test-draft", {}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "coupa_id": 77,
        "status": "draft",
        "url": f"{setup.connection.base_url}/requisition_headers/77",
    }


def test_test_draft_refusals_are_400_and_silence_is_502(setup: Setup, monkeypatch) -> None:
    client = api_as(setup.admin)
    unfinished = client.post(f"{_v(setup)}/coupa/test-draft", {}, format="json")
    assert unfinished.status_code == 400
    assert unfinished.json()["detail"] == "Fix the problems the preview lists first."
    assert any("Requested by" in m for m in unfinished.json()["messages"])

    _complete(setup)
    refusal = CoupaValidationError({"requisition-lines": ["Account is invalid"]})
    monkeypatch.setattr(
        "coupa.requisitions.services.client_for", lambda connection: _fake_coupa(refusal)
    )
    refused = client.post(f"{_v(setup)}/coupa/test-draft", {}, format="json")
    assert refused.status_code == 400
    assert refused.json()["messages"] == ["Account is invalid"]

    timeout = CoupaTimeoutError("POST /api/requisitions timed out")
    monkeypatch.setattr(
        "coupa.requisitions.services.client_for", lambda connection: _fake_coupa(timeout)
    )
    silent = client.post(f"{_v(setup)}/coupa/test-draft", {}, format="json")
    assert silent.status_code == 502
    assert "No test draft was confirmed" in silent.json()["detail"]


# --- custom fields ------------------------------------------------------------------------


def test_custom_fields_are_declared_changed_and_removed(setup: Setup) -> None:
    client = api_as(setup.admin)
    url = "/api/v1/coupa/custom-fields"
    created = client.post(
        url,
        {"level": "line", "api_name": "cost-code", "type": "lookup", "values": ["A", " B ", ""]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    field = created.json()
    assert field["values"] == ["A", "B"] and field["target"] == "custom.line.cost-code"
    assert [f["api_name"] for f in client.get(url).json()] == ["cost-code"]
    assert "custom.line.cost-code" in _rows(client.get(f"{_v(setup)}/coupa/mapping").json())

    duplicate = client.post(
        url, {"level": "line", "api_name": "cost-code", "values": ["A"]}, format="json"
    )
    assert duplicate.status_code == 400 and "already declared" in duplicate.json()["detail"]
    no_values = client.post(url, {"api_name": "kind", "type": "lookup"}, format="json")
    assert no_values.status_code == 400 and "needs its values" in no_values.json()["detail"]
    bad_name = client.post(url, {"api_name": "Cost Code"}, format="json")
    assert bad_name.status_code == 400

    changed = client.patch(
        f"{url}/{field['id']}", {"required": True, "label": "Cost code", "api_name": "x"},
        format="json",
    )  # fmt: skip
    assert changed.status_code == 200
    assert changed.json()["required"] is True and changed.json()["api_name"] == "cost-code"

    assert client.delete(f"{url}/{field['id']}").status_code == 204
    assert not CustomFieldDefinition.objects.exists()


def test_custom_fields_belong_to_the_organizations_connection(
    setup: Setup, stranger: WorkflowVersion, ops_user: User, requester_user: User
) -> None:
    theirs = CustomFieldDefinition.objects.create(
        connection=Connection.objects.get(host="globex.coupahost.com"), api_name="secret"
    )
    client = api_as(setup.admin)
    assert client.get("/api/v1/coupa/custom-fields").json() == []
    assert client.get(f"/api/v1/coupa/custom-fields/{theirs.pk}").status_code == 404
    assert (
        client.patch(
            f"/api/v1/coupa/custom-fields/{theirs.pk}", {"required": True}, format="json"
        ).status_code
        == 404
    )
    assert client.delete(f"/api/v1/coupa/custom-fields/{theirs.pk}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.required is False
    for user in (ops_user, requester_user):
        other = api_as(user)
        assert other.get("/api/v1/coupa/custom-fields").status_code == 403
        assert (
            other.post("/api/v1/coupa/custom-fields", {"api_name": "x"}, format="json").status_code
            == 403
        )
    assert not CustomFieldDefinition.objects.filter(api_name="x").exists()


# --- roles and tenants ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["requester", "ops"])
def test_requesters_and_ops_cannot_touch_the_mapping(
    setup: Setup, role: str, make_user: Any, organization: Any
) -> None:
    _complete(setup)
    client = api_as(make_user(role, organization))
    v = _v(setup)
    calls = [
        ("get", f"{v}/coupa/mapping", None),
        ("put", f"{v}/coupa/mapping/requested-by", {"source": "requester", "value": "login"}),
        ("delete", f"{v}/coupa/mapping/justification", None),
        ("post", f"{v}/coupa/mapping/accept-suggestions", {}),
        ("post", f"{v}/coupa/preview", {}),
        ("post", f"{v}/coupa/test-draft", {}),
    ]
    for method, url, data in calls:
        assert getattr(client, method)(url, data, format="json").status_code == 403, url
    assert setup.version.mappings.get(target="requested-by").value == "email"
    assert setup.version.mappings.filter(target="justification").exists()


def test_another_organizations_version_is_not_found(
    setup: Setup, stranger: WorkflowVersion
) -> None:
    client = api_as(setup.admin)
    v = f"/api/v1/workflow-versions/{stranger.pk}"
    calls = [
        ("get", f"{v}/coupa/mapping", None),
        ("put", f"{v}/coupa/mapping/requested-by", {"source": "requester", "value": "login"}),
        ("delete", f"{v}/coupa/mapping/requested-by", None),
        ("post", f"{v}/coupa/mapping/accept-suggestions", {}),
        ("post", f"{v}/coupa/preview", {}),
        ("post", f"{v}/coupa/test-draft", {}),
    ]
    for method, url, data in calls:
        assert getattr(client, method)(url, data, format="json").status_code == 404, url
    assert stranger.mappings.get().value == "email"


def test_anonymous_calls_are_refused(setup: Setup) -> None:
    client = APIClient()
    assert client.get(f"{_v(setup)}/coupa/mapping").status_code in (401, 403)
    assert client.get("/api/v1/pickers/vendors").status_code in (401, 403)


# --- pickers ------------------------------------------------------------------------------


@pytest.fixture
def offered(setup: Setup, other_organization: Any) -> dict[str, Any]:
    """Besides setup's offered records, one record of each way not to be offered."""
    c = setup.connection
    deselected = ChartFactory(connection=c, selected=False)
    inactive_chart = ChartFactory(connection=c, active=False)
    other = ConnectionFactory(organization=other_organization, host="globex.coupahost.com")
    return {
        "hidden": [
            VendorFactory(connection=c, show_to_users=False, name="Hidden vendor"),
            ItemFactory(connection=c, show_to_users=False),
            AccountFactory(connection=c, show_to_users=False),
        ],
        "inactive": [
            VendorFactory(connection=c, active=False),
            ItemFactory(connection=c, active=False),
            AccountFactory(connection=c, active=False),
            AddressFactory(connection=c, active=False),
            DepartmentFactory(connection=c, active=False),
            CommodityFactory(connection=c, active=False),
            UomFactory(connection=c, active=False, code="BOX"),
            CurrencyFactory(connection=c, active=False, code="EUR"),
        ],
        "deselected_chart": [
            AccountFactory(connection=c, chart=deselected),
            AccountFactory(connection=c, chart=inactive_chart),
        ],
        "other_tenant": [
            VendorFactory(connection=other, name="Vendor of Globex"),
            ItemFactory(connection=other),
            AccountFactory(connection=other),
            AddressFactory(connection=other),
            DepartmentFactory(connection=other),
            CommodityFactory(connection=other),
            UomFactory(connection=other),
            CurrencyFactory(connection=other),
        ],
        "department": DepartmentFactory(connection=c, name="Finance"),
        "commodity": CommodityFactory(connection=c, name="Laptops", code="LAP"),
    }


KINDS = (
    "vendors",
    "items",
    "accounts",
    "addresses",
    "departments",
    "commodities",
    "uoms",
    "currencies",
)


def test_pickers_offer_only_what_the_one_rule_offers(
    setup: Setup, offered: dict[str, Any], requester_user: User
) -> None:
    client = api_as(requester_user)
    expected = {
        "vendors": [setup.records["vendor"].pk],
        "items": [setup.records["item"].pk],
        "accounts": [setup.records["account"].pk],
        "addresses": [setup.records["address"].pk],
        "departments": [offered["department"].pk],
        "commodities": [offered["commodity"].pk],
        "uoms": [setup.records["uom"].pk],
        "currencies": [setup.records["currency"].pk],
    }
    never = {
        (type(r), r.pk)
        for key in ("hidden", "inactive", "deselected_chart", "other_tenant")
        for r in offered[key]
    }
    for kind in KINDS:
        response = client.get(f"/api/v1/pickers/{kind}")
        assert response.status_code == 200, kind
        results = response.json()["results"]
        assert [r["id"] for r in results] == expected[kind], kind
        assert not {(RESOURCES[kind].model, r["id"]) for r in results} & never
    vendor = client.get("/api/v1/pickers/vendors").json()["results"][0]
    assert vendor.keys() == {"id", "label", "code", "number", "detail"}
    assert vendor["label"] == setup.records["vendor"].name
    account = client.get("/api/v1/pickers/accounts").json()["results"][0]
    assert account["code"] == setup.records["account"].code
    assert account["detail"] == setup.records["account"].chart.name
    uom = client.get("/api/v1/pickers/uoms").json()["results"][0]
    assert (uom["label"], uom["code"]) == ("Each", "EA")


def test_pickers_search_on_the_server_and_page_by_twenty(
    setup: Setup, requester_user: User, other_organization: Any
) -> None:
    VendorFactory.create_batch(25, connection=setup.connection, name="Acme parts")
    VendorFactory(connection=setup.connection, name="Acme hidden", show_to_users=False)
    VendorFactory(
        connection=ConnectionFactory(organization=other_organization), name="Acme of Globex"
    )
    client = api_as(requester_user)
    first = client.get("/api/v1/pickers/vendors", {"search": "acme"}).json()
    assert first["count"] == 25 and len(first["results"]) == 20 and first["next"]
    second = client.get("/api/v1/pickers/vendors", {"search": "acme", "page": 2}).json()
    assert len(second["results"]) == 5
    labels = {r["label"] for r in first["results"] + second["results"]}
    assert labels == {"Acme parts"}
    number = client.get("/api/v1/pickers/addresses", {"search": "loc-"}).json()
    assert [r["id"] for r in number["results"]] == [setup.records["address"].pk]


def test_pickers_without_a_connection_or_of_an_unknown_kind(
    organization: Any, requester_user: User
) -> None:
    client = api_as(requester_user)
    assert client.get("/api/v1/pickers/vendors").json()["results"] == []
    assert client.get("/api/v1/pickers/users").status_code == 404
    assert client.get("/api/v1/pickers/nope").status_code == 404


def test_the_openapi_schema_describes_the_coupa_workflow_operations(admin_user: User) -> None:
    schema = (
        api_as(admin_user)
        .get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()
    )
    paths = schema["paths"]
    expected = {
        "/api/v1/workflow-versions/{id}/coupa/mapping": {"get"},
        "/api/v1/workflow-versions/{id}/coupa/mapping/{target}": {"put", "delete"},
        "/api/v1/workflow-versions/{id}/coupa/mapping/accept-suggestions": {"post"},
        "/api/v1/workflow-versions/{id}/coupa/preview": {"post"},
        "/api/v1/workflow-versions/{id}/coupa/test-draft": {"post"},
        "/api/v1/coupa/custom-fields": {"get", "post"},
        "/api/v1/coupa/custom-fields/{id}": {"get", "patch", "delete"},
        "/api/v1/pickers/{kind}": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    row = schema["components"]["schemas"]["MappingRow"]["properties"]
    assert {"target", "locked", "required", "problems", "suggestion"} <= row.keys()
    draft = paths["/api/v1/workflow-versions/{id}/coupa/test-draft"]["post"]["responses"]
    assert {"201", "400", "502"} <= draft.keys()
    kind = next(
        p for p in paths["/api/v1/pickers/{kind}"]["get"]["parameters"] if p["name"] == "kind"
    )
    assert set(kind["schema"]["enum"]) == set(KINDS)

"""Tabs of imported records, Show to Users, the requester-pickable selector, charts slider."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from coupa.models import Account, ChartOfAccounts, CoupaUser, Item, Vendor
from coupa.reference.selectors import pickable_list
from integrations.models import Connection, SyncRun
from spendflo.audit.models import AuditEvent
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def make_connection(org, host="acme.coupahost.com", state=Connection.State.CONNECTED):
    return ConnectionFactory(organization=org, host=host, client_id="cid", state=state)


def stamp():
    now = timezone.now()
    return {"imported_at": now, "synced_at": now}


@pytest.fixture
def data(organization):
    conn = make_connection(organization)
    us = ChartOfAccounts.objects.create(
        connection=conn, external_id=1, name="US COA", selected=True, currency_code="USD", **stamp()
    )
    eu = ChartOfAccounts.objects.create(
        connection=conn,
        external_id=2,
        name="EU COA",
        selected=False,
        currency_code="EUR",
        dynamic=True,
        **stamp(),
    )
    a1 = Account.objects.create(
        connection=conn, external_id=11, chart=us, code="100-200", name="Travel", **stamp()
    )
    a2 = Account.objects.create(
        connection=conn, external_id=12, chart=eu, code="EU-1", name="Reisen", **stamp()
    )
    a3 = Account.objects.create(
        connection=conn,
        external_id=13,
        chart=us,
        code="100-300",
        name="Old",
        active=False,
        **stamp(),
    )
    v1 = Vendor.objects.create(
        connection=conn,
        external_id=21,
        name="Acme Supplies",
        number="V-1",
        status="active",
        **stamp(),
    )
    v2 = Vendor.objects.create(
        connection=conn,
        external_id=22,
        name="Hidden Co",
        number="V-2",
        status="active",
        show_to_users=False,
        **stamp(),
    )
    i1 = Item.objects.create(
        connection=conn, external_id=31, name="Laptop", item_number="IT-1", **stamp()
    )
    CoupaUser.objects.create(
        connection=conn, external_id=41, login="jdoe", email="jdoe@acme.test", **stamp()
    )
    return {
        "conn": conn,
        "us": us,
        "eu": eu,
        "a1": a1,
        "a2": a2,
        "a3": a3,
        "v1": v1,
        "v2": v2,
        "i1": i1,
    }


@pytest.fixture
def other_data(other_organization):
    conn = make_connection(other_organization, host="globex.coupahost.com")
    Vendor.objects.create(
        connection=conn, external_id=21, name="Globex Vendor", status="active", **stamp()
    )
    return conn


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_pickable_is_shown_active_selected_chart_and_connected(organization, data) -> None:
    assert [a.code for a in pickable_list(organization=organization, kind="accounts")] == [
        "100-200"
    ]
    assert [v.name for v in pickable_list(organization=organization, kind="vendors")] == [
        "Acme Supplies"
    ]
    assert [i.name for i in pickable_list(organization=organization, kind="items")] == ["Laptop"]
    data["conn"].state = Connection.State.DISCONNECTED
    data["conn"].save()
    for kind in ("accounts", "vendors", "items"):
        assert not pickable_list(organization=organization, kind=kind).exists()


def test_pickable_search(organization, data) -> None:
    assert [
        v.name for v in pickable_list(organization=organization, kind="vendors", search="v-1")
    ] == ["Acme Supplies"]
    assert not pickable_list(organization=organization, kind="vendors", search="hidden").exists()


def test_tabs_list_filter_and_label_why_not_offered(client_as, admin_user, data) -> None:
    client = client_as(admin_user)
    html = client.get(reverse("coupa:records", args=["accounts"])).content.decode()
    assert "100-200" in html and "EU-1" in html and "100-300" in html
    assert "Chart not selected" in html and "Inactive in Coupa" in html
    assert "1 offered to requesters" in html
    html = client.get(
        reverse("coupa:records", args=["accounts"]), {"search": "trav"}
    ).content.decode()
    assert "100-200" in html and "EU-1" not in html
    html = client.get(
        reverse("coupa:records", args=["accounts"]), {"chart": data["eu"].pk}
    ).content.decode()
    assert "EU-1" in html and "100-200" not in html
    html = client.get(
        reverse("coupa:records", args=["vendors"]), {"visibility": "hidden"}
    ).content.decode()
    assert "Hidden Co" in html and "Acme Supplies" not in html
    html = client.get(
        reverse("coupa:records", args=["supporting"]), {"type": "users"}
    ).content.decode()
    assert "jdoe" in html


def test_toggle_saves_at_once_and_is_audited(client_as, admin_user, organization, data) -> None:
    response = client_as(admin_user).post(
        reverse("coupa:toggle", args=["vendors", data["v1"].pk]),
        {"show_to_users": "0"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Hidden" in response.content.decode()
    data["v1"].refresh_from_db()
    assert data["v1"].show_to_users is False
    assert not pickable_list(organization=organization, kind="vendors").exists()
    assert AuditEvent.objects.filter(action="toggle", actor=admin_user).count() == 1


def test_bulk_hide_applies_to_the_current_filter_only(client_as, admin_user, data) -> None:
    client_as(admin_user).post(
        reverse("coupa:bulk_toggle", args=["accounts"]),
        {"show_to_users": "0", "chart": data["us"].pk, "confirm": "yes"},
    )
    hidden = set(Account.objects.filter(show_to_users=False).values_list("code", flat=True))
    assert hidden == {"100-200", "100-300"}


def test_bulk_hide_asks_first_naming_how_many_it_hides(client_as, admin_user, data) -> None:
    """Without the confirm field the page asks, naming the count, and changes nothing."""
    client = client_as(admin_user)
    url = reverse("coupa:bulk_toggle", args=["accounts"])
    fields = {"show_to_users": "0", "chart": data["us"].pk, "query": f"chart={data['us'].pk}"}
    response = client.post(url, fields)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hide 2 accounts from requesters?" in html
    assert 'name="confirm" value="yes"' in html and f'name="chart" value="{data["us"].pk}"' in html
    assert f'href="{reverse("coupa:records", args=["accounts"])}?chart={data["us"].pk}"' in html
    assert not Account.objects.filter(show_to_users=False).exists()
    assert not AuditEvent.objects.filter(action="toggle").exists()
    client.post(url, {**fields, "confirm": "yes"})
    assert Account.objects.filter(show_to_users=False).count() == 2


def test_ops_reads_tabs_but_cannot_toggle(client_as, ops_user, data) -> None:
    client = client_as(ops_user)
    assert client.get(reverse("coupa:records", args=["vendors"])).status_code == 200
    assert (
        client.post(
            reverse("coupa:toggle", args=["vendors", data["v1"].pk]), {"show_to_users": "0"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("coupa:bulk_toggle", args=["vendors"]), {"show_to_users": "0"}
        ).status_code
        == 403
    )
    assert (
        api_as(ops_user)
        .patch(f"/api/v1/coupa/vendors/{data['v1'].pk}", {"show_to_users": False}, format="json")
        .status_code
        == 403
    )
    data["v1"].refresh_from_db()
    assert data["v1"].show_to_users is True


def test_requesters_see_no_tabs_but_can_use_the_picker(client_as, requester_user, data) -> None:
    assert (
        client_as(requester_user).get(reverse("coupa:records", args=["vendors"])).status_code == 403
    )
    assert api_as(requester_user).get("/api/v1/coupa/vendors").status_code == 403
    body = api_as(requester_user).get("/api/v1/pickable/vendors", {"search": "acme"}).json()
    assert [v["name"] for v in body["results"]] == ["Acme Supplies"]


def test_tenants_never_see_each_others_records(client_as, admin_user, data, other_data) -> None:
    html = client_as(admin_user).get(reverse("coupa:records", args=["vendors"])).content.decode()
    assert "Globex Vendor" not in html
    other_vendor = Vendor.objects.get(connection=other_data)
    response = client_as(admin_user).post(
        reverse("coupa:toggle", args=["vendors", other_vendor.pk]), {"show_to_users": "0"}
    )
    assert response.status_code == 404
    assert (
        api_as(admin_user)
        .patch(f"/api/v1/coupa/vendors/{other_vendor.pk}", {"show_to_users": False}, format="json")
        .status_code
        == 404
    )
    other_vendor.refresh_from_db()
    assert other_vendor.show_to_users is True
    names = [
        v["name"] for v in api_as(admin_user).get("/api/v1/pickable/vendors").json()["results"]
    ]
    assert "Globex Vendor" not in names
    names = [v["name"] for v in api_as(admin_user).get("/api/v1/coupa/vendors").json()["results"]]
    assert "Globex Vendor" not in names


def test_api_lists_filters_and_bulk_toggles(admin_user, data) -> None:
    client = api_as(admin_user)
    body = client.get("/api/v1/coupa/accounts", {"active": "inactive"}).json()
    assert [a["code"] for a in body["results"]] == ["100-300"]
    assert body["results"][0]["offered"] == "Inactive in Coupa"
    changed = client.post(
        "/api/v1/coupa/items/bulk-visibility", {"show_to_users": False}, format="json"
    ).json()
    assert changed == {"changed": 1}
    assert client.get("/api/v1/coupa/users").json()["results"][0]["login"] == "jdoe"


def test_charts_slider_lists_active_charts_and_marks_dynamic(client_as, admin_user, data) -> None:
    html = client_as(admin_user).get(reverse("coupa:charts")).content.decode()
    assert "US COA" in html and "EU COA" in html
    assert "requesters will see only the accounts Coupa lists for them" in html
    data["eu"].active = False
    data["eu"].save()
    html = client_as(admin_user).get(reverse("coupa:charts")).content.decode()
    assert "EU COA" not in html


def test_sync_activity_lists_runs_of_the_organization_only(
    client_as, ops_user, data, other_data
) -> None:
    SyncRun.objects.create(
        connection=data["conn"],
        trigger="manual",
        state="failed",
        error="Coupa is unavailable; try again later.",
        counts={"vendors": {"created": 2}},
    )
    SyncRun.objects.create(connection=other_data, trigger="manual", state="succeeded")
    html = client_as(ops_user).get(reverse("integrations:sync_activity")).content.decode()
    assert "Coupa is unavailable; try again later." in html and "globex" not in html
    assert "vendors: 2 new" in html
    runs = api_as(ops_user).get("/api/v1/coupa/sync-runs").json()["results"]
    assert [r["host"] for r in runs] == ["acme.coupahost.com"]


def test_admin_flips_the_default_for_new_records(
    client_as, admin_user, ops_user, organization, data
) -> None:
    client_as(admin_user).post(
        reverse("integrations:default_visibility"), {"show_new_records_by_default": "0"}
    )
    organization.refresh_from_db()
    assert organization.show_new_records_by_default is False
    assert (
        client_as(ops_user)
        .post(reverse("integrations:default_visibility"), {"show_new_records_by_default": "1"})
        .status_code
        == 403
    )
    assert (
        api_as(ops_user)
        .patch("/api/v1/organization", {"show_new_records_by_default": True}, format="json")
        .status_code
        == 403
    )
    body = (
        api_as(admin_user)
        .patch("/api/v1/organization", {"show_new_records_by_default": True}, format="json")
        .json()
    )
    assert body["show_new_records_by_default"] is True
    assert api_as(ops_user).get("/api/v1/organization").json()["slug"] == "acme"


def test_only_admins_change_charts_and_requesters_cannot_sync(
    client_as, ops_user, requester_user, data
) -> None:
    response = client_as(ops_user).post(reverse("coupa:charts"), {"charts": [data["eu"].pk]})
    assert response.status_code == 403
    assert (
        api_as(ops_user)
        .put("/api/v1/coupa/charts", {"chart_ids": [data["eu"].pk]}, format="json")
        .status_code
        == 403
    )
    data["eu"].refresh_from_db()
    assert data["eu"].selected is False
    assert client_as(requester_user).post(reverse("coupa:sync")).status_code == 403
    assert api_as(requester_user).post("/api/v1/coupa/sync", {}, format="json").status_code == 403
    assert not SyncRun.objects.exists()


def test_sync_of_a_disconnected_connection_is_refused_with_a_sentence(
    client_as, ops_user, data
) -> None:
    data["conn"].state = Connection.State.DISCONNECTED
    data["conn"].save()
    response = client_as(ops_user).post(reverse("coupa:sync"), follow=True)
    assert b"disconnected" in response.content.lower()
    assert not SyncRun.objects.exists()
    body = api_as(ops_user).post("/api/v1/coupa/sync", {}, format="json")
    assert body.status_code == 400


def test_labels_agree_with_the_picker_for_an_inactive_chart(
    client_as, admin_user, organization, data
) -> None:
    data["us"].active = False
    data["us"].save()
    assert not pickable_list(organization=organization, kind="accounts").exists()
    body = api_as(admin_user).get("/api/v1/coupa/accounts", {"search": "100-200"}).json()
    assert body["results"][0]["offered"] == "Chart inactive in Coupa"


def test_page_and_api_refuse_the_same_chart_selections_with_the_same_sentence(
    client_as, admin_user, data, other_data
) -> None:
    """One validation (in the service): nothing chosen, another tenant's chart, an inactive one."""
    foreign = ChartOfAccounts.objects.create(
        connection=other_data, external_id=9, name="Globex", **stamp()
    )
    inactive = ChartOfAccounts.objects.create(
        connection=data["conn"], external_id=3, name="Old COA", active=False, **stamp()
    )
    page, api = client_as(admin_user), api_as(admin_user)
    for chosen, sentence in (
        ([], "Select at least one chart of accounts."),
        ([data["us"].pk, foreign.pk], f"no longer active in Coupa: {foreign.pk}."),
        ([inactive.pk], f"no longer active in Coupa: {inactive.pk}."),
    ):
        response = page.post(reverse("coupa:charts"), {"charts": chosen}, follow=True)
        assert sentence in response.content.decode()
        if chosen:
            answer = api.put("/api/v1/coupa/charts", {"chart_ids": chosen}, format="json")
            assert answer.status_code == 400 and sentence in answer.json()["chart_ids"][0]
    # Nothing changed: the US chart is still the only selected one.
    assert list(ChartOfAccounts.objects.filter(selected=True).values_list("pk", flat=True)) == [
        data["us"].pk
    ]


def test_a_tab_counts_matches_up_to_the_cap(client_as, admin_user, data, monkeypatch) -> None:
    """Beyond the cap the tab says "More than N" and pages stop there with a note; below it
    the count is exact. (A capped count reads at most N + 1 rows of a 200,000-row search.)"""
    from coupa.reference import selectors
    from coupa.web import views

    monkeypatch.setattr(selectors.CappedPaginator, "cap", 3)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for n in range(5):
        Item.objects.create(
            connection=data["conn"], external_id=100 + n, name=f"Chair {n}", **stamp()
        )
    client = client_as(admin_user)
    url = reverse("coupa:records", args=["items"])
    html = client.get(url, {"search": "chair"}).content.decode()
    assert "More than 3 match the filter" in html and "Page 1 of 2" in html
    assert 'data-testid="capped-note"' not in html
    last = client.get(url, {"search": "chair", "page": 2}).content.decode()
    assert "Only the first 3 matches are listed" in last
    assert "Chair 2" in last and "Chair 3" not in last  # the third match; never a fourth
    assert "1 match the filter" in client.get(url, {"search": "laptop"}).content.decode()

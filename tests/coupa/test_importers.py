"""Importers: upserts by (connection, Coupa id), counts, chart links, status mapping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coupa import types
from coupa.importers import ResourceCounts, deactivate_unseen, import_charts, import_records
from coupa.models import Account, ChartOfAccounts, CoupaUser, Currency, Vendor
from integrations.models import Connection

pytestmark = pytest.mark.django_db


def make_connection(org: Any, host: str = "acme.coupahost.com") -> Connection:
    return Connection.objects.create(
        organization=org, host=host, base_url=f"https://{host}", client_id="c",
        client_secret_encrypted="x", state=Connection.State.CONNECTED,
    )


@pytest.fixture
def connection(organization) -> Connection:
    return make_connection(organization)


def supplier(rid: int, **kw: Any) -> types.Supplier:
    data = {
        "id": rid, "name": f"Supplier {rid}", "status": "active", "number": f"S{rid}",
        "updated-at": "2026-01-02T03:04:05Z", **kw,
    }
    return types.Supplier.from_json(data)


def test_upsert_counts_created_updated_deactivated_and_unchanged(connection) -> None:
    counts = import_records(connection=connection, resource="vendors", records=[supplier(1), supplier(2), supplier(3)])
    assert counts == ResourceCounts(created=3)
    counts = import_records(
        connection=connection, resource="vendors",
        records=[supplier(1), supplier(2, name="Renamed"), supplier(3, status="inactive"), supplier(4)],
    )
    assert counts == ResourceCounts(created=1, updated=1, deactivated=1, unchanged=1)
    assert Vendor.objects.filter(connection=connection).count() == 4
    assert Vendor.objects.get(external_id=2).name == "Renamed"


def test_upsert_keeps_show_to_users_and_imported_at(connection) -> None:
    import_records(connection=connection, resource="vendors", records=[supplier(1)])
    row = Vendor.objects.get(external_id=1)
    row.show_to_users = False
    row.imported_at = timezone.now() - timedelta(days=3)
    row.save()
    import_records(connection=connection, resource="vendors", records=[supplier(1, name="New name")])
    again = Vendor.objects.get(external_id=1)
    assert again.name == "New name"
    assert again.show_to_users is False
    assert again.imported_at == row.imported_at


def test_new_records_follow_the_organization_default(connection, organization) -> None:
    organization.show_new_records_by_default = False
    organization.save()
    connection.refresh_from_db()
    import_records(connection=connection, resource="vendors", records=[supplier(9)])
    assert Vendor.objects.get(external_id=9).show_to_users is False


@pytest.mark.parametrize(("status", "active"), [("active", True), ("inactive", False), ("draft", False), ("", False)])
def test_vendor_active_follows_the_supplier_status(connection, status, active) -> None:
    import_records(connection=connection, resource="vendors", records=[supplier(5, status=status)])
    row = Vendor.objects.get(external_id=5)
    assert (row.active, row.status) == (active, status)


def test_vendor_keeps_primary_contact_email_and_payment_term(connection) -> None:
    record = supplier(
        6, **{"primary-contact": {"email": "ap@acme.test", "name-given": "A"},
              "payment-term": {"code": "Net 30"}, "custom-field-7": "ignored",
              "custom-fields": {"region": "EU"}, "unknown_key": 1}
    )
    import_records(connection=connection, resource="vendors", records=[record])
    row = Vendor.objects.get(external_id=6)
    assert (row.primary_contact_email, row.payment_term) == ("ap@acme.test", "Net 30")


def test_accounts_link_to_their_chart_by_coupa_id(connection) -> None:
    import_charts(connection=connection, records=[
        types.AccountType.from_json({"id": 10, "name": "US", "active": True, "currency": {"code": "USD"}}),
    ])
    chart = ChartOfAccounts.objects.get(connection=connection, external_id=10)
    accounts = [
        types.Account.from_json({"id": 1, "code": "A-1", "active": True, "account-type": {"id": 10},
                                 "segment-1": "A", "segment-2": "1"}),
        types.Account.from_json({"id": 2, "code": "B-1", "active": True, "account-type": {"id": 99}}),
    ]
    import_records(connection=connection, resource="accounts", records=accounts)
    assert Account.objects.get(external_id=1).chart == chart
    assert Account.objects.get(external_id=1).segments == ["A", "1"]
    orphan = Account.objects.get(external_id=2)
    assert orphan.chart is None and orphan.chart_external_id == 99


def test_import_charts_keeps_the_selection(connection) -> None:
    record = types.AccountType.from_json({"id": 3, "name": "EU", "active": True, "dynamic-flag": True})
    import_charts(connection=connection, records=[record])
    ChartOfAccounts.objects.filter(external_id=3).update(selected=True)
    counts = import_charts(connection=connection, records=[
        types.AccountType.from_json({"id": 3, "name": "EU (renamed)", "active": True, "dynamic-flag": True}),
    ])
    chart = ChartOfAccounts.objects.get(external_id=3)
    assert counts.updated == 1
    assert chart.selected and chart.dynamic and chart.name == "EU (renamed)"


def test_supporting_resources_map_their_active_flags(connection) -> None:
    import_records(connection=connection, resource="currencies", records=[
        types.Currency.from_json({"id": 1, "code": "USD", "enabled": True}),
        types.Currency.from_json({"id": 2, "code": "XXX", "enabled-flag": False}),
    ])
    assert set(Currency.objects.filter(active=True).values_list("code", flat=True)) == {"USD"}
    import_records(connection=connection, resource="users", records=[
        types.User.from_json({"id": 7, "login": "kyle", "email": "k@x.test", "active": False}),
    ])
    assert not CoupaUser.objects.get(external_id=7).active


def test_deactivate_unseen_only_touches_rows_not_marked(connection) -> None:
    import_records(connection=connection, resource="vendors", records=[supplier(1), supplier(2)])
    stamp = timezone.now()
    import_records(connection=connection, resource="vendors", records=[supplier(1)], mark_seen=True)
    assert deactivate_unseen(connection=connection, resource="vendors", before=stamp) == 1
    assert list(Vendor.objects.filter(active=True).values_list("external_id", flat=True)) == [1]


def test_importers_never_touch_another_connection(connection, other_organization) -> None:
    other = make_connection(other_organization, host="globex.coupahost.com")
    import_records(connection=other, resource="vendors", records=[supplier(1, name="Globex's")])
    import_records(connection=connection, resource="vendors", records=[supplier(1, name="Acme's")])
    stamp = timezone.now()
    deactivate_unseen(connection=connection, resource="vendors", before=stamp)
    assert Vendor.objects.get(connection=other).name == "Globex's"
    assert Vendor.objects.get(connection=other).active
    assert not Vendor.objects.get(connection=connection).active

"""Importers: upserts by (connection, Coupa id), counts, chart links, status mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from coupa.client import types
from coupa.models import Account, ChartOfAccounts, CoupaUser, Currency, Vendor
from coupa.reference.importers import (
    ResourceCounts,
    deactivate_unseen,
    import_charts,
    import_records,
)
from integrations.models import Connection
from tests.factories import ConnectionFactory

# Every test runs through both upserts: the portable one (any database) and PostgreSQL's
# one-statement upsert (tests marked postgres).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upsert_path")]


@pytest.fixture(params=["portable", pytest.param("postgres", marks=pytest.mark.postgres)])
def upsert_path(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.COUPA_SYNC_PORTABLE_UPSERT = request.param == "portable"
    return str(request.param)


def make_connection(org: Any, host: str = "acme.coupahost.com") -> Connection:
    return ConnectionFactory(organization=org, host=host)


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


# -- both upserts: same rows, same counts --------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def account(rid: int, chart: int | None, **kw: Any) -> types.Account:
    data = {"id": rid, "code": f"A-{rid}", "name": f"Account {rid}", "active": True,
            "updated-at": "2026-01-02T03:04:05Z", **kw}
    if chart is not None:
        data["account-type"] = {"id": chart}
    return types.Account.from_json(data)


def run_scenario(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> list[ResourceCounts]:
    """Import, then re-import with every kind of change; one tick of the clock per step."""
    steps = iter(range(100))
    monkeypatch.setattr(timezone, "now", lambda: T0 + timedelta(minutes=next(steps)))
    counts = [
        import_charts(connection=connection, records=[
            types.AccountType.from_json({"id": 10, "name": "US", "active": True}),
            types.AccountType.from_json({"id": 11, "name": "EU", "active": True}),
        ]),
        import_records(connection=connection, resource="vendors", records=[
            supplier(1), supplier(2), supplier(3), supplier(4, status="inactive"),
            supplier(5, **{"updated-at": None}),
            supplier(6, **{"updated-at": "2026-01-02T03:04:05"}),  # naive: taken as UTC
        ]),
        import_records(connection=connection, resource="accounts", records=[
            account(1, 10, **{"segment-1": "A", "segment-3": "C"}), account(2, 11), account(3, None),
        ]),
    ]
    ChartOfAccounts.objects.filter(connection=connection, external_id=10).update(selected=True)
    Vendor.objects.filter(connection=connection, external_id=2).update(show_to_users=False)
    counts += [
        import_records(connection=connection, resource="vendors", mark_seen=True, records=[
            supplier(1),  # unchanged: only synced_at moves (mark_seen)
            supplier(2, name="Renamed"),  # updated, keeps show_to_users and imported_at
            supplier(3, status="inactive"),  # deactivated
            supplier(4),  # reactivated: counts as updated
            supplier(5, **{"updated-at": None}),  # unchanged, NULL updated-at
            supplier(6, **{"updated-at": "2026-01-02T03:04:05Z"}),  # unchanged
            supplier(7, name="First"), supplier(7, name="Last"),  # new; the last wins
        ]),
        import_records(connection=connection, resource="vendors", records=[
            supplier(1),  # unchanged, not marked: synced_at stays
            supplier(5),  # updated: updated-at now set
        ]),
        import_records(connection=connection, resource="accounts", records=[
            account(1, 10, **{"segment-1": "A", "segment-3": "C"}),  # unchanged
            account(2, 10),  # moved to another chart
            account(3, None, **{"segment-1": "X"}),  # segments changed
        ]),
        import_charts(connection=connection, records=[
            types.AccountType.from_json({"id": 10, "name": "US", "active": True}),
            types.AccountType.from_json({"id": 11, "name": "EU", "active": False}),
        ]),
    ]
    return counts


def snapshot(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of the connection, without surrogate keys (charts by Coupa id)."""
    out: dict[str, list[dict[str, Any]]] = {}
    model: type[models.Model]
    for model in (ChartOfAccounts, Vendor, Account):
        rows = list(model._default_manager.filter(connection=connection).order_by("external_id").values())
        for row in rows:
            row.pop("id")
            row.pop("connection_id")
            if "chart_id" in row:
                row["chart_id"] = ChartOfAccounts.objects.get(pk=row["chart_id"]).external_id if row["chart_id"] else None
        out[model.__name__] = rows
    return out


def test_upsert_scenario_counts_and_rows(connection, monkeypatch) -> None:
    counts = run_scenario(connection, monkeypatch)
    assert counts == [
        ResourceCounts(created=2),
        ResourceCounts(created=6),
        ResourceCounts(created=3),
        ResourceCounts(created=1, updated=2, deactivated=1, unchanged=3),
        ResourceCounts(updated=1, unchanged=1),
        ResourceCounts(updated=2, unchanged=1),
        ResourceCounts(deactivated=1, unchanged=1),
    ]
    rows = snapshot(connection)
    vendors = {r["external_id"]: r for r in rows["Vendor"]}
    minute = timedelta(minutes=1)
    assert vendors[1]["synced_at"] == T0 + 3 * minute  # marked seen, then left alone
    assert vendors[2]["name"] == "Renamed" and vendors[2]["show_to_users"] is False
    assert vendors[2]["imported_at"] == T0 + minute and vendors[2]["synced_at"] == T0 + 3 * minute
    assert (vendors[3]["active"], vendors[4]["active"]) == (False, True)
    assert vendors[5]["coupa_updated_at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert vendors[5]["synced_at"] == T0 + 4 * minute
    assert vendors[6]["synced_at"] == T0 + 3 * minute
    assert (vendors[7]["name"], vendors[7]["imported_at"]) == ("Last", T0 + 3 * minute)
    accounts = {r["external_id"]: r for r in rows["Account"]}
    assert accounts[1]["segments"] == ["A", None, "C"] and accounts[1]["chart_id"] == 10
    assert accounts[1]["synced_at"] == T0 + 2 * minute
    assert (accounts[2]["chart_id"], accounts[3]["segments"]) == (10, ["X"])
    charts = {r["external_id"]: r for r in rows["ChartOfAccounts"]}
    assert charts[10]["selected"] and charts[10]["synced_at"] == T0
    assert not charts[11]["active"] and not charts[11]["selected"]


def test_each_upsert_writes_and_counts_like_the_portable_one(
    upsert_path, organization, other_organization, monkeypatch, settings
) -> None:
    results = []
    for org, host in ((organization, "a.coupahost.com"), (other_organization, "b.coupahost.com")):
        connection = make_connection(org, host)
        results.append((run_scenario(connection, monkeypatch), snapshot(connection)))
        settings.COUPA_SYNC_PORTABLE_UPSERT = True  # the second run: portable
    assert results[0] == results[1]

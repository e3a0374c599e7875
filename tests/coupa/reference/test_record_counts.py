"""The tabs' counts are kept between reads on PostgreSQL (coupa.reference.counts) and are
always what counting the rows gives: after imports, deactivations, chart changes, Show/Hide
of one record or of a filter, and a connection that stops offering records."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coupa.client import types
from coupa.models import ChartOfAccounts, Item, RecordCounts
from coupa.reference.counts import counts_stale
from coupa.reference.importers import deactivate_unseen, import_records
from coupa.reference.registry import PICKABLE
from coupa.reference.selectors import RecordFilter, _counts, record_counts
from coupa.reference.services import (
    charts_select,
    records_bulk_set_shown,
    records_set_shown,
)
from integrations.models import Connection
from tests.factories import (
    AccountFactory,
    ChartFactory,
    ConnectionFactory,
    ItemFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    db.vendor != "postgresql", reason="counts are kept on PostgreSQL only"
)


@pytest.fixture
def conn(organization) -> Connection:
    c = ConnectionFactory(organization=organization)
    chart = ChartFactory(connection=c, selected=True)
    ChartFactory(connection=c, selected=True, name="Second")
    AccountFactory.create_batch(3, connection=c, chart=chart)
    VendorFactory.create_batch(2, connection=c)
    ItemFactory.create_batch(4, connection=c)
    ItemFactory(connection=c, active=False)
    ItemFactory(connection=c, show_to_users=False)
    ItemFactory.create_batch(3, connection=ConnectionFactory())  # another tenant's
    return c


def counted(conn: Connection, kind: str) -> dict[str, int]:
    """What counting the rows gives."""
    return _counts(conn, kind)


def assert_right(conn: Connection) -> None:
    for kind in PICKABLE:
        assert record_counts(connection=conn, kind=kind) == counted(conn, kind), kind


def aggregates(ctx: CaptureQueriesContext) -> int:
    return sum(1 for q in ctx.captured_queries if "COUNT(" in q["sql"])


@postgres_only
def test_a_second_read_takes_the_kept_counts_without_counting(conn) -> None:
    assert record_counts(connection=conn, kind="items") == {
        "imported": 6,
        "active": 5,
        "offered": 4,
    }
    with CaptureQueriesContext(db) as ctx:
        again = record_counts(connection=conn, kind="items")
    assert again["offered"] == 4
    assert aggregates(ctx) == 0
    assert len(ctx.captured_queries) == 1


@postgres_only
def test_show_and_hide_of_one_record_adjust_the_kept_count(conn, admin_user) -> None:
    record_counts(connection=conn, kind="items")
    offered = Item.objects.filter(connection=conn, active=True, show_to_users=True).first()
    inactive = Item.objects.get(connection=conn, active=False)
    hidden = Item.objects.get(connection=conn, show_to_users=False)
    for ids, shown, expected in [
        ([offered.pk], False, 3),
        ([offered.pk], False, 3),  # no change: nothing to adjust
        ([inactive.pk], False, 3),  # never offered: hiding it changes no offered count
        ([inactive.pk], True, 3),
        ([hidden.pk, offered.pk], True, 5),
    ]:
        records_set_shown(connection=conn, user=admin_user, kind="items", ids=ids, shown=shown)
        with CaptureQueriesContext(db) as ctx:
            counts = record_counts(connection=conn, kind="items")
        assert aggregates(ctx) == 0  # adjusted, not counted again
        assert counts == counted(conn, "items") and counts["offered"] == expected


@postgres_only
def test_every_other_write_makes_the_counts_stale_and_the_next_read_counts(
    conn, admin_user
) -> None:
    assert_right(conn)
    now = timezone.now()
    record = types.Item(id=999_001, updated_at=now, raw={}, active=True, name="New")
    import_records(connection=conn, resource="items", records=[record])
    assert RecordCounts.objects.get(connection=conn, kind="items").valid is False
    assert record_counts(connection=conn, kind="items")["imported"] == 7
    assert_right(conn)

    deactivated = deactivate_unseen(
        connection=conn, resource="items", before=timezone.now() + timedelta(seconds=1)
    )
    assert deactivated == 6
    assert record_counts(connection=conn, kind="items") == counted(conn, "items")
    assert record_counts(connection=conn, kind="items")["offered"] == 0

    charts = sorted(ChartOfAccounts.objects.filter(connection=conn).values_list("pk", flat=True))
    charts_select(connection=conn, chart_ids=charts[1:], user=admin_user, enqueue=False)
    assert record_counts(connection=conn, kind="accounts") == counted(conn, "accounts")
    assert record_counts(connection=conn, kind="accounts")["offered"] == 0

    records_bulk_set_shown(
        connection=conn, user=admin_user, kind="vendors", filters=RecordFilter(), shown=False
    )
    assert record_counts(connection=conn, kind="vendors")["offered"] == 0
    assert_right(conn)

    # A record saved one at a time (the Django admin, a fixture) counts as well.
    VendorFactory(connection=conn)
    assert_right(conn)


@postgres_only
def test_a_connection_that_stops_offering_is_counted_again(conn) -> None:
    assert record_counts(connection=conn, kind="items")["offered"] == 4
    conn.state = Connection.State.DISCONNECTED
    conn.save(update_fields=["state"])
    assert record_counts(connection=conn, kind="items")["offered"] == 0
    conn.state = Connection.State.CONNECTED
    conn.save(update_fields=["state"])
    assert record_counts(connection=conn, kind="items")["offered"] == 4


@postgres_only
def test_counts_stay_right_through_a_random_mix_of_writes(conn, admin_user) -> None:
    rnd = random.Random(7)
    pks = list(Item.objects.filter(connection=conn).values_list("pk", flat=True))
    for step in range(60):
        action = rnd.choice(["toggle", "toggle", "import", "bulk", "read"])
        if action == "toggle":
            ids = rnd.sample(pks, rnd.randint(1, 3))
            records_set_shown(
                connection=conn, user=admin_user, kind="items", ids=ids, shown=rnd.random() < 0.5
            )
        elif action == "import":
            known = Item.objects.filter(pk__in=pks).values_list("external_id", flat=True)
            ext = rnd.choice([*known, 990_000 + step])
            record = types.Item(
                id=ext,
                updated_at=timezone.now(),
                raw={},
                active=rnd.random() < 0.7,
                name=f"n{step}",
            )
            import_records(connection=conn, resource="items", records=[record])
            pks = list(Item.objects.filter(connection=conn).values_list("pk", flat=True))
        elif action == "bulk":
            records_bulk_set_shown(
                connection=conn,
                user=admin_user,
                kind="items",
                filters=RecordFilter(search="1"),
                shown=rnd.random() < 0.5,
            )
        assert record_counts(connection=conn, kind="items") == counted(conn, "items"), step


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_read_while_a_write_holds_the_counts_counts_and_keeps_nothing(organization) -> None:
    conn = ConnectionFactory(organization=organization)
    ItemFactory.create_batch(3, connection=conn)
    assert record_counts(connection=conn, kind="items")["imported"] == 3
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                counts_stale(connection_id=conn.pk, resources=["items"])
                holding.set()
                release.wait(10)
                ItemFactory(connection=conn)  # committed with the stale mark
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        # The row is locked: the read counts (the writer's item is not committed yet)
        # and neither waits for the writer nor keeps its count.
        assert record_counts(connection=conn, kind="items")["imported"] == 3
    finally:
        release.set()
        thread.join()
    assert record_counts(connection=conn, kind="items")["imported"] == 4
    assert RecordCounts.objects.get(connection=conn, kind="items").valid is True


def test_where_counts_are_not_kept_every_read_counts(conn, admin_user, monkeypatch) -> None:
    """SQLite keeps no counts; on PostgreSQL the same path is taken with keeping off."""
    from coupa.reference import counts

    if db.vendor == "postgresql":
        monkeypatch.setattr(counts, "_kept", lambda: False)
    assert_right(conn)
    offered = Item.objects.filter(connection=conn, active=True, show_to_users=True).first()
    records_set_shown(connection=conn, user=admin_user, kind="items", ids=[offered.pk], shown=False)
    assert record_counts(connection=conn, kind="items")["offered"] == 3
    assert not RecordCounts.objects.filter(valid=True).exists()  # counted, never kept

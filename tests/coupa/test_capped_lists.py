"""The record lists and pickers of the API count their matches up to a cap, as the tabs
do, and the tab counts read the records' table alone: a 200,000-item catalog is listed
from the rows of a page (docs/benchmarks.md, case 7)."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from coupa.reference import selectors
from coupa.reference.selectors import RecordFilter, record_counts, record_list
from tests.factories import ConnectionFactory, ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chairs(organization, monkeypatch):
    monkeypatch.setattr(selectors.CappedPaginator, "cap", 3)
    monkeypatch.setattr(selectors.PickerPaginator, "cap", 3)
    connection = ConnectionFactory(organization=organization)
    ItemFactory.create_batch(5, connection=connection, name="Chair")
    ItemFactory(connection=connection, name="Laptop")
    return connection


@pytest.mark.parametrize(
    "url", ["/api/v1/coupa/items", "/api/v1/pickable/items", "/api/v1/pickers/items"]
)
def test_beyond_the_cap_count_stops_there_and_says_so(chairs, admin_user, url) -> None:
    api = APIClient()
    api.force_authenticate(admin_user)
    page = api.get(url, {"search": "chair"}).json()
    assert (page["count"], page["count_capped"], page["next"]) == (3, True, None)
    assert len(page["results"]) == 3  # the first three matches, never a fourth
    exact = api.get(url, {"search": "laptop"}).json()
    assert (exact["count"], exact["count_capped"], len(exact["results"])) == (1, False, 1)


def test_the_schema_documents_the_capped_count(admin_user) -> None:
    api = APIClient()
    api.force_authenticate(admin_user)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    picker = schema["components"]["schemas"]["PaginatedPickerList"]
    assert "count_capped" in picker["required"]
    assert "100." in picker["properties"]["count"]["description"]
    records = [
        v
        for k, v in schema["components"]["schemas"].items()
        if k.startswith("Paginated")
        and k != "PaginatedPickerList"
        and "count_capped" in v["properties"]
    ]
    assert records and all("1,000" in v["properties"]["count"]["description"] for v in records)


def test_the_form_pickers_count_to_a_lower_cap_than_the_lists(organization, admin_user) -> None:
    """A picker shows a first page as the requester types; its count stops at 100, the
    lists' at 1,000 (a count reads as many matching rows as it counts)."""
    connection = ConnectionFactory(organization=organization)
    ItemFactory.create_batch(selectors.PICKER_COUNT_CAP + 5, connection=connection, name="Desk")
    api = APIClient()
    api.force_authenticate(admin_user)
    picker = api.get("/api/v1/pickers/items", {"search": "desk"}).json()
    assert (picker["count"], picker["count_capped"]) == (selectors.PICKER_COUNT_CAP, True)
    listed = api.get("/api/v1/pickable/items", {"search": "desk"}).json()
    assert (listed["count"], listed["count_capped"]) == (selectors.PICKER_COUNT_CAP + 5, False)


def test_the_tab_counts_read_the_records_table_alone(chairs) -> None:
    """The connection's part of the offered rule is decided from the connection in hand,
    not joined into each of its records' rows."""
    with CaptureQueriesContext(db) as queries:
        counts = record_counts(connection=chairs, kind="items")
    assert counts == {"imported": 6, "active": 6, "offered": 6}
    # One count (on PostgreSQL also the reads and the write of the kept counts).
    [count] = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert "integrations_connection" not in count


@pytest.mark.parametrize("search", ["chair", "CHAIR ", "cha", "ch", ""])
def test_a_tab_counts_a_search_through_the_trigram_indexes_to_the_same_figures(
    chairs, search
) -> None:
    """From three characters on, a tab's capped count is planned onto the trigram indexes
    (on PostgreSQL): the count and whether it is capped are what scanning rows gives."""
    rows = record_list(
        organization=chairs.organization,
        connection=chairs,
        kind="items",
        filters=RecordFilter(search=search),
    )
    scanned = selectors.CappedPaginator(rows, 2)
    indexed = selectors.CappedPaginator(rows, 2, search=search)
    assert (indexed.count, indexed.capped) == (scanned.count, scanned.capped)
    assert indexed.count == (3 if "ch" in search.lower() or not search else 0)


@pytest.mark.skipif(db.vendor != "postgresql", reason="planner settings are PostgreSQL's")
def test_the_planner_settings_of_a_count_by_index_end_with_it(chairs) -> None:
    """The count's settings are SET LOCAL: they are restored within an enclosing
    transaction, and the queries after the count are planned as before."""
    rows = record_list(
        organization=chairs.organization,
        connection=chairs,
        kind="items",
        filters=RecordFilter(search="chair"),
    )
    with transaction.atomic(), db.cursor() as cursor:
        assert selectors.CappedPaginator(rows, 2, search="chair").count == 3
        cursor.execute(
            "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')"
        )
        assert cursor.fetchone() == ("on", "on")


def test_only_lists_with_trigram_indexes_count_by_index(chairs) -> None:
    """Supporting data (users here) has no trigram indexes: its count keeps the plan the
    planner chooses."""
    for kind, expected in [("users", 0), ("items", 1 if db.vendor == "postgresql" else 0)]:
        rows = record_list(
            organization=chairs.organization,
            connection=chairs,
            kind=kind,
            filters=RecordFilter(search="chair"),
        )
        with CaptureQueriesContext(db) as queries:
            selectors.CappedPaginator(rows, 2, search="chair").count  # noqa: B018
        planned = [
            q for q in queries.captured_queries if "set_config('enable_seqscan', 'off'" in q["sql"]
        ]
        assert len(planned) == expected, kind

"""After an import rewrote much of a table, PostgreSQL's statistics are read again at once,
so the tabs' searches are planned for the rows that are there (docs/benchmarks.md, case 7)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db
from django.db import transaction

from coupa.reference.importers import commit_without_flush, refresh_statistics
from tests.factories import ConnectionFactory, ItemFactory

pytestmark = pytest.mark.django_db


def _estimated_rows(table: str) -> float:
    with db.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return float(cursor.fetchone()[0])


def test_a_small_change_leaves_the_statistics_to_autovacuum(settings: Any) -> None:
    settings.COUPA_ANALYZE_AFTER_ROWS = 100
    assert not refresh_statistics(resource="items", counts={"created": 60, "updated": 39})
    assert not refresh_statistics(resource="items", counts=None)


@pytest.mark.postgres
def test_a_large_import_has_postgres_analyze_the_table(settings: Any) -> None:
    settings.COUPA_ANALYZE_AFTER_ROWS = 40
    connection = ConnectionFactory()
    ItemFactory.create_batch(50, connection=connection)
    before = _estimated_rows("coupa_item")
    assert refresh_statistics(resource="items", counts={"created": 30, "deactivated": 10})
    assert before < 50 <= _estimated_rows("coupa_item")


def test_other_databases_have_nothing_to_refresh(settings: Any) -> None:
    settings.COUPA_ANALYZE_AFTER_ROWS = 1
    ran = refresh_statistics(resource="items", counts={"created": 5})
    assert ran == (db.vendor == "postgresql")


def test_a_long_import_refreshes_them_each_time_its_rows_double(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only at the end: until the first refresh, each batch's lookups of existing rows
    may scan all of the new connection's rows (quadratic in the import's size)."""
    from coupa.reference import walk as walk_module
    from coupa.reference.importers import ResourceCounts

    settings.COUPA_ANALYZE_AFTER_ROWS = 2000
    seen: list[int] = []

    def recorded(*, resource: str, counts: dict[str, int]) -> bool:
        seen.append(counts["created"] + counts["updated"])
        return True

    monkeypatch.setattr(walk_module, "refresh_statistics", recorded)
    walk = walk_module._Walk(None, "", None, None, None, None)  # type: ignore[arg-type]
    for _ in range(10):
        walk.add_counts("items", ResourceCounts(created=700, updated=300))
    assert seen == [2000, 4000, 8000]


def _synchronous_commit() -> str:
    with db.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_batch_commits_without_waiting_for_the_disk_and_only_it() -> None:
    before = _synchronous_commit()
    with transaction.atomic():
        commit_without_flush(resource="items")
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == before != "off"
    commit_without_flush(resource="items")  # outside a transaction: nothing to relax
    assert _synchronous_commit() == before


def _all_visible_pages(table: str) -> int:
    with db.cursor() as cursor:
        cursor.execute("SELECT relallvisible FROM pg_class WHERE relname = %s", [table])
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_end_of_a_large_import_vacuums_the_table(settings: Any) -> None:
    """Pages marked all-visible: the tabs' counts read the index alone from the start."""
    settings.COUPA_ANALYZE_AFTER_ROWS = 40
    ItemFactory.create_batch(300, connection=ConnectionFactory())
    assert _all_visible_pages("coupa_item") == 0
    with transaction.atomic():  # VACUUM cannot run in a transaction: ANALYZE there
        assert refresh_statistics(resource="items", counts={"created": 300}, vacuum=True)
    assert _all_visible_pages("coupa_item") == 0
    assert refresh_statistics(resource="items", counts={"created": 300}, vacuum=True)
    assert _all_visible_pages("coupa_item") > 0


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_a_sync_settles_each_resource_it_walked(
    organization: Any,
    admin_user: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coupa.reference import walk as walk_module
    from coupa.sandbox.testing import running_sandbox
    from tests.coupa.support import connect_sandbox, run_sync

    settled: list[tuple[str, int, bool]] = []

    def recorded(*, resource: str, counts: dict[str, int], vacuum: bool = False) -> bool:
        settled.append((resource, counts.get("created", 0), vacuum))
        return False

    monkeypatch.setattr(walk_module, "refresh_statistics", recorded)
    with running_sandbox(rate=0, accounts=20, suppliers=70, items=120) as sandbox:
        conn = connect_sandbox(
            organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings
        )
        settled.clear()
        run_sync(conn)
    ends = {r: n for r, n, vacuum in settled if vacuum}
    assert ends["vendors"] > 0 and ends["items"] > 0  # their active records, all created
    assert len(ends) == len([r for r, _, vacuum in settled if vacuum])  # once per resource

"""Request counts of whole syncs on every id layout, from the sandbox's statistics.

The sandbox serves the same data with dense, sparse (gaps of ~100,000) or clustered ids,
and can make filters selective (30 charts of which 2 are imported, items mostly
inactive). The sync walks with the production concurrency; for each resource the
successful requests stay within 1.25 x ceil(records / 50) + 2, an unchanged instance
costs at most 2 requests per resource (charts and currencies included), and what is
imported equals the sandbox's active set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db

from coupa.models import Account, Item, Vendor
from coupa.reference.services import charts_select
from coupa.reference.walk import sync_run_execute
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from integrations.models import Connection, SyncRun
from tests.coupa.conftest import FakeLimiter
from tests.coupa.support import (
    SANDBOX_NAMES,
    api_requests,
    connect_sandbox,
    load_charts,
    run_sync,
    stored_ids,
)

# Transactional: the paging threads use connections of their own.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]

WORKERS = 8
SIZES = {"accounts": 1_500, "suppliers": 1_100, "items": 2_600, "users": 30, "addresses": 12}
LAYOUTS = {
    "dense": {},
    "sparse": {"id_layout": "sparse"},
    "clustered": {"id_layout": "clustered"},
    # 30 charts of which the test imports 2; 95% of items inactive; half the accounts.
    "selective": {
        "id_layout": "dense",
        "account_types": 30,
        "accounts": 6_000,
        "inactive_share": "items=0.95,accounts=0.5",
    },
}
CHARTS_IMPORTED = {"selective": 2}


def goal(records: int) -> float:
    return 1.25 * math.ceil(records / 50) + 2


@pytest.fixture(scope="module", params=list(LAYOUTS))
def layout_sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[str, SandboxHandle]]:
    options = {**SIZES, **LAYOUTS[request.param]}
    with running_sandbox(rate=0, **options) as handle:
        yield request.param, handle


@pytest.fixture
def layout(layout_sandbox: tuple[str, SandboxHandle]) -> tuple[str, SandboxHandle]:
    name, sandbox = layout_sandbox
    sandbox.reset(tokens=True)
    return name, sandbox


@pytest.fixture
def concurrent(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.COUPA_PAGE_CONCURRENCY = WORKERS
    if db.vendor == "sqlite" and not settings.REDIS_URL:
        # The in-memory SQLite test database refuses the database limiter's writes from
        # the paging threads ("table is locked"); the sandbox has no rate limit here.
        monkeypatch.setattr("coupa.client.base.shared_limiter", lambda *a, **k: FakeLimiter())
    settings.COUPA_RETRY_ATTEMPTS = 2
    settings.COUPA_BACKOFF_BASE = 0.01
    settings.COUPA_BACKOFF_MAX = 0.02


def _import(
    name: str,
    sandbox: SandboxHandle,
    organization: Any,
    admin_user: Any,
    settings: Any,
    capture: Any,
) -> tuple[Connection, set[int], SyncRun]:
    connection = connect_sandbox(organization, admin_user, sandbox, capture, settings)
    charts = load_charts(connection)[: CHARTS_IMPORTED.get(name, len(load_charts(connection)))]
    sandbox.reset_stats()
    run = charts_select(
        connection=connection, chart_ids=[c.pk for c in charts], user=admin_user, enqueue=False
    )
    assert run is not None
    run = sync_run_execute(sync_run_id=run.pk)
    assert run is not None and run.state == SyncRun.State.SUCCEEDED, run and run.error
    return connection, {c.external_id for c in charts}, run


def _active_accounts(sandbox: SandboxHandle, charts: set[int]) -> set[int]:
    return {
        r["id"]
        for r in sandbox.records("accounts", active_only=True)
        if r["account-type"]["id"] in charts
    }


def test_first_import_costs_about_the_minimal_pages_on_every_layout(
    layout, organization, admin_user, settings, concurrent, django_capture_on_commit_callbacks
) -> None:
    name, sandbox = layout
    connection, charts, _run = _import(
        name, sandbox, organization, admin_user, settings, django_capture_on_commit_callbacks
    )
    per_resource = api_requests(sandbox.stats())
    accounts = _active_accounts(sandbox, charts)
    expected = {
        "accounts": len(accounts),
        "suppliers": sandbox.count("suppliers", active_only=True),
        "items": sandbox.count("items", active_only=True),
    }
    for path, records in expected.items():
        assert per_resource[path] <= goal(records), (name, path, records, per_resource[path])
    # Every small resource too (charts, users, currencies, …).
    for resource, path in SANDBOX_NAMES.items():
        if path not in expected:
            records = sandbox.count(path, active_only=True)
            assert per_resource[path] <= goal(records), (name, resource, per_resource[path])
    assert stored_ids(Account, connection, chart__selected=True) == accounts
    assert stored_ids(Vendor, connection) == set(sandbox.ids("suppliers", active_only=True))
    assert stored_ids(Item, connection) == set(sandbox.ids("items", active_only=True))


def test_unchanged_and_one_percent_changed_syncs_cost_little_on_every_layout(
    layout, organization, admin_user, settings, concurrent, django_capture_on_commit_callbacks
) -> None:
    name, sandbox = layout
    connection, _charts, _run = _import(
        name, sandbox, organization, admin_user, settings, django_capture_on_commit_callbacks
    )
    sandbox.reset_stats()
    run = run_sync(connection, trigger=SyncRun.Trigger.HOURLY)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    per_resource = api_requests(sandbox.stats())
    assert set(per_resource) == set(SANDBOX_NAMES.values())
    assert max(per_resource.values()) <= 2, (name, per_resource)

    # 1% of the items change (scattered over the id range): an updated-at window.
    changed = sandbox.touch("items", share=0.01)
    sandbox.reset_stats()
    run = run_sync(connection, trigger=SyncRun.Trigger.HOURLY)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert api_requests(sandbox.stats())["items"] <= goal(len(changed)), name
    assert run.counts["items"]["updated"] + run.counts["items"]["deactivated"] <= len(changed)


def test_records_changing_during_the_walk_are_neither_lost_nor_doubled(
    layout, organization, admin_user, settings, concurrent, django_capture_on_commit_callbacks
) -> None:
    """Mid-walk (after the first batch of items): items deactivated, renamed and created.

    The import stores each record once; one incremental sync later the product holds
    exactly the sandbox's active set.
    """
    name, sandbox = layout
    settings.COUPA_SYNC_FLUSH_RECORDS = 100  # a batch, and so a progress call, every 2 pages
    connection = connect_sandbox(
        organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings
    )
    charts = load_charts(connection)[: CHARTS_IMPORTED.get(name, 4)]
    items = sorted(sandbox.ids("items", active_only=True))
    changed: dict[str, list[int]] = {}

    def change_mid_walk(progress: dict[str, Any]) -> None:
        if progress["resource"] == "items" and progress["records"] and not changed:
            changed["gone"] = items[5::40]
            sandbox.deactivate("items", *changed["gone"])
            changed["renamed"] = items[7::40]
            for rid in changed["renamed"]:
                sandbox.rename("items", rid, f"Renamed {rid}")
            changed["new"] = sandbox.add("items", 30)

    run = charts_select(
        connection=connection, chart_ids=[c.pk for c in charts], user=admin_user, enqueue=False
    )
    assert run is not None
    run = sync_run_execute(sync_run_id=run.pk, on_progress=change_mid_walk)
    assert run is not None and run.state == SyncRun.State.SUCCEEDED, run and run.error
    assert changed, "the walk ended before the changes were made"
    stored = list(Item.objects.filter(connection=connection).values_list("external_id", flat=True))
    assert len(stored) == len(set(stored)) == run.counts["items"]["created"]
    # Records untouched during the walk are all there.
    untouched = set(items) - set(changed["gone"]) - set(changed["renamed"])
    assert untouched <= set(stored)

    run = run_sync(connection)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert stored_ids(Item, connection) == set(sandbox.ids("items", active_only=True))
    renamed = Item.objects.filter(connection=connection, external_id__in=changed["renamed"])
    assert {i.name for i in renamed} == {f"Renamed {i.external_id}" for i in renamed}
    assert set(changed["new"]) <= stored_ids(Item, connection, active_only=False)

"""The sync engine end to end against the Coupa sandbox over HTTP."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coupa.connections.services import coupa_validate
from coupa.models import Account, ChartOfAccounts, CoupaUser, Currency, Item, Vendor
from coupa.reference.services import charts_select
from coupa.reference.sync import (
    STALE_MESSAGE,
    SyncRequestError,
    sync_cancel,
    sync_request,
    sync_run_live,
)
from coupa.reference.walk import sync_run_execute
from coupa.sandbox.testing import SandboxHandle
from coupa.tasks import reference_reconcile_all_task, reference_sync_all_task
from integrations.models import Connection, SyncRun, SyncWatermark
from spendflo.audit.models import AuditEvent
from tests.coupa.support import (
    SANDBOX_NAMES,
    api_requests,
    connect_sandbox,
    load_charts,
    run_sync,
    sandbox_fixtures,
    stored_ids,
)

# Not transactional: the walks are sequential, so all database work happens on the test's
# connection (except the Postgres limiter's without Redis); what services enqueue on
# commit runs where a test captures it.
pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]

SIZES = {"accounts": 160, "suppliers": 120, "items": 140, "users": 20, "addresses": 12}
MODELS = {
    "vendors": Vendor, "items": Item, "users": CoupaUser, "currencies": Currency,
}


_sandbox_process, sandbox = sandbox_fixtures(**SIZES)


@pytest.fixture
def fast(settings: Any) -> None:
    settings.COUPA_RETRY_ATTEMPTS = 2
    settings.COUPA_RETRY_DEADLINE = 2.0
    settings.COUPA_BACKOFF_BASE = 0.01
    settings.COUPA_BACKOFF_MAX = 0.02


@pytest.fixture
def connection(organization, admin_user, sandbox, settings, fast, django_capture_on_commit_callbacks) -> Connection:
    return connect_sandbox(organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings)


def account_ids_of(sandbox: SandboxHandle, chart_ids: set[int]) -> set[int]:
    """The sandbox's active accounts of the given charts (from its own records)."""
    return {
        r["id"] for r in sandbox.records("accounts", active_only=True)
        if r["account-type"]["id"] in chart_ids
    }


def first_import(connection: Connection, admin_user: Any, n_charts: int = 2) -> tuple[SyncRun, list[ChartOfAccounts]]:
    charts = load_charts(connection)[:n_charts]
    run = charts_select(connection=connection, chart_ids=[c.pk for c in charts], user=admin_user, enqueue=False)
    assert run is not None and run.trigger == SyncRun.Trigger.INITIAL
    result = sync_run_execute(sync_run_id=run.pk)
    assert result is not None
    return result, charts


def assert_matches_sandbox(connection: Connection, sandbox: SandboxHandle, charts: list[ChartOfAccounts]) -> None:
    for name, model in MODELS.items():
        assert stored_ids(model, connection) == set(sandbox.ids(SANDBOX_NAMES[name], active_only=True)), name
    expected = account_ids_of(sandbox, {c.external_id for c in charts})
    assert stored_ids(Account, connection, chart__selected=True) == expected


def test_first_import_equals_the_sandbox_active_sets(connection, admin_user, sandbox) -> None:
    run, charts = first_import(connection, admin_user)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert_matches_sandbox(connection, sandbox, charts)
    # The first import reads active records only: nothing inactive is stored.
    assert not Vendor.objects.filter(connection=connection, active=False).exists()
    assert run.counts["vendors"]["created"] == sandbox.count("suppliers", active_only=True)
    assert run.progress["done"][-1] == "departments"
    assert run.requests > 0
    # Accounts link to their chart row; new records are shown by default.
    assert not Account.objects.filter(connection=connection, chart__isnull=True).exists()
    assert not Vendor.objects.filter(connection=connection, show_to_users=False).exists()
    marks = set(SyncWatermark.objects.filter(connection=connection).values_list("resource", flat=True))
    assert {"vendors", "items", "charts"} | {f"accounts:{c.external_id}" for c in charts} <= marks


def test_incremental_sync_applies_exactly_the_mutations(connection, admin_user, sandbox) -> None:
    _, charts = first_import(connection, admin_user)
    vendors = sorted(sandbox.ids("suppliers", active_only=True))
    items = sorted(sandbox.ids("items", active_only=True))
    hidden = Vendor.objects.get(connection=connection, external_id=vendors[0])
    hidden.show_to_users = False
    hidden.save(update_fields=["show_to_users"])
    imported_at = hidden.imported_at

    sandbox.rename("suppliers", vendors[0], "Renamed Supplier Ltd")
    sandbox.deactivate("suppliers", vendors[1], vendors[2])
    sandbox.deactivate("items", items[0])
    sandbox.rename("items", items[1], "Renamed item")
    new_vendors = sandbox.add("suppliers", 2)
    chart = charts[0].external_id
    new_accounts = sandbox.add("accounts", 3, account_type_id=chart)

    run = run_sync(connection)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.counts["vendors"] == {"created": 2, "updated": 1, "deactivated": 2, "unchanged": 0}
    assert run.counts["items"] == {"created": 0, "updated": 1, "deactivated": 1, "unchanged": 0}
    assert run.counts["accounts"]["created"] == 3
    assert run.counts["users"] == {"created": 0, "updated": 0, "deactivated": 0, "unchanged": 0}
    hidden.refresh_from_db()
    assert hidden.name == "Renamed Supplier Ltd"
    assert hidden.show_to_users is False  # the admin's choice survives
    assert hidden.imported_at == imported_at
    # New records arrive whatever their status (the generator makes some inactive).
    assert set(new_vendors) <= stored_ids(Vendor, connection, active_only=False)
    assert set(new_accounts) <= stored_ids(Account, connection, active_only=False)
    assert_matches_sandbox(connection, sandbox, charts)

    # Reactivation arrives too, and the deactivated rows were kept, never deleted.
    sandbox.reactivate("suppliers", vendors[1])
    run = run_sync(connection)
    assert run.counts["vendors"]["updated"] == 1
    assert Vendor.objects.get(connection=connection, external_id=vendors[1]).active
    assert Vendor.objects.filter(connection=connection, external_id=vendors[2], active=False).exists()
    assert_matches_sandbox(connection, sandbox, charts)


def test_unchanged_instance_costs_at_most_two_requests_per_resource(connection, admin_user, sandbox) -> None:
    first_import(connection, admin_user)
    sandbox.reset_stats()
    run = run_sync(connection, trigger=SyncRun.Trigger.HOURLY)
    assert run.state == SyncRun.State.SUCCEEDED
    per_resource = api_requests(sandbox.stats())
    assert set(per_resource) == set(SANDBOX_NAMES.values())
    assert max(per_resource.values()) <= 2, per_resource
    assert all(c["created"] == c["updated"] == c["deactivated"] == 0 for c in run.counts.values())


def test_reconcile_marks_records_missing_from_the_active_set_inactive(connection, admin_user, sandbox) -> None:
    _, charts = first_import(connection, admin_user)
    vendors = sorted(sandbox.ids("suppliers", active_only=True))
    # A deactivation the incremental runs missed (for example older than the watermark).
    SyncWatermark.objects.filter(connection=connection, resource="vendors").update(
        watermark=timezone.now() + timedelta(days=1)
    )
    sandbox.deactivate("suppliers", vendors[5])
    assert run_sync(connection).counts["vendors"]["deactivated"] == 0
    run = run_sync(connection, trigger=SyncRun.Trigger.RECONCILE, full=True)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.counts["vendors"]["deactivated"] == 1
    assert not Vendor.objects.get(connection=connection, external_id=vendors[5]).active
    assert_matches_sandbox(connection, sandbox, charts)


def test_reconcile_task_runs_a_full_sync(
    connection, admin_user, sandbox, django_capture_on_commit_callbacks
) -> None:
    first_import(connection, admin_user)
    with django_capture_on_commit_callbacks(execute=True):  # the run is enqueued on commit
        assert reference_reconcile_all_task() == 1
    run = SyncRun.objects.filter(connection=connection).first()
    assert run.trigger == SyncRun.Trigger.RECONCILE and run.full
    assert run.state == SyncRun.State.SUCCEEDED, run.error


def test_failing_run_keeps_imported_rows_and_does_not_move_the_watermark(connection, admin_user, sandbox) -> None:
    first_import(connection, admin_user)
    before = {m.resource: m.watermark for m in SyncWatermark.objects.filter(connection=connection)}
    added = sandbox.add("suppliers", 1)
    sandbox.set_faults(error_503=1.0, apply_to=["/api/items"])
    run = run_sync(connection)
    assert run.state == SyncRun.State.FAILED
    assert run.error.startswith("The sync stopped while reading items")
    assert set(added) <= stored_ids(Vendor, connection)  # what was read is kept
    after = {m.resource: m.watermark for m in SyncWatermark.objects.filter(connection=connection)}
    assert after["items"] == before["items"]
    assert after["vendors"] > before["vendors"]  # completed walks keep their progress
    connection.refresh_from_db()
    assert connection.state == Connection.State.CONNECTED  # a transient failure needs no admin
    sandbox.clear_faults()
    new_items = sandbox.add("items", 2)
    run = run_sync(connection)
    assert run.state == SyncRun.State.SUCCEEDED
    assert set(new_items) <= stored_ids(Item, connection)


def test_removed_scope_puts_connection_in_needs_attention_and_hourly_skips_it(
    connection, admin_user, sandbox, django_capture_on_commit_callbacks
) -> None:
    first_import(connection, admin_user)
    sandbox.remove_scope(sandbox.client_id, "core.supplier.read")
    run = run_sync(connection)
    assert run.state == SyncRun.State.FAILED
    connection.refresh_from_db()
    assert connection.state == Connection.State.NEEDS_ATTENTION
    assert "core.supplier.read" in connection.state_reason
    assert run.error == connection.state_reason
    runs = SyncRun.objects.count()
    assert reference_sync_all_task() == 0
    assert SyncRun.objects.count() == runs
    with pytest.raises(SyncRequestError, match="needs attention"):
        sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, user=admin_user)
    assert AuditEvent.objects.filter(connection=connection, action="needs_attention").count() == 1

    # The admin fixes the client in Coupa and validates again: hourly syncs resume.
    sandbox.grant_scope(sandbox.client_id, "core.supplier.read")
    with django_capture_on_commit_callbacks(execute=True):  # validation runs on commit
        validation = coupa_validate(organization=connection.organization, user=admin_user)
    validation.refresh_from_db()
    assert validation.state == "succeeded"
    connection.refresh_from_db()
    assert connection.state == Connection.State.CONNECTED
    assert reference_sync_all_task() == 1


def test_second_request_attaches_to_the_live_run(connection, admin_user) -> None:
    first = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, user=admin_user, enqueue=False)
    second = sync_request(connection=connection, trigger=SyncRun.Trigger.HOURLY, enqueue=False)
    assert second.pk == first.pk
    assert sync_run_live(connection=connection).pk == first.pk
    assert SyncRun.objects.filter(connection=connection).count() == 1


def test_stale_run_is_failed_and_the_next_trigger_proceeds(connection, admin_user, settings) -> None:
    settings.COUPA_SYNC_STALE_AFTER = 30
    stuck = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, enqueue=False)
    SyncRun.objects.filter(pk=stuck.pk).update(
        state=SyncRun.State.RUNNING, lease_token="dead-worker",
        started_at=timezone.now() - timedelta(minutes=5),
        heartbeat_at=timezone.now() - timedelta(seconds=31),
    )
    assert sync_run_live(connection=connection) is None
    run = run_sync(connection)
    assert run.pk != stuck.pk
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    stuck.refresh_from_db()
    assert stuck.state == SyncRun.State.FAILED
    assert stuck.error == STALE_MESSAGE
    # A redelivered task for the dead run does nothing.
    assert sync_run_execute(sync_run_id=stuck.pk).state == SyncRun.State.FAILED


def test_cancel_stops_a_running_sync_and_keeps_what_it_wrote(connection, admin_user, sandbox, settings) -> None:
    settings.COUPA_SYNC_FLUSH_RECORDS = 1  # one batch per page
    run = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, enqueue=False)
    seen: list[dict[str, Any]] = []

    def progress(p: dict[str, Any]) -> None:
        seen.append(p)
        if p["resource"] == "items" and p["pages"] == 1:
            sync_cancel(run=run, user=admin_user)

    result = sync_run_execute(sync_run_id=run.pk, on_progress=progress)
    assert result.state == SyncRun.State.CANCELLED
    assert result.progress["resource"] == "items"
    assert "users" not in result.counts
    # The run stops at the next page: what it wrote stays, the rest is not read.
    assert Item.objects.filter(connection=connection).count() == 100
    assert sandbox.count("items", active_only=True) > 100
    assert not SyncWatermark.objects.filter(connection=connection, resource="items").exists()
    assert SyncWatermark.objects.filter(connection=connection, resource="vendors").exists()
    # A queued run is cancelled at once.
    queued = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, enqueue=False)
    assert sync_cancel(run=queued, user=admin_user).state == SyncRun.State.CANCELLED
    assert sync_run_execute(sync_run_id=queued.pk).state == SyncRun.State.CANCELLED


def test_deselect_and_reselect_keeps_accounts_and_their_choices(
    connection, admin_user, sandbox, django_capture_on_commit_callbacks
) -> None:
    _, charts = first_import(connection, admin_user)
    a, b = charts
    hidden = Account.objects.filter(connection=connection, chart=b).first()
    hidden.show_to_users = False
    hidden.save(update_fields=["show_to_users"])
    count_b = Account.objects.filter(connection=connection, chart=b).count()

    assert charts_select(connection=connection, chart_ids=[a.pk], user=admin_user) is None
    b.refresh_from_db()
    assert not b.selected
    assert Account.objects.filter(connection=connection, chart=b).count() == count_b
    run = run_sync(connection)  # syncs leave the deselected chart's accounts alone
    assert run.state == SyncRun.State.SUCCEEDED
    assert Account.objects.filter(connection=connection, chart=b, active=True).count() == count_b

    with django_capture_on_commit_callbacks(execute=True):
        run = charts_select(connection=connection, chart_ids=[a.pk, b.pk], user=admin_user)
    assert run is not None and run.trigger == SyncRun.Trigger.CHART_CHANGE
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, run.error  # eager Celery ran it on commit
    assert run.resources == ["accounts"]
    hidden.refresh_from_db()
    assert hidden.show_to_users is False
    assert Account.objects.filter(connection=connection, chart=b).count() == count_b
    assert_matches_sandbox(connection, sandbox, charts)


def test_sync_logs_and_errors_never_contain_the_secret_or_tokens(
    connection, admin_user, sandbox, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    first_import(connection, admin_user)
    sandbox.set_faults(error_503=1.0, apply_to=["/api/items"])
    failed = run_sync(connection)
    sandbox.clear_faults()
    sandbox.remove_scope(sandbox.client_id, "core.catalog.read")
    refused = run_sync(connection)
    text = caplog.text + failed.error + refused.error
    assert failed.error and refused.error
    assert sandbox.client_secret not in text
    assert "Bearer" not in text and "access_token" not in text


def test_a_chart_added_during_a_sync_is_imported_by_the_follow_up_run(
    connection, admin_user, sandbox, django_capture_on_commit_callbacks
) -> None:
    """Charts chosen while a sync runs are not lost: the run ends, then a follow-up imports them."""
    charts = load_charts(connection)
    first, added = charts[0], charts[1]
    live = charts_select(connection=connection, chart_ids=[first.pk], user=admin_user, enqueue=False)
    assert live is not None
    # While the initial run is still queued, the admin adds a second chart.
    assert charts_select(connection=connection, chart_ids=[first.pk, added.pk], user=admin_user).pk == live.pk
    with django_capture_on_commit_callbacks(execute=True):
        sync_run_execute(sync_run_id=live.pk)  # its follow-up is enqueued and (eagerly) run
    follow_up = SyncRun.objects.exclude(pk=live.pk).get()
    assert follow_up.trigger == SyncRun.Trigger.CHART_CHANGE
    assert follow_up.state == SyncRun.State.SUCCEEDED
    expected = account_ids_of(sandbox, {first.external_id, added.external_id})
    assert stored_ids(Account, connection) == expected

"""coupa_sync, coupa_charts and coupa_status against the sandbox; tenant isolation."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from coupa.models import ChartOfAccounts, Vendor
from coupa.reference.services import ChartSelectionError, charts_select
from coupa.reference.sync import sync_cancel, sync_request
from integrations.models import SyncRun
from tests.coupa.support import connect_sandbox, load_charts
from tests.factories import ConnectionFactory

# Not transactional: every walk here is sequential, so all database work happens on the
# test's connection, except the Postgres limiter's (helper thread, own connection; only
# without Redis), whose bucket rows simply outlive the test.
pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


@pytest.fixture
def connection(organization, admin_user, sandbox_allowed, settings, django_capture_on_commit_callbacks):
    return connect_sandbox(organization, admin_user, sandbox_allowed, django_capture_on_commit_callbacks, settings)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_charts_command_lists_and_selects_then_imports(connection, sandbox_allowed) -> None:
    charts = load_charts(connection)
    listing = run("coupa_charts", "--org", "acme")
    for chart in charts:
        assert chart.name in listing and str(chart.external_id) in listing
    out = run("coupa_charts", "--org", "acme", "--select", str(charts[0].external_id), charts[1].name)
    assert "Succeeded" in out
    assert set(ChartOfAccounts.objects.filter(selected=True).values_list("pk", flat=True)) == {
        charts[0].pk, charts[1].pk
    }
    with pytest.raises(CommandError, match="No active chart"):
        run("coupa_charts", "--org", "acme", "--select", "No such chart")


def test_sync_command_prints_counts_and_status_shows_them(connection, sandbox_allowed) -> None:
    load_charts(connection)
    out = run("coupa_sync", "--org", "acme", "--resources", "vendors,items")
    assert "Succeeded" in out and "vendors" in out
    active = len(sandbox_allowed.ids("suppliers", active_only=True))
    status = json.loads(run("coupa_status", "--org", "acme", "--json"))
    assert status["resources"]["vendors"] == {"imported": active, "active": active, "shown": active}
    assert status["last_runs"][0]["state"] == "succeeded"
    assert "Last syncs:" in run("coupa_status", "--org", "acme")
    with pytest.raises(CommandError, match="Unknown resource"):
        run("coupa_sync", "--org", "acme", "--resources", "planets")


def test_sync_command_fails_with_the_reason(connection, sandbox_allowed) -> None:
    sandbox_allowed.set_faults(error_503=1.0, apply_to=["/api/suppliers"])
    try:
        with pytest.raises(CommandError, match="reading suppliers"):
            run("coupa_sync", "--org", "acme", "--resources", "vendors")
    finally:
        sandbox_allowed.clear_faults()
    assert "No sync is running." in run("coupa_sync", "--org", "acme", "--cancel")


def test_services_ignore_another_organizations_rows(connection, other_organization, admin_user) -> None:
    charts = load_charts(connection)
    other = ConnectionFactory(organization=other_organization, host="globex.coupahost.com")
    foreign = ChartOfAccounts.objects.create(
        connection=other, external_id=charts[0].external_id, name="Globex chart",
        imported_at=charts[0].imported_at, synced_at=charts[0].synced_at,
    )
    # Another connection's chart pk is refused and nothing changes; its rows are never
    # touched by a sync.
    with pytest.raises(ChartSelectionError, match=str(foreign.pk)):
        charts_select(connection=connection, chart_ids=[foreign.pk, charts[0].pk], user=admin_user, enqueue=False)
    foreign.refresh_from_db()
    assert not foreign.selected
    assert not ChartOfAccounts.objects.filter(connection=connection, selected=True).exists()
    run_ = charts_select(connection=connection, chart_ids=[charts[0].pk], user=admin_user, enqueue=False)
    assert run_ is not None
    from coupa.reference.walk import sync_run_execute

    sync_run_execute(sync_run_id=run_.pk)
    assert not Vendor.objects.filter(connection=other).exists()
    assert ChartOfAccounts.objects.get(pk=foreign.pk).name == "Globex chart"
    other_run = SyncRun.objects.create(connection=other, trigger=SyncRun.Trigger.MANUAL)
    sync_cancel(run=other_run, user=admin_user)  # by the service: cancels only that run
    assert sync_request(connection=connection, trigger="manual", enqueue=False).connection_id == connection.pk

"""charts_select: selection, audit, which sync it starts, follow-up while a run is live."""

from __future__ import annotations

import pytest
from django.utils import timezone

from coupa.models import ChartOfAccounts
from coupa.reference.services import charts_select
from integrations.models import Connection, SyncRun
from spendflo.audit.models import AuditEvent
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(organization) -> Connection:
    return ConnectionFactory(organization=organization, host="acme.coupahost.com")


@pytest.fixture
def charts(connection) -> list[ChartOfAccounts]:
    now = timezone.now()
    return [
        ChartOfAccounts.objects.create(
            connection=connection, external_id=i, name=f"Chart {i}", imported_at=now, synced_at=now
        )
        for i in (1, 2, 3)
    ]


def test_first_selection_starts_the_initial_sync_and_is_audited(connection, charts, admin_user) -> None:
    run = charts_select(connection=connection, chart_ids=[charts[0].pk, charts[1].pk], user=admin_user, enqueue=False)
    assert run is not None
    assert (run.trigger, run.resources, run.state) == (SyncRun.Trigger.INITIAL, [], SyncRun.State.QUEUED)
    assert set(ChartOfAccounts.objects.filter(selected=True).values_list("external_id", flat=True)) == {1, 2}
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHARTS_CHANGE)
    assert event.actor == admin_user and event.details["added"] == [1, 2]


def test_adding_a_chart_after_a_successful_sync_imports_accounts_only(connection, charts, admin_user) -> None:
    SyncRun.objects.create(connection=connection, trigger="initial", state=SyncRun.State.SUCCEEDED)
    charts_select(connection=connection, chart_ids=[charts[0].pk], user=admin_user, enqueue=False)
    SyncRun.objects.filter(state=SyncRun.State.QUEUED).update(state=SyncRun.State.SUCCEEDED)
    run = charts_select(connection=connection, chart_ids=[charts[0].pk, charts[2].pk], user=admin_user, enqueue=False)
    assert (run.trigger, run.resources) == (SyncRun.Trigger.CHART_CHANGE, ["accounts"])


def test_removing_charts_starts_no_sync(connection, charts, admin_user) -> None:
    ChartOfAccounts.objects.update(selected=True)
    assert charts_select(connection=connection, chart_ids=[charts[0].pk], user=admin_user) is None
    assert SyncRun.objects.count() == 0
    assert AuditEvent.objects.get().details["removed"] == [2, 3]


def test_selection_while_a_run_is_live_asks_it_for_a_follow_up(connection, charts, admin_user) -> None:
    live = SyncRun.objects.create(
        connection=connection, trigger="hourly", state=SyncRun.State.RUNNING, heartbeat_at=timezone.now()
    )
    run = charts_select(connection=connection, chart_ids=[charts[1].pk], user=admin_user, enqueue=False)
    assert run.pk == live.pk
    live.refresh_from_db()
    assert live.follow_up_resources == ["accounts"]


def test_selection_is_saved_even_when_the_connection_needs_attention(connection, charts, admin_user) -> None:
    Connection.objects.filter(pk=connection.pk).update(state=Connection.State.NEEDS_ATTENTION)
    connection.refresh_from_db()
    assert charts_select(connection=connection, chart_ids=[charts[0].pk], user=admin_user) is None
    assert ChartOfAccounts.objects.get(pk=charts[0].pk).selected

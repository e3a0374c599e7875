"""A sync under the client issue's fault mix, with concurrent paging, ends exactly right."""

from __future__ import annotations

import pytest
from django.db import connection

from coupa.models import Account, CoupaUser, Item, Vendor
from coupa.reference.services import charts_select
from coupa.reference.walk import sync_run_execute
from coupa.sandbox.testing import running_sandbox
from integrations.models import SyncRun
from tests.coupa.support import connect_sandbox, load_charts, run_sync, stored_ids

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]

FAULT_MIX = {"error_503": 0.05, "storm_429": 0.02, "reset": 0.01, "truncate": 0.01}
# Each kind once for sure, before the random mix takes over.
EACH_FAULT_ONCE = ["error_503", "storm_429", "reset", "incomplete", "truncate", "malformed"]


def test_sync_under_the_fault_mix_ends_with_exactly_the_active_set(
    organization, admin_user, settings, django_capture_on_commit_callbacks
) -> None:
    # Concurrent paging where the database takes concurrent writers; the in-memory
    # SQLite test database refuses the limiter's writes from paging threads at once
    # ("table is locked") instead of waiting, so it walks sequentially there.
    settings.COUPA_PAGE_CONCURRENCY = 4 if connection.vendor == "postgresql" else 1
    settings.COUPA_RETRY_ATTEMPTS = 10
    settings.COUPA_RETRY_DEADLINE = 60.0
    settings.COUPA_BACKOFF_BASE = 0.005
    settings.COUPA_BACKOFF_MAX = 0.02
    settings.COUPA_RATE_PENALTY_SECONDS = 0.5
    # Storms ask for a retry at once (Retry-After: 0): waiting out Retry-After is the
    # client tests' subject; here it would only make the test slow.
    with running_sandbox(
        rate=0, accounts=400, suppliers=700, items=900, storm_length=3, storm_retry_after=0
    ) as sandbox:
        conn = connect_sandbox(
            organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings
        )
        charts = load_charts(conn)
        sandbox.set_faults(**FAULT_MIX, next=EACH_FAULT_ONCE)
        run = charts_select(
            connection=conn, chart_ids=[c.pk for c in charts], user=admin_user, enqueue=False
        )
        assert run is not None
        run = sync_run_execute(sync_run_id=run.pk)
        assert run.state == SyncRun.State.SUCCEEDED, run.error
        assert run.retries >= len(EACH_FAULT_ONCE) + 2  # a storm is three requests
        # Mutations plus another faulty incremental run.
        sandbox.deactivate("suppliers", *sorted(sandbox.ids("suppliers", active_only=True))[:5])
        sandbox.add("items", 60)
        sandbox.set_faults(next=EACH_FAULT_ONCE)
        run = run_sync(conn)
        assert run.state == SyncRun.State.SUCCEEDED, run.error
        assert run.retries >= len(EACH_FAULT_ONCE) + 2
        assert set(sandbox.stats()["faults_injected"]) >= set(EACH_FAULT_ONCE)
        sandbox.clear_faults()
        for model, name in ((Vendor, "suppliers"), (Item, "items"), (CoupaUser, "users")):
            assert stored_ids(model, conn) == set(sandbox.ids(name, active_only=True)), name
            # No duplicates: one row per Coupa id.
            rows = model.objects.filter(connection=conn)
            assert rows.count() == rows.values("external_id").distinct().count()
        selected = {c.external_id for c in charts}
        assert stored_ids(Account, conn) == {
            r["id"] for r in sandbox.records("accounts", active_only=True)
            if r["account-type"]["id"] in selected
        }

"""Helpers shared by the sync tests (no tests here): a module's sandbox, connect it, run
syncs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coupa.client.connection import client_for
from coupa.connections.services import ConnectionInput, coupa_connect
from coupa.models import ChartOfAccounts
from coupa.reference.importers import import_charts
from coupa.reference.registry import RESOURCES
from coupa.reference.sync import sync_request
from coupa.reference.walk import charts_fetch_active, sync_run_execute
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from integrations.models import Connection, SyncRun

# Our resource name -> the sandbox's collection name.
SANDBOX_NAMES = {name: spec.path for name, spec in RESOURCES.items()}


def sandbox_fixtures(**options: Any) -> tuple[Any, Any]:
    """A module's sandbox fixtures, assigned as `_sandbox_process, sandbox = …`: one sandbox
    process per module, started with `options` (unthrottled unless they say otherwise), and
    `sandbox`, that process put back in its start-up state (data, clients, scopes, tokens,
    faults) before each test."""

    @pytest.fixture(scope="module", name="_sandbox_process")
    def process() -> Iterator[SandboxHandle]:
        with running_sandbox(**{"rate": 0, **options}) as handle:
            yield handle

    @pytest.fixture(name="sandbox")
    def sandbox(_sandbox_process: SandboxHandle) -> SandboxHandle:
        _sandbox_process.reset(tokens=True)
        return _sandbox_process

    return process, sandbox


def connect_sandbox(
    organization: Any, user: Any, sandbox: Any, capture: Any, settings: Any
) -> Connection:
    """Connect the organization to `sandbox` (validation runs eagerly) and lift its rate."""
    if sandbox.base_url not in settings.COUPA_ALLOWED_HOSTS:
        settings.COUPA_ALLOWED_HOSTS = [*settings.COUPA_ALLOWED_HOSTS, sandbox.base_url]
    data = ConnectionInput(
        domain=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret
    )
    with capture(execute=True):
        validation = coupa_connect(organization=organization, user=user, data=data)
    validation.refresh_from_db()
    assert validation.state == "succeeded", validation.error
    connection = validation.connection
    # The client-side limiter is not what these tests are about (rate 0 sandbox).
    connection.rate_limit = 5000.0
    connection.rate_burst = 500
    connection.save(update_fields=["rate_limit", "rate_burst"])
    return Connection.objects.select_related("organization").get(pk=connection.pk)


def load_charts(connection: Connection) -> list[ChartOfAccounts]:
    """Import the active charts as the validation step does; return them by Coupa id."""
    with client_for(connection) as client:
        import_charts(connection=connection, records=charts_fetch_active(client))
    return list(ChartOfAccounts.objects.filter(connection=connection).order_by("external_id"))


def run_sync(connection: Connection, **kw: Any) -> SyncRun:
    """Request a sync and execute it in-process; return the finished run."""
    kw.setdefault("trigger", SyncRun.Trigger.MANUAL)
    run = sync_request(connection=connection, enqueue=False, **kw)
    result = sync_run_execute(sync_run_id=run.pk)
    assert result is not None
    return result


def stored_ids(
    model: Any, connection: Connection, *, active_only: bool = True, **filters: Any
) -> set[int]:
    qs = model.objects.filter(connection=connection, **filters)
    if active_only:
        qs = qs.filter(active=True)
    return set(qs.values_list("external_id", flat=True))


def api_requests(stats: dict[str, Any]) -> dict[str, int]:
    """Requests per /api/ collection from sandbox stats (token calls excluded)."""
    out: dict[str, int] = {}
    for endpoint, n in stats["by_endpoint"].items():
        _method, _, path = endpoint.partition(" ")
        if path.startswith("/api/"):
            name = path[len("/api/") :].split("/")[0]
            out[name] = out.get(name, 0) + n
    return out

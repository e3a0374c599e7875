"""Reference data end to end in the browser: charts, tabs, Show to Users, Sync Data, progress."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from coupa.client.base import CoupaClient
from coupa.client.types import Account, ConnectionConfig
from coupa.reference.registry import RESOURCES

pytestmark = pytest.mark.sandbox


def sandbox_active_account_count(sandbox, chart_ids: list[int]) -> int:
    config = ConnectionConfig(key="browser-check", base_url=sandbox.base_url,
                              client_id=sandbox.client_id, client_secret=sandbox.client_secret)
    with CoupaClient(config) as client:
        params = {
            "account-type[id][in]": ",".join(str(i) for i in sorted(chart_ids)),
            **RESOURCES["accounts"].active_params(),
        }
        return sum(1 for _ in client.iter_records(Account, params=params))


def tab_count(page, live_server, kind: str) -> int:
    page.goto(f"{live_server.url}/settings/integrations/coupa/records/{kind}/")
    return int(page.get_by_test_id(f"count-{kind}").inner_text())


def watch_sync(page, worker) -> None:
    """See the run queued in the progress panel, let the worker run it, see it finish."""
    expect(page.get_by_test_id("sync-live")).to_be_visible()
    expect(page.get_by_test_id("sync-progress-text")).to_have_text("Waiting for a worker…")
    worker.release()
    expect(page.locator("#sync-progress")).to_have_attribute("data-live", "no", timeout=60_000)
    expect(page.locator("#sync-progress tr[data-run]").first).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#sync-progress tr[data-run]").first).to_have_attribute("data-state", "succeeded")


def test_select_charts_import_hide_sync_and_deselect(
    login, admin_user, live_server, small_sandbox, tasks_in_background, page
) -> None:
    login(admin_user.email)
    page.goto(f"{live_server.url}/settings/integrations/coupa/connect/")
    page.get_by_label("Coupa domain").fill(small_sandbox.base_url)
    page.get_by_label("Client ID").fill(small_sandbox.client_id)
    page.get_by_label("Client secret").fill(small_sandbox.client_secret)
    page.get_by_role("button", name="Connect").click()
    page.get_by_role("link", name="Continue").click()

    slider = page.get_by_role("dialog", name="Configure Chart of Accounts")
    charts = slider.locator("li[data-chart]")
    expect(charts).to_have_count(3)  # the sandbox's inactive chart is not offered
    expect(slider.get_by_text("requesters will see only the accounts Coupa lists for them")).to_be_visible()
    names = [charts.nth(i).get_attribute("data-chart") for i in range(2)]
    for i in range(2):
        charts.nth(i).get_by_role("checkbox").check()
    slider.get_by_role("button", name="Confirm").click()

    # The initial import runs in the background; the page shows its progress.
    watch_sync(page, tasks_in_background)

    from coupa.models import ChartOfAccounts

    chart_ids = list(ChartOfAccounts.objects.filter(name__in=names).values_list("external_id", flat=True))
    assert tab_count(page, live_server, "accounts") == sandbox_active_account_count(small_sandbox, chart_ids)
    assert tab_count(page, live_server, "vendors") == small_sandbox.count("suppliers", active_only=True)
    assert tab_count(page, live_server, "items") == small_sandbox.count("items", active_only=True)

    # Hide a vendor; the toggle saves at once.
    page.goto(f"{live_server.url}/settings/integrations/coupa/records/vendors/")
    row = page.locator("tr[data-external-id]").first
    vendor_id = row.get_attribute("data-external-id")
    row.get_by_role("switch", name="Show to Users").click()
    hidden_row = page.locator(f'tr[data-external-id="{vendor_id}"]')
    expect(hidden_row.get_by_role("switch", name="Show to Users")).to_have_attribute("aria-checked", "false")

    # Sync Data: progress, then the vendor is still hidden.
    page.goto(f"{live_server.url}/settings/integrations/procurement/")
    page.get_by_role("button", name="Sync Data").click()
    watch_sync(page, tasks_in_background)
    expect(page.locator("#sync-progress tr[data-run]").first).to_contain_text("Manual")
    page.goto(f"{live_server.url}/settings/integrations/coupa/records/vendors/?visibility=hidden")
    expect(page.locator(f'tr[data-external-id="{vendor_id}"]')).to_have_attribute("data-offered", "Hidden")

    # Deselect a chart: its accounts drop out of what requesters may pick.
    before = page.request.get(f"{live_server.url}/api/v1/pickable/accounts").json()["count"]
    page.goto(f"{live_server.url}/settings/integrations/coupa/charts/")
    page.locator(f'li[data-chart="{names[0]}"]').get_by_role("checkbox").uncheck()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("1 chart of accounts selected.")).to_be_visible()
    after = page.request.get(f"{live_server.url}/api/v1/pickable/accounts").json()
    remaining_chart = names[1]
    assert 0 < after["count"] < before
    assert {a["chart"] for a in after["results"]} == {remaining_chart}

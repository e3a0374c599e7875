"""An admin connects Coupa in the browser against a running sandbox."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.sandbox


def open_connect_form(page, live_server):
    page.goto(f"{live_server.url}/settings/integrations/procurement/")
    expect(page.get_by_test_id("connection-state")).to_have_text("Not connected")
    page.get_by_role("link", name="Connect").click()


def fill(page, domain: str, client_id: str, secret: str) -> None:
    page.get_by_label("Coupa domain").fill(domain)
    page.get_by_label("Client ID").fill(client_id)
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Connect").click()


def test_admin_connects_and_sees_the_steps_complete(
    login, admin_user, live_server, sandbox_allowed, page
) -> None:
    login(admin_user.email)
    open_connect_form(page, live_server)
    fill(page, sandbox_allowed.base_url, sandbox_allowed.client_id, sandbox_allowed.client_secret)
    steps = page.locator("[data-step]")
    expect(steps).to_have_count(3)
    for key in ("authenticate", "scopes", "read"):
        expect(page.locator(f'[data-step="{key}"]')).to_have_attribute("data-status", "done")
    expect(page.get_by_text("Coupa is connected.")).to_be_visible()
    assert sandbox_allowed.client_secret not in page.content()
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("dialog", name="Configure Chart of Accounts")).to_be_visible()
    page.goto(f"{live_server.url}/settings/integrations/procurement/")
    expect(page.get_by_test_id("connection-state")).to_have_text("Connected")


def test_wrong_secret_shows_the_authentication_sentence(
    login, admin_user, live_server, sandbox_allowed, page
) -> None:
    login(admin_user.email)
    open_connect_form(page, live_server)
    fill(page, sandbox_allowed.base_url, sandbox_allowed.client_id, "definitely-wrong")
    expect(page.get_by_test_id("validation-error")).to_have_text("Coupa rejected the client ID or secret.")
    expect(page.locator('[data-step="authenticate"]')).to_have_attribute("data-status", "failed")
    page.get_by_role("link", name="Back to integrations").click()
    expect(page.get_by_test_id("connection-state")).to_have_text("Draft")
    expect(page.get_by_test_id("state-reason")).to_have_text("Coupa rejected the client ID or secret.")


def test_missing_scopes_are_named(login, admin_user, live_server, sandbox_allowed, page) -> None:
    sandbox_allowed.add_client("no-suppliers", "no-suppliers-secret", scopes=[
        "core.accounting.read", "core.catalog.read", "core.user.read", "core.common.read",
        "core.requisition.read", "core.requisition.write",
    ])
    login(admin_user.email)
    open_connect_form(page, live_server)
    fill(page, sandbox_allowed.base_url, "no-suppliers", "no-suppliers-secret")
    error = page.get_by_test_id("validation-error")
    expect(error).to_contain_text("These scopes are missing: core.purchase_order.read, core.supplier.read.")
    expect(page.locator('[data-step="scopes"]')).to_have_attribute("data-status", "failed")


def test_a_refused_domain_is_explained_on_the_form(login, admin_user, live_server, page) -> None:
    login(admin_user.email)
    open_connect_form(page, live_server)
    fill(page, "https://169.254.169.254/latest/meta-data", "id", "secret")
    expect(page.get_by_role("alert").first).to_contain_text("IP addresses are not accepted")

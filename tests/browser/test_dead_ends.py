"""No dead ends: a failed first connect is a draft, destructive actions ask first, refusals
and missing pages use the site's layout, and no page loads anything from outside the app."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from integrations.models import Connection
from spendflo.workflows.services import workflow_create
from tests.factories import AccountFactory, ChartFactory, ConnectionFactory

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def connection(organization):
    return ConnectionFactory(
        organization=organization, host="acme.coupahost.com",
        provider_settings={"client_id": "acme-client", "granted_scopes": ["core.supplier.read"]},
    )


def procurement(page, live_server) -> None:
    page.goto(f"{live_server.url}/settings/integrations/procurement/")


@pytest.mark.sandbox
def test_a_failed_first_connect_is_a_draft_until_it_validates(
    login, admin_user, live_server, sandbox_allowed, page
) -> None:
    login(admin_user.email)
    procurement(page, live_server)
    page.get_by_role("link", name="Connect").click()
    page.get_by_label("Coupa domain").fill(sandbox_allowed.base_url)
    page.get_by_label("Client ID").fill(sandbox_allowed.client_id)
    page.get_by_label("Client secret").fill("definitely-wrong")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_test_id("validation-error")).to_have_text("Coupa rejected the client ID or secret.")
    expect(page.get_by_test_id("draft-note")).to_contain_text("saved as a draft")

    page.get_by_role("link", name="Back to integrations").click()
    card = page.locator('[data-provider="Coupa"]')
    expect(page.get_by_test_id("connection-state")).to_have_text("Draft")
    expect(page.get_by_test_id("draft-note")).to_contain_text("it has not validated yet")
    expect(page.get_by_test_id("state-reason")).to_have_text("Coupa rejected the client ID or secret.")
    expect(page.get_by_test_id("missing-scopes")).to_have_text("not checked yet")
    actions = card.locator(".row").first.locator("a.button, button")
    expect(actions).to_have_text(["Edit Configuration", "Validate"])
    expect(card.get_by_text("Imported data")).to_have_count(0)

    body = page.request.get(f"{live_server.url}/api/v1/integrations/coupa").json()
    assert (body["state"], body["is_draft"], body["actions"]) == ("draft", True, ["edit", "validate"])

    page.get_by_role("link", name="Audit trail").click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("Could not connect Coupa at 127.0.0.1")
    expect(rows.first).to_have_attribute("data-action", "connect_failed")
    expect(page.get_by_text("Connected Coupa at")).to_have_count(0)

    # Fixing the secret connects it, and then every action is offered.
    procurement(page, live_server)
    page.get_by_role("link", name="Edit Configuration").click()
    page.get_by_label("Client secret").fill(sandbox_allowed.client_secret)
    page.get_by_role("button", name="Save and validate").click()
    expect(page.get_by_text("Coupa is connected.")).to_be_visible()
    procurement(page, live_server)
    expect(page.get_by_test_id("connection-state")).to_have_text("Connected")
    expect(actions).to_have_text(
        ["Sync Data", "Edit Configuration", "Configure Chart of Accounts", "Validate again", "Disconnect"]
    )
    page.get_by_role("link", name="Audit trail").click()
    expect(page.locator("tbody tr").first).to_contain_text("Connected Coupa at 127.0.0.1")


def test_disconnect_asks_naming_the_instance(login, admin_user, live_server, connection, page) -> None:
    login(admin_user.email)
    procurement(page, live_server)
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("heading", name="Disconnect Coupa at acme.coupahost.com?")).to_be_visible()
    expect(page.get_by_text("The imported data is kept, read-only")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_test_id("connection-state")).to_have_text("Connected")

    page.get_by_role("button", name="Disconnect").click()
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text("Coupa at acme.coupahost.com is disconnected.")).to_be_visible()
    expect(page.get_by_test_id("connection-state")).to_have_text("Disconnected")
    connection.refresh_from_db()
    assert connection.state == Connection.State.DISCONNECTED


def test_hide_all_asks_with_the_count_of_the_whole_filter(
    login, admin_user, live_server, connection, page
) -> None:
    chart = ChartFactory(connection=connection, selected=True)
    for n in range(3):
        AccountFactory(connection=connection, chart=chart, code=f"100-{n}", name=f"Account {n}")
    login(admin_user.email)
    page.goto(f"{live_server.url}/settings/integrations/coupa/records/accounts/")
    page.get_by_role("button", name="Hide all from users").click()
    expect(page.get_by_role("heading", name="Hide 3 accounts from requesters?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("tr[data-offered='Hidden']")).to_have_count(0)

    page.get_by_role("button", name="Hide all from users").click()
    page.get_by_role("button", name="Hide 3 accounts").click()
    expect(page.get_by_text("3 records hidden from requesters.")).to_be_visible()
    from coupa.models import Account

    assert not Account.objects.filter(show_to_users=True).exists()


def test_deactivate_asks_and_add_user_defaults_to_requester(
    login, admin_user, requester_user, live_server, page
) -> None:
    login(admin_user.email)
    page.goto(f"{live_server.url}/settings/users/")
    expect(page.get_by_label("Role", exact=True)).to_have_value("requester")
    row = page.locator(f'tr[data-user="{requester_user.email}"]')
    row.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("heading", name=f"Deactivate {requester_user.email}?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(row.get_by_text("Active", exact=True)).to_be_visible()

    row.get_by_role("button", name="Deactivate").click()
    page.get_by_role("button", name=f"Deactivate {requester_user.email}").click()
    expect(page.get_by_text(f"{requester_user.email} was deactivated.")).to_be_visible()
    expect(row.get_by_text("Deactivated")).to_be_visible()


@pytest.mark.parametrize(
    ("role", "path", "reason"),
    [
        ("ops", "/settings/integrations/coupa/edit/", "Only admins can change the integrations' configuration"),
        ("ops", "/settings/users/", "Only admins can manage users"),
        ("requester", "/settings/integrations/procurement/", "Only admins and ops users can open the integration settings"),
        ("ops", "/requests/new/", "Only admins and requesters can submit purchase requests"),
    ],
)
def test_a_refusal_says_why_and_links_back(
    role, path, reason, make_user, organization, connection, login, live_server, page
) -> None:
    user = make_user(role, organization, email=f"{role}@acme.test")
    login(user.email)
    response = page.goto(f"{live_server.url}{path}")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You can't open this page")).to_be_visible()
    expect(page.get_by_test_id("error-reason")).to_contain_text(reason)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("link", name="Back to your start page").click()
    expect(page.get_by_test_id("error-page")).to_have_count(0)


def test_a_missing_page_uses_the_layout_and_links_back(login, admin_user, live_server, page) -> None:
    login(admin_user.email)
    response = page.goto(f"{live_server.url}/settings/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This page doesn't exist")).to_be_visible()
    expect(page.get_by_test_id("error-reason")).to_contain_text("There is nothing at /settings/no-such-page/")
    page.get_by_role("link", name="Back to your start page").click()
    expect(page.get_by_test_id("connection-state")).to_be_visible()


def test_the_charts_panel_opens_over_the_integration_page_and_closes(
    make_user, organization, connection, login, live_server, page
) -> None:
    ops = make_user("ops", organization, email="ops@acme.test")
    login(ops.email)
    page.goto(f"{live_server.url}/settings/integrations/coupa/charts/")
    expect(page.get_by_role("dialog", name="Configure Chart of Accounts")).to_be_visible()
    expect(page.get_by_test_id("connection-state")).to_have_text("Connected")  # behind the panel
    page.get_by_role("link", name="Close", exact=True).click()
    expect(page.get_by_role("dialog", name="Configure Chart of Accounts")).to_have_count(0)
    assert page.url.endswith("/settings/integrations/procurement/")


def _pages(organization: Any, admin: Any) -> dict[str, list[str]]:
    workflow = workflow_create(organization=organization, name="Laptops", user=admin)
    version = f"/settings/workflows/{workflow.pk}/versions/1/"
    coupa = "/settings/integrations/coupa/"
    common = ["/requests/", "/requests/new/", "/requests/notices/", "/no-such-page/"]
    return {
        "admin": [
            "/settings/integrations/procurement/", f"{coupa}charts/", f"{coupa}edit/",
            f"{coupa}records/accounts/", f"{coupa}records/vendors/", f"{coupa}records/items/",
            f"{coupa}records/supporting/", "/settings/integrations/sync-activity/",
            "/settings/integrations/audit/", "/settings/workflows/", f"/settings/workflows/{workflow.pk}/",
            f"{coupa}workflows/{workflow.pk}/versions/1/mapping/",
            f"{coupa}workflows/{workflow.pk}/versions/1/preview/", version,
            "/settings/users/", "/requests/all/", *common, "/api/docs/",
        ],
        "ops": [
            "/settings/integrations/procurement/", f"{coupa}charts/", f"{coupa}edit/",
            f"{coupa}records/accounts/", "/settings/integrations/sync-activity/",
            "/settings/integrations/audit/", "/requests/all/", "/settings/users/", *common,
            "/api/docs/",
        ],
        "requester": [*common, "/settings/integrations/procurement/", "/api/docs/"],
        "anonymous": ["/accounts/password-reset/", "/no-such-page/", "/admin/login/"],
    }


def _guard(role: str, outside: list[str], seen: set[str]) -> Any:
    """A route handler: loopback requests go on; others are recorded and aborted."""

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        seen.add(route.request.url)
        if host in LOOPBACK:
            route.continue_()
        else:
            outside.append(f"{role} {route.request.url}")
            route.abort()

    return guard


def _csp_listener(role: str, page: Any, refused: list[str]) -> Any:
    def listen(message: Any) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{role} {page.url}: {message.text}")

    return listen


def test_no_page_requests_anything_outside_the_app(
    browser, make_user, organization, admin_user, connection, live_server, password
) -> None:
    """Every request of every page (as each role, and the API docs) goes to the app itself;
    anything else is recorded and aborted, so the test never reaches the internet. No page
    breaks its Content-Security-Policy (no inline script or style on the app's pages)."""
    pages = _pages(organization, admin_user)
    users = {
        "admin": admin_user,
        "ops": make_user("ops", organization, email="ops@acme.test"),
        "requester": make_user("requester", organization, email="req@acme.test"),
    }
    outside: list[str] = []
    refused: list[str] = []
    seen: set[str] = set()
    for role, paths in pages.items():
        context = browser.new_context()
        context.set_default_timeout(15_000)
        context.route("**/*", _guard(role, outside, seen))
        page = context.new_page()
        page.on("console", _csp_listener(role, page, refused))
        page.goto(f"{live_server.url}/accounts/login/", wait_until="networkidle")
        if role in users:
            page.get_by_label("Email").fill(users[role].email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_test_id("whoami").wait_for()
        for path in paths:
            response = page.goto(f"{live_server.url}{path}", wait_until="networkidle")
            assert response is not None and response.status < 500, (role, path)
        context.close()
    assert outside == []
    # Every page keeps to its Content-Security-Policy (Chromium reports a refusal on the console).
    assert refused == []
    assert any(url.endswith("favicon.svg") for url in seen)
    assert any("swagger-ui-bundle.js" in url for url in seen)

"""Pages follow a sync and a Show to Users toggle live, without a reload."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from coupa.models import Vendor
from coupa.reference import walk
from tests.browser.test_workflow import shot

pytestmark = pytest.mark.sandbox

PROCUREMENT = "/settings/integrations/procurement/"


class PauseAt:
    """Holds a running sync when it starts one resource, until the test resumes it.

    Lets the page be looked at in the middle of a run however fast the run is.
    """

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.reached = threading.Event()
        self.resume = threading.Event()

    def wait_reached(self) -> None:
        assert self.reached.wait(timeout=60), f"the sync never reached {self.resource}"
        self.reached.clear()

    def go_on(self) -> None:
        self.resume.set()


@pytest.fixture
def pause_at_items(monkeypatch):
    pause = PauseAt("items")
    original = walk._Walk.start

    def start(self, resource: str) -> None:
        original(self, resource)
        if resource == pause.resource:
            pause.resume.clear()
            pause.reached.set()
            pause.resume.wait(timeout=60)

    monkeypatch.setattr(walk._Walk, "start", start)
    yield pause
    pause.resume.set()


def mark_page(page) -> None:
    """Mark the loaded document; a reload or navigation loses the mark."""
    page.evaluate("window.__sameDocument = true")


def assert_same_page(page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def tab_counts(page) -> dict[str, int]:
    return {
        kind: int(page.get_by_test_id(f"tab-count-{kind}").inner_text())
        for kind in ("accounts", "vendors", "items")
    }


def connect_and_choose_charts(page, live_server, sandbox) -> None:
    page.goto(f"{live_server.url}/settings/integrations/coupa/connect/")
    page.get_by_label("Coupa domain").fill(sandbox.base_url)
    page.get_by_label("Client ID").fill(sandbox.client_id)
    page.get_by_label("Client secret").fill(sandbox.client_secret)
    page.get_by_role("button", name="Connect").click()
    page.get_by_role("link", name="Continue").click()
    slider = page.get_by_role("dialog", name="Configure Chart of Accounts")
    slider.locator("li[data-chart]").first.get_by_role("checkbox").check()
    slider.get_by_role("button", name="Confirm").click()


def test_first_import_counts_progress_and_messages_follow_the_run_without_a_reload(
    login, admin_user, live_server, small_sandbox, tasks_in_background, pause_at_items, page
) -> None:
    """The tab counts and the progress line move while the first import runs, and the
    run's message goes once it is over, all on the page as first loaded."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.text.startswith("htmx:") else None)
    login(admin_user.email)
    connect_and_choose_charts(page, live_server, small_sandbox)
    expect(page.get_by_test_id("sync-live")).to_be_visible()
    mark_page(page)
    importing = page.locator("#messages .message", has_text="Importing their accounts now")
    expect(importing).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("1 chart of accounts selected.")
    assert tab_counts(page) == {"accounts": 0, "vendors": 0, "items": 0}

    # Midway: accounts and vendors are in, items not yet.
    tasks_in_background.release()
    pause_at_items.wait_reached()
    vendors = small_sandbox.count("suppliers", active_only=True)
    expect(page.get_by_test_id("tab-count-vendors")).to_have_text(str(vendors))
    assert tab_counts(page)["accounts"] > 0
    assert tab_counts(page)["items"] == 0
    progress = page.get_by_test_id("sync-progress-text")
    expect(progress).to_contain_text("Items, 0 pages, 0 records")
    so_far = int(re.match(r"(\d+) records imported so far", progress.inner_text()).group(1))
    assert so_far >= vendors + tab_counts(page)["accounts"]
    expect(importing).to_be_visible()
    shot(page, "live-desktop-procurement-midway", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "live-phone-procurement-midway", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The end: final counts, the progress panel gone, the run's message gone.
    pause_at_items.go_on()
    expect(page.locator("#sync-progress")).to_have_attribute("data-live", "no", timeout=60_000)
    expect(page.get_by_test_id("sync-live")).to_have_count(0)
    items = small_sandbox.count("items", active_only=True)
    expect(page.get_by_test_id("tab-count-items")).to_have_text(str(items))
    expect(importing).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("1 chart of accounts selected.")
    assert_same_page(page)

    # Sync Data: its message tells the run's state while it runs, and goes at the end.
    page.get_by_role("button", name="Sync Data").click()
    mark_page(page)
    message = page.locator("#messages .message", has_text=re.compile(r"Sync \d+ is"))
    expect(message).to_have_text(re.compile(r"Sync \d+ is queued\."))
    tasks_in_background.release()
    pause_at_items.wait_reached()
    expect(message).to_have_text(re.compile(r"Sync \d+ is running\."))
    pause_at_items.go_on()
    expect(page.locator("#sync-progress")).to_have_attribute("data-live", "no", timeout=60_000)
    expect(message).to_have_count(0)
    assert_same_page(page)
    assert errors == []  # every swap found its target (htmx logs one that does not)


def test_a_toggle_updates_the_offered_count_without_a_reload(
    login, admin_user, live_server, small_sandbox, page
) -> None:
    login(admin_user.email)
    connect_and_choose_charts(page, live_server, small_sandbox)  # imports at once (eager)
    expect(page.locator("#sync-progress")).to_have_attribute("data-live", "no")

    page.goto(f"{live_server.url}/settings/integrations/coupa/records/vendors/")
    mark_page(page)
    counts = page.get_by_test_id("tab-counts")
    offered = Vendor.objects.filter(show_to_users=True, active=True).count()
    expect(counts).to_contain_text(f"· {offered} offered to requesters")
    row = page.locator("tr[data-external-id]").first
    row.get_by_role("switch").click()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(counts).to_contain_text(f"· {offered - 1} offered to requesters")
    shot(page, "live-desktop-vendors-toggled", full_page=False)
    row.get_by_role("switch").click()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    expect(counts).to_contain_text(f"· {offered} offered to requesters")
    assert_same_page(page)


def test_show_to_users_is_a_named_switch_that_toggles_by_keyboard(
    login, admin_user, live_server, small_sandbox, page
) -> None:
    login(admin_user.email)
    connect_and_choose_charts(page, live_server, small_sandbox)  # imports at once (eager)
    expect(page.locator("#sync-progress")).to_have_attribute("data-live", "no")

    page.goto(f"{live_server.url}/settings/integrations/coupa/records/vendors/")
    row = page.locator("tr[data-external-id]").first
    vendor = Vendor.objects.get(external_id=row.get_attribute("data-external-id"))
    switch = page.get_by_role("switch", name=f"Show to Users: {vendor.name}", exact=True)
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(switch).to_contain_text("Shown")

    switch.focus()
    page.keyboard.press("Space")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(switch).to_contain_text("Hidden")
    expect(switch).to_be_focused()  # the swapped row keeps the focus on its switch
    page.keyboard.press("Enter")
    expect(switch).to_have_attribute("aria-checked", "true")
    vendor.refresh_from_db()
    assert vendor.show_to_users is True
    page.keyboard.press("Space")
    expect(switch).to_have_attribute("aria-checked", "false")
    vendor.refresh_from_db()
    assert vendor.show_to_users is False

"""An admin builds a workflow, maps it to Coupa, previews the payload, sends a test draft
and publishes, in the browser against a connected, synced sandbox."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from coupa.models import CoupaUser
from coupa.reference.selectors import offered_record_list
from coupa.reference.services import charts_select
from coupa.reference.walk import sync_run_execute
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from tests.coupa.support import connect_sandbox, load_charts

pytestmark = pytest.mark.sandbox

SHOTS = os.environ.get("WFPAGES_SHOTS")  # a folder: save screenshots of each step there


def shot(page: Any, name: str, **kw: Any) -> None:
    """A screenshot for a person to look at, when WFPAGES_SHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", **kw)


@pytest.fixture(scope="module")
def small_sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate=0, accounts=60, suppliers=40, items=60, users=12) as sandbox:
        yield sandbox


@pytest.fixture
def synced(
    small_sandbox: SandboxHandle,
    organization: Any,
    admin_user: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> Any:
    """The organization connected to the sandbox, one chart's accounts and all else imported."""
    small_sandbox.reset(tokens=True)
    connection = connect_sandbox(
        organization, admin_user, small_sandbox, django_capture_on_commit_callbacks, settings
    )
    charts = load_charts(connection)
    run = charts_select(
        connection=connection, chart_ids=[charts[0].pk], user=admin_user, enqueue=False
    )
    assert run is not None and sync_run_execute(sync_run_id=run.pk) is not None
    return connection


def small_sandbox_uom_id(sandbox: SandboxHandle, code: str) -> int:
    return next(int(u["id"]) for u in sandbox.records("uoms") if u["code"] == code)


def add_field(
    page: Page, group: str, label: str, type_label: str, *, required: bool = False
) -> None:
    details = page.locator(f'[data-group="{group}"] details.add')
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = page.get_by_test_id(f"add-{group}-field")
    form.get_by_label("Label", exact=True).fill(label)
    form.get_by_label("Type", exact=True).select_option(label=type_label)
    if required:
        form.get_by_label("Required", exact=True).check()
    form.get_by_role("button", name=f"Add {group} field").click()
    expect(
        page.locator(f'[data-group="{group}"] tr[data-field]').filter(has_text=label)
    ).to_be_visible()


def test_admin_builds_maps_previews_sends_a_test_draft_and_publishes(
    small_sandbox: SandboxHandle,
    synced: Any,
    make_user: Any,
    organization: Any,
    login: Any,
    live_server: Any,
    page: Page,
) -> None:
    # The admin is a Coupa user too, so "Requested by" (the requester's email) resolves.
    coupa_user = (
        CoupaUser.objects.filter(connection=synced, active=True).exclude(external_id=1).first()
    )
    assert coupa_user is not None
    admin = make_user("admin", organization, email=coupa_user.email)
    login(admin.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    shot(page, "01-list-empty", full_page=True)
    page.get_by_label("Name").fill("IT hardware")
    page.get_by_role("button", name="Create workflow").click()
    expect(page.get_by_test_id("version-state")).to_have_text("Draft")

    add_field(page, "request", "Title", "Short text", required=True)
    add_field(page, "request", "Ship to", "Ship-to address", required=True)
    add_field(page, "line", "Description", "Short text", required=True)
    add_field(page, "line", "Quantity", "Number", required=True)
    add_field(page, "line", "Unit price", "Money (amount and currency)", required=True)
    add_field(page, "line", "Vendor", "Vendor", required=True)
    add_field(page, "line", "Item", "Item")
    add_field(page, "line", "Account", "Account")
    expect(page.get_by_test_id("document-status")).to_have_text("Draft")

    publish = page.get_by_role("button", name="Publish version 1")
    expect(publish).to_be_disabled()
    blockers = page.get_by_test_id("blockers")
    for missing in ("Requested by", "Ship-to address", "Line type", "Currency", "Unit of measure"):
        expect(blockers).to_contain_text(missing)
    shot(page, "02-workflow-blocked", full_page=True)

    blockers.get_by_role("link").filter(has_text="Unit of measure").first.click()
    expect(page).to_have_url(re.compile(r"/mapping/#row-line\.uom$"))
    shot(page, "03-mapping-before", full_page=True)
    page.get_by_role("button", name="Accept all suggestions").click()
    expect(page.get_by_role("status").filter(has_text="Accepted")).to_be_visible()
    ship_to = page.locator('tr[data-target="ship-to-address"]')
    expect(ship_to.get_by_test_id("source")).to_have_text("Form field “Ship to”")
    expect(ship_to.get_by_test_id("locked")).to_be_visible()
    expect(ship_to.get_by_role("button", name=re.compile("Remove"))).to_have_count(0)

    # The unit of measure is not asked on the form: a constant, found by searching.
    page.locator('[data-edit="line.uom"] summary').click()
    constant = page.locator('[data-edit="line.uom"] form[data-source="constant"]')
    constant.get_by_label("Search Constant for Unit of measure").fill("EA")
    select = constant.get_by_label("Constant for Unit of measure", exact=True)
    expect(select.locator("option").first).to_contain_text("EA")
    select.select_option(index=0)
    shot(page.locator('[data-edit="line.uom"]'), "04a-uom-constant")
    constant.get_by_role("button", name="Use constant").click()
    uom = page.locator('tr[data-target="line.uom"]')
    expect(uom.get_by_test_id("source")).to_contain_text("Constant: EA")
    expect(page.locator('tr[data-target] [data-testid="problems"]')).to_have_count(0)
    shot(page, "04-mapping-complete", full_page=True)

    page.get_by_role("link", name="Preview the requisition").click()
    expect(page.get_by_test_id("no-problems")).to_be_visible()
    payload = json.loads(page.get_by_test_id("payload").inner_text())
    assert payload["requested-by"] == {"id": coupa_user.external_id}
    assert payload["requisition-lines"][0]["uom"] == {
        "id": small_sandbox_uom_id(small_sandbox, "EA")
    }
    page.get_by_label("Description").fill("Laptop, 14 inch")
    # Another vendor, found by the picker's server-side search.
    vendor = offered_record_list(connection=synced, kind="vendors").last()
    answers = page.get_by_test_id("answers")
    answers.get_by_label("Search Vendor").fill(vendor.name)
    picked = answers.get_by_label("Vendor", exact=True)
    expect(picked.locator("option").nth(1)).to_contain_text(vendor.name)
    picked.select_option(index=1)  # after the blank "—"
    page.get_by_role("button", name="Update preview").click()
    expect(page.get_by_test_id("payload")).to_contain_text("Laptop, 14 inch")
    payload = json.loads(page.get_by_test_id("payload").inner_text())
    assert payload["requisition-lines"][0]["supplier"] == {"id": vendor.external_id}
    shot(page, "05-preview", full_page=True)

    page.get_by_role("button", name="Send a test draft to Coupa").click()
    created = page.get_by_test_id("draft-created")
    expect(created).to_be_visible()
    shot(page, "06-test-draft", full_page=True)
    coupa_id = int(created.locator("strong").inner_text())
    requisition = small_sandbox.record("requisitions", coupa_id)
    assert requisition["req-title"].startswith("[TEST] ")
    assert requisition["requisition-lines"][0]["description"] == "Laptop, 14 inch"

    page.get_by_role("link", name="Back to the workflow").click()
    expect(page.get_by_test_id("publish")).to_contain_text("Ready")
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_role("status").filter(has_text="Published version 1")).to_be_visible()
    expect(page.get_by_test_id("version-state")).to_have_text("Published")
    shot(page, "07-published", full_page=True)

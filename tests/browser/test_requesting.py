"""A requester fills in a published workflow's form (pickers, two lines) against a connected,
synced sandbox, submits it and finds it in My requests; the request page shows it on its way
to Coupa, or the PR once the Coupa side has created it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from coupa.reference.selectors import offered_record_list
from spendflo.workflows.models import PurchaseRequest
from tests.browser.requesting import coupa_requester, fill_line, pick, published_workflow
from tests.browser.test_workflow import shot, small_sandbox, synced  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sandbox


def test_requester_submits_with_pickers_and_two_lines(
    synced: Any,  # noqa: F811
    organization: Any,
    admin_user: Any,
    make_user: Any,
    login: Any,
    page: Page,
) -> None:
    version = published_workflow(organization, admin_user, synced)
    requester = coupa_requester(synced, organization, make_user)
    vendors = list(offered_record_list(connection=synced, kind="vendors")[:2])
    address = offered_record_list(connection=synced, kind="addresses").first()
    assert address is not None and len(vendors) == 2

    login(requester.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New request").click()
    page.get_by_role("link", name="IT hardware").click()
    expect(page.get_by_role("heading", name="IT hardware")).to_be_visible()
    expect(page.get_by_text("Where it is delivered")).to_be_visible()

    # Submitting empty shows the problems on their fields and keeps what was typed.
    page.get_by_label("Title").fill("Laptops for the new hires")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_test_id("error-request-ship_to")).to_contain_text("required")
    expect(page.get_by_label("Title")).to_have_value("Laptops for the new hires")

    pick(page.locator('[data-answer="request-ship_to"]'), "Ship to", address.name[:12])
    fill_line(page, 1, "Laptop, 14 inch", vendors[0].name)
    page.get_by_role("button", name="Add line").click()
    expect(page.locator('fieldset[data-line="2"]')).to_be_visible()
    expect(page.locator('fieldset[data-line="1"]').get_by_label("Description")).to_have_value(
        "Laptop, 14 inch"
    )
    fill_line(page, 2, "Docking station", vendors[1].name)
    page.get_by_role("button", name="Submit request").click()

    expect(
        page.get_by_role("heading", name=re.compile(r"SF-1 Laptops for the new hires"))
    ).to_be_visible()
    req = PurchaseRequest.objects.get()
    assert req.version == version and len(req.answers["lines"]) == 2
    assert [line["vendor"] for line in req.answers["lines"]] == [vendors[0].pk, vendors[1].pk]
    assert req.answers["request"]["ship_to"] == address.pk
    answers = page.get_by_test_id("answers")
    expect(answers).to_contain_text("Docking station")
    expect(answers).to_contain_text(vendors[1].name)
    shot(page, "12-request-page", full_page=True)
    document = page.get_by_test_id("document")
    # Until the Coupa side creates the PR the request is on its way; afterwards, its id.
    expect(
        document.get_by_test_id("pr-pending").or_(document.get_by_test_id("pr-id"))
    ).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()
    row = page.locator('tr[data-request="SF-1"]')
    expect(row).to_contain_text("Laptops for the new hires")
    shot(page, "13-my-requests", full_page=True)
    expect(row.get_by_test_id("state")).to_have_text(
        re.compile("Sending to Coupa|PR created|PR failed")
    )

"""Issue 12, "What it must show": a requester submits on a published workflow; the request
page shows the PR's Coupa id, status and a link that opens it in the sandbox; once the
sandbox has ordered it and a PR/PO sync has run, the page shows the PO numbers and links."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from coupa.models import Requisition
from coupa.reference.selectors import offered_record_list
from coupa.sandbox.testing import SandboxHandle
from spendflo.workflows.models import PurchaseRequest
from tests.browser.requesting import coupa_requester, fill_line, pick, published_workflow
from tests.browser.test_workflow import shot, small_sandbox, synced  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sandbox


def test_request_shows_its_pr_then_its_purchase_orders(
    small_sandbox: SandboxHandle,  # noqa: F811
    synced: Any,  # noqa: F811
    organization: Any,
    admin_user: Any,
    make_user: Any,
    login: Any,
    page: Page,
) -> None:
    # Created submitted for approval, so the sandbox can approve and order it.
    published_workflow(organization, admin_user, synced, document_status="submitted")
    requester = coupa_requester(synced, organization, make_user)
    vendors = list(offered_record_list(connection=synced, kind="vendors")[:2])
    address = offered_record_list(connection=synced, kind="addresses").first()
    assert address is not None and len(vendors) == 2

    login(requester.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New request").click()
    page.get_by_role("link", name="IT hardware").click()
    page.get_by_label("Title").fill("Monitors for design")
    pick(page.locator('[data-answer="request-ship_to"]'), "Ship to", address.name[:12])
    fill_line(page, 1, "Monitor, 27 inch", vendors[0].name)
    page.get_by_role("button", name="Add line").click()
    fill_line(page, 2, "Monitor arm", vendors[1].name)
    page.get_by_role("button", name="Submit request").click()
    expect(
        page.get_by_role("heading", name=re.compile(r"SF-1 Monitors for design"))
    ).to_be_visible()

    # Celery runs eagerly: the PR exists in the sandbox by the time the page renders.
    requisition = Requisition.objects.get(request=PurchaseRequest.objects.get())
    pr_id = requisition.external_id
    assert pr_id is not None
    in_sandbox = small_sandbox.record("requisitions", pr_id)
    assert in_sandbox["req-title"].endswith("Monitors for design")  # after the product's marker
    document = page.get_by_test_id("document")
    expect(document.get_by_test_id("pr-id")).to_have_text(str(pr_id))
    expect(document.get_by_test_id("pr-status")).to_have_text(in_sandbox["status"])
    link = document.get_by_test_id("pr-link")
    expect(link).to_have_attribute("href", f"{small_sandbox.base_url}/requisition_headers/{pr_id}")
    shot(page, "14-request-pr", full_page=True)

    with page.expect_popup() as popup_info:
        link.click()
    sandbox_page = popup_info.value
    expect(
        sandbox_page.get_by_role(
            "heading", name=re.compile(rf"^Requisition {pr_id}: .*Monitors for design")
        )
    ).to_be_visible()
    expect(sandbox_page.get_by_role("cell", name="Monitor arm", exact=True)).to_be_visible()
    sandbox_page.close()

    # The sandbox approves and orders it: one PO per supplier of its lines.
    assert in_sandbox["status"] == "pending_approval"
    small_sandbox.approve(pr_id)
    orders = small_sandbox.order(pr_id)["purchase_orders"]
    assert len(orders) == 2
    call_command("coupa_pr_sync", "--org", organization.slug)

    page.reload()
    expect(document.get_by_test_id("pr-status")).to_have_text("ordered")
    table = document.get_by_test_id("orders")
    expect(table.locator("tbody tr")).to_have_count(len(orders))
    for vendor in vendors:
        expect(table).to_contain_text(vendor.name)
    for po in orders:
        po_link = table.get_by_role("link", name=str(po["po-number"]), exact=True)
        expect(po_link).to_have_attribute(
            "href", f"{small_sandbox.base_url}/order_headers/{po['id']}"
        )
    shot(page, "15-request-po", full_page=True)

    first = orders[0]
    with page.expect_popup() as popup_info:
        table.get_by_role("link", name=str(first["po-number"]), exact=True).click()
    po_page = popup_info.value
    expect(po_page.locator("h1")).to_contain_text(str(first["po-number"]))
    expect(po_page.get_by_role("link", name=re.compile(rf"^Requisition {pr_id}:"))).to_be_visible()
    po_page.close()

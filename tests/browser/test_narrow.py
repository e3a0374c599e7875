"""At a phone's width (390 px) no main page scrolls sideways: the navigation and the action
buttons wrap, wide tables scroll inside themselves."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page

from coupa.models import Vendor
from coupa.reference.selectors import offered_record_list
from spendflo.workflows.requests import request_submit
from tests.browser.requesting import coupa_requester, published_workflow
from tests.browser.test_workflow import shot, small_sandbox, synced  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sandbox

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def main_pages(version: Any, request_id: int) -> list[str]:
    workflow = {"workflow_id": version.workflow_id, "number": version.number}
    return [
        reverse("integrations:procurement"),
        reverse("coupa:records", args=["accounts"]),
        reverse("coupa:records", args=["vendors"]),
        reverse("coupa:records", args=["items"]),
        reverse("coupa:records", args=["supporting"]),
        reverse("coupa:charts"),
        reverse("coupa:connect"),
        reverse("coupa:edit"),
        reverse("integrations:sync_activity"),
        reverse("integrations:audit"),
        reverse("workflow_settings:list"),
        reverse("workflow_settings:workflow", args=[version.workflow_id]),
        reverse("coupa:mapping", kwargs=workflow),
        reverse("coupa:preview", kwargs=workflow),
        reverse("workflows:request_new"),
        reverse("workflows:request_form", kwargs={"workflow_id": version.workflow_id}),
        reverse("workflows:request_list"),
        reverse("workflows:request_all"),
        reverse("workflows:request", args=[request_id]),
        reverse("workflows:notices"),
        reverse("users:list"),
        reverse("organization_settings"),
    ]


def sideways_overflow(page: Page) -> int:
    """How many pixels the document is wider than the viewport (0 when it fits)."""
    return int(
        page.evaluate(
            "document.scrollingElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def test_no_main_page_scrolls_sideways_at_390_px(
    synced: Any,  # noqa: F811
    organization: Any,
    admin_user: Any,
    make_user: Any,
    login: Any,
    live_server: Any,
    page: Page,
) -> None:
    # Long values where they hurt most: a vendor's name and number, a request's title.
    Vendor.objects.filter(pk=Vendor.objects.filter(connection=synced).first().pk).update(
        name="Consolidated International Office Furniture and Supplies Corporation",
        number="SUP-000000123456789",
    )
    version = published_workflow(organization, admin_user, synced)
    address = offered_record_list(connection=synced, kind="addresses").first()
    vendor = offered_record_list(connection=synced, kind="vendors").first()
    assert address is not None and vendor is not None
    request = request_submit(
        version=version,
        requester=coupa_requester(synced, organization, make_user),
        title="Ergonomic chairs and standing desks for Berlin",
        answers={
            "request": {"ship_to": str(address.pk)},
            "lines": [
                {
                    "description": "Chair",
                    "quantity": "4",
                    "unit_price": {"amount": "250", "currency": "USD"},
                    "vendor": str(vendor.pk),
                }
            ],
        },
    )
    login(admin_user.email)
    overflowing = {}
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for url in main_pages(version, request.pk):
            page.goto(f"{live_server.url}{url}")
            page.wait_for_load_state("networkidle")
            name = url.strip("/").replace("/", "_") or "home"
            clip = {"x": 0, "y": 0, **size, "height": 1600}
            shot(page, f"{size_name}-{name}", full_page=True, clip=clip)
            if size is PHONE and (extra := sideways_overflow(page)) > 0:
                overflowing[url] = extra
    assert overflowing == {}, f"pages wider than {PHONE['width']} px (by px): {overflowing}"


def test_the_connect_form_shows_a_long_domain_in_full(
    admin_user: Any, login: Any, live_server: Any, page: Page
) -> None:
    login(admin_user.email)
    page.goto(f"{live_server.url}{reverse('coupa:connect')}")
    domain = page.get_by_label("Coupa domain")
    domain.fill("https://acme-worldwide-procurement-production-eu.coupahost.com")
    assert domain.evaluate("el => el.scrollWidth <= el.clientWidth")

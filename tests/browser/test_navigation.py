from __future__ import annotations

import pytest
from playwright.sync_api import expect

NAV = {
    "admin": [
        "Settings → Integrations → Procurement",
        "Workflows",
        "New request",
        "My requests",
        "All requests",
        "Notices",
        "Sync activity",
        "Users",
        "Organization",
    ],
    "ops": ["Settings → Integrations → Procurement", "All requests", "Notices", "Sync activity"],
    "requester": ["New request", "My requests", "Notices"],
}


@pytest.mark.parametrize("role", ["admin", "ops", "requester"])
def test_each_role_sees_only_its_navigation(
    role: str, make_user, organization, login, page
) -> None:
    user = make_user(role, organization, email=f"{role}@acme.test")
    login(user.email)
    nav = page.get_by_role("navigation", name="Main")
    links = nav.get_by_role("link")
    expect(links).to_have_text(NAV[role])
    expect(page.get_by_test_id("whoami")).to_contain_text(user.email)

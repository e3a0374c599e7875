"""Every response carries the Content-Security-Policy; the pages' markup keeps to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

pytestmark = pytest.mark.django_db

TEMPLATES = Path(REPO_ROOT) / "templates"


def test_pages_get_the_strict_policy_and_the_api_docs_their_own(
    client, admin_user, settings
) -> None:
    client.force_login(admin_user)
    page = client.get("/settings/integrations/procurement/")
    policy = page["Content-Security-Policy"]
    assert policy == settings.CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert client.get("/accounts/login/")["Content-Security-Policy"] == policy
    assert client.get("/api/v1/me")["Content-Security-Policy"] == policy
    docs = client.get("/api/docs/")["Content-Security-Policy"]
    assert docs == settings.CONTENT_SECURITY_POLICY_API_DOCS


def test_no_template_of_the_app_has_inline_script_style_or_handlers() -> None:
    """Inline code would be refused by the policy (the API docs' own template aside)."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if path.parent.name == "drf_spectacular":
            continue
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path.name}: inline <script>")
        if re.search(r"<style\b|\sstyle=\"|\son[a-z]+=\"", text):
            offenders.append(f"{path.name}: inline style or handler")
    assert offenders == []

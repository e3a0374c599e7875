"""CSRF: every page route refuses a state-changing request without the token, and so does
every session-authenticated API operation. Routes and operations come from the URL resolver
and the OpenAPI schema, so a new one is covered without editing this test."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from spendflo.users.models import User

pytestmark = pytest.mark.django_db

CSRF_PAGE_REFUSAL = b"CSRF verification failed"
# Routes that are not pages of their own: the admin's catch-all and DRF's format suffixes.
NOT_PAGES = re.compile(r"\(\?P<url>|<drf_format_suffix:|\(\?P<format>")
VALUES = {"int": "1", "str": "accounts", "path": "1", "slug": "x", "uuid": "0" * 32}


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _concrete(route: str) -> str:
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: VALUES.get(m.group(1) or "str", "x"), route)
    path = re.sub(r"\(\?P<app_label>[^)]*\)", "users", path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\", "")


def page_paths() -> list[str]:
    routes = [r for r in _routes(get_resolver()) if not r.startswith("api/")]
    return sorted({_concrete(r) for r in routes if not NOT_PAGES.search(r)})


def api_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, item in schema["paths"].items():
        for method in item:
            if method in {"post", "put", "patch", "delete"}:
                concrete = re.sub(r"\{[^}]+\}", "1", path)
                operations.append((method, concrete))
    return operations


def test_every_page_refuses_a_post_without_the_csrf_token(admin_user: User) -> None:
    admin_user.is_staff = admin_user.is_superuser = True  # the admin site's pages too
    admin_user.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    paths = page_paths()
    refused = [p for p in paths if CSRF_PAGE_REFUSAL in client.post(p, {"x": "1"}).content]
    assert refused == paths
    assert len(paths) == len(set(paths)) > 90


def test_a_post_with_the_token_passes_the_check(admin_user: User, password: str) -> None:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/accounts/login/").cookies["csrftoken"].value
    answer = client.post(
        "/accounts/login/",
        {"username": admin_user.email, "password": password, "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302


def test_every_api_operation_with_a_session_needs_the_csrf_token(admin_user: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    operations = api_operations()
    refused = []
    for method, path in operations:
        answer = getattr(client, method)(path, {}, format="json")
        if answer.status_code == 403 and answer.json()["detail"].startswith("CSRF Failed"):
            refused.append((method, path))
    assert refused == operations
    assert len(operations) > 30


def test_api_calls_with_a_token_need_no_csrf_token(admin_user: User) -> None:
    from rest_framework.authtoken.models import Token

    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    answer = client.post("/api/v1/notices/mark-read", {}, format="json")
    assert answer.status_code < 400

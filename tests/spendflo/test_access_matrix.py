"""Every endpoint, for every role and for another tenant.

The routes come from the URL resolver and the API operations from the generated OpenAPI
schema, so an endpoint added tomorrow is checked without editing this file. For each one:

- anonymous: pages send to the login page, the API answers 401 (public views excepted);
- a user of another organization, given this organization's ids: 404; on routes without
  ids, nothing of this organization shows in the answer;
- admin, ops and requester: what the view's declared permission promises (no 401/403, no
  500) and 403 for a role it does not admit.

A view must declare what it needs: a `capability` (pages), permission classes of its own or
`get_permissions` (API), or an `access` (spendflo.users.permissions.Access). One that does
not fails the test. Each request runs in a savepoint that is rolled back, so a write one
role makes (a disconnect, a deletion) never changes what the next request meets. Django's
admin site (platform staff) has its own test below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from spendflo.users.models import User
from spendflo.users.permissions import Access, CapabilityRequiredMixin, IsOrganizationMember
from spendflo.users.roles import Capability, user_can
from tests.endpoints import fill_route, url_routes, view_class
from tests.support import ROLES, Tenant, tenant_with_data

METHODS = ("get", "post", "put", "patch", "delete")
SAFE = ("get", "head", "options")
# A converter (<path:object_id>) or a regex group ((?P<app_label>auth|users)) of a route.
PARAM_OR_REGEX = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def _api_requirement(callback: Any, method: str) -> Access | Capability | str:
    """What the API view's declared permissions require for `method`, or why none is."""
    cls = view_class(callback)
    own = [k for k in cls.__mro__ if issubclass(k, APIView) and k is not APIView]
    if not any("permission_classes" in vars(k) or "get_permissions" in vars(k) for k in own):
        return f"{cls.__module__}.{cls.__name__} declares no permission"
    view = cls(**getattr(callback, "initkwargs", {}))
    view.request = SimpleNamespace(method=method.upper())
    view.action = (getattr(callback, "actions", None) or {}).get(method)
    view.kwargs = {}
    needs: list[Access | Capability] = []
    for permission in view.get_permissions():
        if hasattr(permission, "required"):
            needs.append(permission.required)
        elif isinstance(permission, IsOrganizationMember):
            needs.append(Access.MEMBER)
        elif isinstance(permission, IsAuthenticated):
            needs.append(Access.SIGNED_IN)
        elif isinstance(permission, AllowAny):
            needs.append(Access.PUBLIC)
        else:
            return f"{cls.__name__}: unknown permission {type(permission).__name__}"
    if not needs:
        return f"{cls.__name__} has no permission classes"
    capabilities = [n for n in needs if isinstance(n, Capability)]
    assert len(capabilities) <= 1, f"{cls.__name__}: several capabilities {capabilities}"
    if capabilities:
        return capabilities[0]
    for level in (Access.MEMBER, Access.SIGNED_IN, Access.PUBLIC):
        if level in needs:
            return level
    raise AssertionError(needs)


def _page_requirement(callback: Any, method: str) -> Access | Capability | str:
    cls = view_class(callback)
    if cls is not None and issubclass(cls, CapabilityRequiredMixin):
        if cls.write_capability is not None and method not in SAFE:
            return cls.write_capability
        return cls.capability
    access = getattr(callback, "access", None) or getattr(cls, "access", None)
    if isinstance(access, Access):
        return access
    return f"{getattr(cls or callback, '__qualname__', callback)} declares no capability or access"


def _page_methods(callback: Any) -> list[str]:
    cls = view_class(callback)
    if cls is None:
        return ["get"]
    return [m for m in METHODS if m in cls.http_method_names and hasattr(cls, m)]


def _admits(requirement: Access | Capability, user: User) -> bool:
    if isinstance(requirement, Capability):
        return user_can(user, requirement)
    if requirement == Access.MEMBER:
        return user.organization_id is not None
    return True


@dataclass
class Check:
    kind: str  # "api" or "page"
    label: str
    path: str
    method: str
    requirement: Access | Capability | str
    names_object: bool
    route_kind: str = "operation"  # an operation of the schema, or a route of the resolver
    route: str = ""


@pytest.fixture
def tenants(db: None) -> tuple[Tenant, Tenant]:
    return tenant_with_data("acme"), tenant_with_data("globex")


def _checks(schema: dict[str, Any], tenant: Tenant) -> tuple[list[Check], int, int]:
    checks: list[Check] = []
    api_callbacks: set[int] = set()
    operations = 0
    for route, item in schema["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operations += 1
            path, names_object = fill_route(route, tenant.ids)
            match = resolve(path)
            api_callbacks.add(id(match.func))
            checks.append(
                Check(
                    "api",
                    f"{method.upper()} {route}",
                    path,
                    method,
                    _api_requirement(match.func, method),
                    names_object,
                )
            )
    pages = 0
    for route in url_routes():
        if id(route.callback) in api_callbacks:
            continue
        pages += 1
        path, names_object = fill_route(route.route, tenant.ids)
        is_api = view_class(route.callback) is not None and issubclass(
            view_class(route.callback), APIView
        )
        for method in _page_methods(route.callback):
            requirement = (_api_requirement if is_api else _page_requirement)(
                route.callback, method
            )
            checks.append(
                Check(
                    "api" if is_api else "page",
                    f"{method.upper()} /{route.route} ({route.name})",
                    path,
                    method,
                    requirement,
                    names_object,
                    "route",
                    route.route,
                )
            )
    return checks, operations, pages


def _call(client: Client, check: Check, user: User | None = None) -> Any:
    """The answer to one request, whatever it wrote rolled back; a signed-out client (the
    logout view) is signed in again for the next request."""
    with transaction.atomic():
        try:
            if check.method in ("get", "delete"):
                response = getattr(client, check.method)(check.path)
            else:
                response = getattr(client, check.method)(
                    check.path, data="{}", content_type="application/json"
                )
        finally:
            transaction.set_rollback(True)
    cookie = response.cookies.get(settings.SESSION_COOKIE_NAME)
    if user is not None and cookie is not None and not cookie.value:
        client.force_login(user)
    return response


def _login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        resolve_url(settings.LOGIN_URL)
    )


def test_every_endpoint_answers_each_role_and_tenant_as_its_permission_declares(
    tenants: tuple[Tenant, Tenant],
) -> None:
    home, other = tenants
    admin = Client(raise_request_exception=False)
    admin.force_login(home.users[User.Role.ADMIN])
    schema = admin.get("/api/schema/", {"format": "json"}).json()
    checks, operations, pages = _checks(schema, home)

    clients = {}
    for role in ROLES:
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(home.users[role])
    stranger = Client(raise_request_exception=False)
    stranger.force_login(other.users[User.Role.ADMIN])
    anonymous = Client(raise_request_exception=False)

    problems: list[str] = []
    marker_shown_at_home = 0  # the leak check below looks for something pages do show
    for check in checks:
        if not isinstance(check.requirement, (Access, Capability)):
            problems.append(f"{check.label}: {check.requirement}")
            continue
        requirement = check.requirement

        answer = _call(anonymous, check)
        if requirement == Access.PUBLIC:
            if answer.status_code >= 500 or answer.status_code in (401, 403):
                problems.append(f"{check.label} anonymous (public): {answer.status_code}")
        elif check.kind == "page" and not _login_redirect(answer):
            problems.append(f"{check.label} anonymous: {answer.status_code}, not the login page")
        elif check.kind == "api" and answer.status_code != 401:
            problems.append(f"{check.label} anonymous: {answer.status_code}, not 401")

        for role in ROLES:
            user = home.users[role]
            answer = _call(clients[role], check, user)
            code = answer.status_code
            marker_shown_at_home += home.marker.encode() in answer.content
            if requirement == Access.PUBLIC:
                if code in (401, 403) or code >= 500:
                    problems.append(f"{check.label} as {role} (public): {code}")
            elif _admits(requirement, user):
                if code in (401, 403) or code >= 500 or _login_redirect(answer):
                    problems.append(f"{check.label} as {role} (admitted by {requirement}): {code}")
            elif code != 403:
                problems.append(f"{check.label} as {role} (needs {requirement}): {code}, not 403")

        if requirement == Access.PUBLIC:
            continue
        answer = _call(stranger, check, other.users[User.Role.ADMIN])
        if check.names_object and answer.status_code != 404:
            problems.append(
                f"{check.label} by another organization's admin: {answer.status_code}, not 404"
            )
        if home.marker.encode() in answer.content:
            problems.append(f"{check.label} shows another organization's data")

    assert not problems, "\n".join(problems)
    assert marker_shown_at_home > 20
    in_schema = sum(1 for item in schema["paths"].values() for method in METHODS if method in item)
    api_checked = {c.label for c in checks if c.kind == "api" and c.route_kind == "operation"}
    pages_checked = {c.route for c in checks if c.route_kind == "route"}
    print(f"checked {len(api_checked)} API operations and {len(pages_checked)} page routes")
    assert (operations, pages) == (len(api_checked), len(pages_checked))
    assert len(api_checked) + len(pages_checked) == in_schema + pages
    assert in_schema > 50 and pages > 50  # the schema and the resolver were read


def _admin_site_routes() -> Iterator[tuple[str, str]]:
    admin_site = next(
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and str(entry.pattern) == "admin/"
    )

    def walk(resolver: URLResolver, prefix: str) -> Iterator[tuple[str, str]]:
        for entry in resolver.url_patterns:
            pattern = prefix + str(entry.pattern).lstrip("^").rstrip("$")
            if isinstance(entry, URLResolver):
                yield from walk(entry, pattern)
            else:
                yield pattern, entry.name or ""

    yield from walk(admin_site, "admin/")


def test_the_admin_site_is_for_staff_only(tenants: tuple[Tenant, Tenant]) -> None:
    """Django's admin (platform staff): every route sends anonymous users and every role of an
    organization to the admin's login page, whatever the object."""
    home, _ = tenants
    clients = {"anonymous": Client(raise_request_exception=False)}
    for role in ROLES:
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(home.users[role])
    login = "/admin/login/"
    problems = []
    checked = 0
    for route, name in _admin_site_routes():
        if name in ("login", "logout"):
            continue  # the admin's own sign-in and sign-out
        path = "/" + PARAM_OR_REGEX.sub("1", route)
        checked += 1
        for who, client in clients.items():
            response = client.get(path)
            if not (response.status_code == 302 and response["Location"].startswith(login)):
                problems.append(f"GET {path} ({name}) as {who}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert checked > 30

"""The signed-in user and organization of a request, for views and API views."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from spendflo.organizations.models import Organization
from spendflo.users.models import User


def request_user(request: Any) -> User:
    """The signed-in organization member; permission checks run before this is called."""
    user = request.user
    if not isinstance(user, User) or user.organization is None:
        raise PermissionDenied("Sign in as a member of an organization.")
    return user


def request_organization(request: Any) -> Organization:
    """The organization every query of this request is scoped to (tenant isolation)."""
    organization = request_user(request).organization
    assert organization is not None
    return organization

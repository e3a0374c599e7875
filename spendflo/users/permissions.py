"""Server-side permission checks shared by pages and the API."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from spendflo.users.roles import Capability, capability_refusal, user_can

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

V = TypeVar("V", bound=Callable[..., Any])


class Access(enum.StrEnum):
    """Who may open a view that requires no capability. Every view declares what it needs:
    a `capability` (pages), permission classes (API), or one of these as its `access`."""

    PUBLIC = "public"  # anyone, signed in or not (sign-in pages, health probes)
    SIGNED_IN = "signed_in"  # any signed-in user
    MEMBER = "member"  # any signed-in member of an organization


def declare_access(access: Access) -> Callable[[V], V]:
    """Mark a function view (or an `as_view()` callable) with the access it needs."""

    def mark(view: V) -> V:
        view.access = access  # type: ignore[attr-defined]
        return view

    return mark


public = declare_access(Access.PUBLIC)


class CapabilityRequiredMixin(AccessMixin):
    """Page views: anonymous users go to the login page, others without the capability get 403.

    `write_capability`, when set, is required instead for requests that change something
    (POST and the like), so one page can be readable by more roles than may change it.
    """

    capability: Capability
    write_capability: Capability | None = None
    raise_exception = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        needed = self.capability
        if self.write_capability is not None and request.method not in SAFE_METHODS:
            needed = self.write_capability
        if not user_can(request.user, needed):
            self.raise_exception = True
            self.permission_denied_message = capability_refusal(request.user, needed)
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc, no-any-return]


def capability_permission(capability: Capability) -> type[BasePermission]:
    """A DRF permission class that requires one capability."""

    class _HasCapability(BasePermission):
        message = "Your role does not allow this."
        required = capability

        def has_permission(self, request: Request, view: Any) -> bool:
            return user_can(request.user, capability)

    _HasCapability.__name__ = f"Has_{capability.value}"
    return _HasCapability


class IsOrganizationMember(BasePermission):
    """Any active user who belongs to an organization."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.organization_id)

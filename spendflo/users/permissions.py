"""Server-side permission checks shared by pages and the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from spendflo.users.roles import Capability, user_can


class CapabilityRequiredMixin(AccessMixin):
    """Page views: anonymous users go to the login page, others without the capability get 403."""

    capability: Capability
    raise_exception = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not user_can(request.user, self.capability):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc, no-any-return]


def capability_permission(capability: Capability) -> type[BasePermission]:
    """A DRF permission class that requires one capability."""

    class _HasCapability(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Request, view: Any) -> bool:
            return user_can(request.user, capability)

    _HasCapability.__name__ = f"Has_{capability.value}"
    return _HasCapability


class IsOrganizationMember(BasePermission):
    """Any active user who belongs to an organization."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.organization_id)

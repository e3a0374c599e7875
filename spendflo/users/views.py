from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View

from spendflo.confirm import confirmation_page, is_confirmed
from spendflo.organizations.services import organization_set_time_zone
from spendflo.organizations.timezones import TimeZoneError, time_zone_names
from spendflo.users.backends import REFUSAL_ATTRIBUTE
from spendflo.users.context import request_organization, request_user
from spendflo.users.forms import SignInForm, UserCreateForm, UserRoleForm
from spendflo.users.models import User
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability
from spendflo.users.selectors import user_list
from spendflo.users.services import UserError, user_change_role, user_create, user_set_active
from spendflo.users.throttle import password_reset_allowed, reset_refusal_message

# A new user's one-time password waits in the server-side session for the one page that
# shows it, never in the messages cookie (signed, not encrypted: its holder could read it).
NEW_USER_SESSION_KEY = "users:new_user"


def _org_user(request: HttpRequest, pk: int) -> User:
    # Tenant check: a user id from another organization is simply not found.
    try:
        return user_list(organization=request_organization(request)).get(pk=pk)
    except User.DoesNotExist as exc:
        raise Http404 from exc


class UserListView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_USERS

    def get(self, request: HttpRequest, form: UserCreateForm | None = None) -> HttpResponse:
        users = list(user_list(organization=request_organization(request)))
        created = request.session.pop(NEW_USER_SESSION_KEY, None)
        response = render(
            request,
            "users/user_list.html",
            {
                "users": users,
                "form": form or UserCreateForm(),
                "roles": User.Role.choices,
                "created": created,
            },
            status=400 if form is not None and form.errors else 200,
        )
        if created is not None:
            # Shown once: no browser or proxy may keep a copy of the page with the password.
            add_never_cache_headers(response)
        return response

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UserCreateForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            user, password = user_create(
                organization=request_organization(request),
                **form.cleaned_data,
            )
        except UserError as exc:
            form.add_error(None, str(exc))
            return self.get(request, form=form)
        request.session[NEW_USER_SESSION_KEY] = {"email": user.email, "password": password}
        messages.success(request, f"{user.email} was added as {user.get_role_display()}.")
        return redirect("users:list")


class UserRoleView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_USERS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = _org_user(request, pk)
        form = UserRoleForm(request.POST)
        if form.is_valid():
            try:
                user_change_role(user=user, role=form.cleaned_data["role"])
                messages.success(request, f"{user.email} is now {user.get_role_display()}.")
            except UserError as exc:
                messages.error(request, str(exc))
        else:
            messages.error(request, "Choose a valid role.")
        return redirect("users:list")


class UserActiveView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_USERS

    def post(self, request: HttpRequest, pk: int, **kwargs: Any) -> HttpResponse:
        user = _org_user(request, pk)
        active = request.POST.get("active") == "1"
        if not active and user.is_active and not is_confirmed(request):
            return confirmation_page(
                request,
                question=f"Deactivate {user.email}?",
                details=[
                    "They are signed out and can no longer sign in or use the API.",
                    "Their requests and history are kept; reactivate them at any time.",
                ],
                confirm_label=f"Deactivate {user.email}",
                cancel_url=reverse("users:list"),
            )
        try:
            user_set_active(user=user, active=active)
            messages.success(
                request, f"{user.email} was {'reactivated' if active else 'deactivated'}."
            )
        except UserError as exc:
            messages.error(request, str(exc))
        return redirect("users:list")


class SignInView(auth_views.LoginView):
    """The sign-in page; a refused attempt during a lockout answers 429 with the wait."""

    authentication_form = SignInForm

    def form_invalid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if getattr(self.request, REFUSAL_ATTRIBUTE, None):
            response.status_code = 429
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, limited per email and per address. The same page follows
    whether or not the email has an account; the limit counts both alike."""

    def form_valid(self, form: Form) -> HttpResponse:
        wait = password_reset_allowed(email=form.cleaned_data["email"], request=self.request)
        if wait:
            form.add_error(None, reset_refusal_message(wait))
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


class OrganizationSettingsView(CapabilityRequiredMixin, View):
    """The organization's settings page: its time zone (admins)."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def get(
        self, request: HttpRequest, error: str = "", chosen: str = "", status: int = 200
    ) -> HttpResponse:
        organization = request_organization(request)
        return render(
            request,
            "users/organization.html",
            {
                "organization": organization,
                "time_zones": time_zone_names(),
                "chosen": chosen or organization.time_zone,
                "error": error,
                "now": timezone.now(),
            },
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        chosen = request.POST.get("time_zone", "")
        try:
            organization = organization_set_time_zone(
                organization=request_organization(request),
                user=request_user(request),
                time_zone=chosen,
            )
        except TimeZoneError as exc:
            return self.get(request, error=str(exc), chosen=chosen, status=400)
        messages.success(request, f"Dates and times are now shown in {organization.time_zone}.")
        return redirect("organization_settings")

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from integrations.models import WorkerHeartbeat
from integrations.providers import procurement_cards, provider_list
from integrations.selectors import sync_run_list
from spendflo.audit.selectors import audit_event_list
from spendflo.organizations.services import organization_set_show_new_records
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability


class ProcurementView(CapabilityRequiredMixin, View):
    """Settings → Integrations → Procurement: the procurement systems an admin can connect."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        organization, user = request_organization(request), request_user(request)
        cards = procurement_cards(organization=organization, user=user)
        return render(request, "integrations/procurement.html", {"cards": cards})


class DefaultVisibilityView(CapabilityRequiredMixin, View):
    """Whether newly imported records are shown to users by default (an organization setting)."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest) -> HttpResponse:
        shown = request.POST.get("show_new_records_by_default") == "1"
        organization_set_show_new_records(
            organization=request_organization(request), user=request_user(request), shown=shown
        )
        messages.success(
            request,
            "New records will be "
            + ("shown to users." if shown else "hidden until an admin shows them."),
        )
        return redirect("integrations:procurement")


class SyncActivityView(CapabilityRequiredMixin, View):
    """Every sync run of the organization, newest first, with counts and errors."""

    capability = Capability.VIEW_SYNC_ACTIVITY

    def get(self, request: HttpRequest) -> HttpResponse:
        runs = sync_run_list(organization=request_organization(request))
        page = Paginator(runs, 50).get_page(request.GET.get("page"))
        heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
        organization, user = request_organization(request), request_user(request)
        actions = [
            action
            for provider in provider_list()
            for action in provider.sync_activity_actions(organization=organization, user=user)
        ]
        return render(
            request,
            "integrations/sync_activity.html",
            {"page_obj": page, "heartbeat": heartbeat, "actions": actions},
        )


class AuditView(CapabilityRequiredMixin, View):
    """Who did what and when, newest first (admins and ops)."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        events = audit_event_list(organization=request_organization(request))
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        return render(request, "integrations/audit.html", {"page_obj": page})

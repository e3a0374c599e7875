from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability


class ProcurementView(CapabilityRequiredMixin, View):
    """Settings → Integrations → Procurement: the procurement systems an admin can connect."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        providers = [{"name": "Coupa", "state": "not_connected", "state_label": "Not connected"}]
        return render(request, "integrations/procurement.html", {"providers": providers})


class SyncActivityView(CapabilityRequiredMixin, View):
    """Every sync run of the organization, newest first."""

    capability = Capability.VIEW_SYNC_ACTIVITY

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "integrations/sync_activity.html", {"runs": []})

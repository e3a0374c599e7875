from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability


class RequestListView(CapabilityRequiredMixin, View):
    """A requester's own purchase requests."""

    capability = Capability.SUBMIT_REQUESTS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "workflows/request_list.html", {"requests": []})

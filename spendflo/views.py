from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from spendflo.users.roles import Capability, user_can


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each role to the page it uses most."""
    if user_can(request.user, Capability.VIEW_INTEGRATIONS):
        return redirect("integrations:procurement")
    return redirect("workflows:request_list")

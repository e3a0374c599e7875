from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import defaults

from spendflo.middleware import is_api_request
from spendflo.rest import SERVER_ERROR_MESSAGE
from spendflo.users.roles import Capability, user_can


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each role to the page it uses most."""
    if user_can(request.user, Capability.VIEW_INTEGRATIONS):
        return redirect("integrations:procurement")
    return redirect("workflows:request_list")


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, in JSON for the API (an error outside any API view)."""
    if is_api_request(request):
        return JsonResponse({"detail": SERVER_ERROR_MESSAGE}, status=500)
    return defaults.server_error(request)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 page, in JSON for the API (a path no endpoint serves)."""
    if is_api_request(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)

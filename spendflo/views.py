from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views import defaults

from spendflo.middleware import is_api_request
from spendflo.rest import SERVER_ERROR_MESSAGE
from spendflo.users.permissions import Access, declare_access, public
from spendflo.users.roles import Capability, user_can


@public
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (Django's admin)."""
    return redirect(static("favicon.svg"), permanent=True)


@declare_access(Access.SIGNED_IN)
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


def _error_page(request: HttpRequest, *, template: str, status: int, reason: str) -> HttpResponse:
    return render(request, template, {"reason": reason}, status=status)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403 in the site's layout, with the refusal's sentence (who may do this)."""
    reason = str(exception) or "Your role does not allow this page."
    if is_api_request(request):
        return JsonResponse({"detail": reason}, status=403)
    return _error_page(request, template="403.html", status=403, reason=reason)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 in the site's layout; a view's own sentence ("Coupa is not connected.") is shown.
    In JSON for the API (a path no endpoint serves)."""
    if is_api_request(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    message = exception.args[0] if exception.args else ""
    reason = message if isinstance(message, str) and message else ""
    return _error_page(request, template="404.html", status=404, reason=reason)

"""Request checks every page and API endpoint shares."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

NULL_CHARACTER_MESSAGE = "Null characters are not allowed."
UNREADABLE_FORM_MESSAGE = (
    "The form data could not be read: a multipart body needs a boundary that separates its "
    "parts. Send it again as multipart/form-data with a boundary, or as JSON."
)


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is for the JSON API (answered in JSON, errors included)."""
    return request.path.startswith("/api/")


def _field_with_null(params: QueryDict) -> str | None:
    for key, values in params.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "")
    return None


class RefuseNullCharactersMiddleware:
    """Answer 400, naming the field, when a query string or form value holds a null
    character: PostgreSQL refuses them in text, so a search or form would otherwise fail
    with a server error. JSON bodies are checked by the API's parser. A form body that
    cannot be read at all is a 400 with a sentence too (JSON on the API)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _field_with_null(request.GET)
        if field is None and request.method == "POST" and _is_form(request):
            try:
                field = _field_with_null(request.POST)
            except MultiPartParserError:
                if is_api_request(request):
                    return JsonResponse({"detail": UNREADABLE_FORM_MESSAGE}, status=400)
                context = {"message": UNREADABLE_FORM_MESSAGE}
                return render(request, "bad_request.html", context, status=400)
        if field is None:
            return self.get_response(request)
        if is_api_request(request):
            return JsonResponse({field or "non_field_errors": [NULL_CHARACTER_MESSAGE]}, status=400)
        message = f"{_label(field)}: null characters are not allowed. Remove them and try again."
        return render(request, "bad_request.html", {"message": message}, status=400)


def _is_form(request: HttpRequest) -> bool:
    content_type = request.content_type or ""
    return content_type in ("application/x-www-form-urlencoded", "multipart/form-data")


# Parameter names whose words differ from what the page calls the field.
_LABELS = {"q": "Search"}


def _label(field: str) -> str:
    return _LABELS.get(field) or (field.replace("_", " ").strip() or "A field").capitalize()


class ContentSecurityPolicyMiddleware:
    """Send `settings.CONTENT_SECURITY_POLICY` with every response: the pages load scripts,
    styles, images and fonts from the app only, with no inline script or style.

    The API documentation page (Swagger UI) configures itself with inline scripts and
    styles: it gets `CONTENT_SECURITY_POLICY_API_DOCS`; it renders only the schema, never
    user data.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path.startswith(settings.CONTENT_SECURITY_POLICY_API_DOCS_PATHS)
            response["Content-Security-Policy"] = (
                settings.CONTENT_SECURITY_POLICY_API_DOCS
                if docs
                else settings.CONTENT_SECURITY_POLICY
            )
        return response

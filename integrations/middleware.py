"""Pages: a job the broker refused (`JobQueueUnavailableError`) is a 503 with its sentence."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from integrations.jobs import JobQueueUnavailableError


class JobQueueUnavailableMiddleware:
    """Answer a page whose job the broker refused with the sentence, never a 500.

    The service has already left a consistent state (see `integrations.jobs`). Views with
    a better place to show the sentence (Validate, Sync Data) catch the error themselves.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, JobQueueUnavailableError):
            return None
        return render(
            request,
            "integrations/queue_unavailable.html",
            {"message": str(exception)},
            status=503,
        )

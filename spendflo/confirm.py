"""A confirm step for destructive page actions that works as a plain form POST.

The first POST (without `confirm=yes`) answers with a page that names what the action
affects and re-posts the same fields with `confirm=yes`; only that second POST acts.
No script is needed, so the step holds whatever the browser runs; the JSON API is
explicit by nature and has no such step.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"


def is_confirmed(request: HttpRequest) -> bool:
    """Whether the POST carries the confirmation of its confirm page."""
    return request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation_page(
    request: HttpRequest,
    *,
    question: str,
    details: Sequence[str],
    confirm_label: str,
    cancel_url: str,
) -> HttpResponse:
    """The confirm page: the question, what it affects, and the same POST to confirm it."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", CONFIRM_FIELD)
        for value in values
    ]
    return render(
        request,
        "confirm.html",
        {
            "question": question,
            "details": details,
            "confirm_label": confirm_label,
            "cancel_url": cancel_url,
            "action": request.get_full_path(),
            "fields": fields,
        },
    )

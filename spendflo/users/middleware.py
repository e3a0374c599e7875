"""Pages show dates and times in the signed-in user's organization's time zone; the JSON API
keeps UTC (ISO 8601 with the offset)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from spendflo.users.models import User

API_PREFIX = "/api/"


class OrganizationTimeZoneMiddleware:
    """Activate the organization's time zone for the request (UTC when there is none)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        organization = user.organization if isinstance(user, User) else None
        if request.path_info.startswith(API_PREFIX):
            # The JSON API's datetimes stay in UTC, however the caller signed in.
            organization = None
        try:
            zone = zoneinfo.ZoneInfo(organization.time_zone) if organization else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None  # a name the system no longer knows: fall back to UTC
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

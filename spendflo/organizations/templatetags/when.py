"""`{{ value|when }}`: a date and time in the one human format, in the current time zone.

A builtin of the template engine (settings.TEMPLATES), so every page uses it without
loading it. The current time zone is the organization's (activated per request).
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html

from spendflo.organizations.timezones import human_date, human_datetime

register = template.Library()


@register.filter
def when(value: object, missing: str = "") -> str:
    """Render a datetime as <time datetime="ISO 8601">1 Dec 2026, 17:32 CET</time>."""
    if isinstance(value, dt.datetime):
        zone = timezone.get_current_timezone()
        local = value.astimezone(zone) if value.tzinfo else value
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            local.isoformat(timespec="seconds"),
            str(zone),
            human_datetime(value, zone),
        )
    if isinstance(value, dt.date):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), human_date(value))
    return missing

"""How pages display values: `{{ value|when }}` (a date and time in the one human format,
in the current time zone) and `{{ email|breakable }}` (an address that wraps at its @).

A builtin of the template engine (settings.TEMPLATES), so every page uses it without
loading it. The current time zone is the organization's (activated per request).
"""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from spendflo.organizations.timezones import human_date, human_datetime

register = template.Library()


@register.filter
def when(value: object, missing: str = "") -> str:
    """Render a datetime as <time datetime="ISO 8601">1 Dec 2026, 17:32 CET</time>."""
    if isinstance(value, dt.datetime):
        zone = timezone.get_current_timezone()
        local = value.astimezone(zone) if value.tzinfo else value
        # Two unbreakable halves, so a narrow column wraps between the date and the time.
        day, clock = human_datetime(value, zone).split(", ", 1)
        return format_html(
            '<time datetime="{}" title="{}"><span>{},</span> <span>{}</span></time>',
            local.isoformat(timespec="seconds"),
            str(zone),
            day,
            clock,
        )
    if isinstance(value, dt.date):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), human_date(value))
    return missing


@register.filter
def breakable(value: object) -> str:
    """An email address that may wrap after its @ and dots, never inside a word."""
    text = str(value or "")
    pieces = re.split(r"(?<=[@.])", text)
    return format_html_join(mark_safe("<wbr>"), "{}", ((p,) for p in pieces))

"""The organization's time zone and the one human format of dates and times on pages.

Pages show every date and time as "1 Dec 2026, 17:32 CET": in the organization's time
zone, with the zone named. The JSON API keeps ISO 8601 with an offset.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

DEFAULT_TIME_ZONE = "UTC"


class TimeZoneError(ValueError):
    """A time zone name that is not an IANA zone."""


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone name this system knows, sorted (for the settings page's list)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def time_zone_validate(name: str) -> str:
    """Return the zone name, stripped; raise TimeZoneError with a sentence if unknown."""
    name = (name or "").strip()
    if name not in time_zone_names():
        raise TimeZoneError(
            f"{name!r} is not a time zone name; use an IANA name such as UTC, "
            "Europe/Paris or America/New_York."
            if name
            else "Choose a time zone, such as UTC, Europe/Paris or America/New_York."
        )
    return name


def zone_label(value: dt.datetime) -> str:
    """The zone of an aware datetime as people read it: CET, EST, UTC, or UTC+04."""
    abbreviation = value.tzname() or ""
    if not abbreviation or abbreviation[0] in "+-":
        offset = value.utcoffset() or dt.timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        return "UTC" if minutes == 0 else f"UTC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")
    return abbreviation


def human_datetime(value: dt.datetime, zone: dt.tzinfo) -> str:
    """One date and time as pages show it, in `zone`: "1 Dec 2026, 17:32 CET"."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {zone_label(local)}"


def human_date(value: dt.date) -> str:
    """A calendar date (no time, so no zone) as pages show it: "1 Dec 2026"."""
    return f"{value.day} {value:%b %Y}"

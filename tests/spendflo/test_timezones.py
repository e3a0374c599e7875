"""The one human format of dates and times, and the zone names it accepts."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from spendflo.organizations.timezones import (
    TimeZoneError,
    human_date,
    human_datetime,
    time_zone_validate,
)

MOMENT = dt.datetime(2026, 12, 1, 12, 2, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("UTC", "1 Dec 2026, 12:02 UTC"),
        ("Europe/Paris", "1 Dec 2026, 13:02 CET"),
        ("America/New_York", "1 Dec 2026, 07:02 EST"),
        ("Asia/Kolkata", "1 Dec 2026, 17:32 IST"),
        ("Asia/Dubai", "1 Dec 2026, 16:02 UTC+04"),  # a zone without a letter abbreviation
        ("Asia/Kathmandu", "1 Dec 2026, 17:47 UTC+05:45"),
        ("Pacific/Kiritimati", "2 Dec 2026, 02:02 UTC+14"),  # the next day there
    ],
)
def test_a_moment_reads_in_the_zone_with_the_zone_named(zone: str, shown: str) -> None:
    assert human_datetime(MOMENT, zoneinfo.ZoneInfo(zone)) == shown


def test_summer_time_is_named() -> None:
    summer = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert human_datetime(summer, zoneinfo.ZoneInfo("Europe/Paris")) == "1 Jul 2026, 14:00 CEST"


def test_a_date_has_no_time_and_no_zone() -> None:
    assert human_date(dt.date(2027, 1, 5)) == "5 Jan 2027"


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", " America/New_York "])
def test_iana_names_are_accepted(name: str) -> None:
    assert time_zone_validate(name) == name.strip()


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "europe/paris", "+05:30", "../../etc/passwd"])
def test_other_names_are_refused_with_a_sentence(name: str) -> None:
    with pytest.raises(TimeZoneError, match="time zone"):
        time_zone_validate(name)

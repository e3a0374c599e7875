"""Every page shows dates and times in one format, in the organization's time zone, named;
the time zone is an organization setting (page and API), validated, UTC by default."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import SyncRun, WorkerHeartbeat
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.organizations.models import Organization
from spendflo.workflows.models import Notification, PurchaseRequest
from spendflo.workflows.requests import request_submit
from tests.factories import (
    AccountFactory,
    ChartFactory,
    ConnectionFactory,
    ItemFactory,
    SyncRunFactory,
    UomFactory,
    VendorFactory,
)
from tests.spendflo.workflows.conftest import build_published, good_answers
from tests.spendflo.workflows.conftest import fake_provider as _fake_provider  # noqa: F401

pytestmark = pytest.mark.django_db

# 12:02 UTC is 17:32 in Kolkata (UTC+05:30), so a page in the wrong zone cannot pass.
MOMENT = dt.datetime(2026, 12, 1, 12, 2, 1, tzinfo=dt.UTC)
SHOWN = "1 Dec 2026, 17:32 IST"
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
ONE_FORMAT = re.compile(rf"\b\d{{1,2}} {MONTH} \d{{4}}, \d{{2}}:\d{{2}} [A-Z]{{3,5}}\b")
OTHER_FORMATS = [
    re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)"),  # 2026-12-01 17:32, 2026-12-01T12:02:01
    re.compile(r"(?<!\d)\d{1,2}:\d{2}:\d{2}"),  # seconds
    re.compile(r"\b[ap]\.m\.", re.I),  # 5:32 p.m.
    re.compile(rf"\b{MONTH}\.? \d{{1,2}}, \d{{4}}"),  # Dec. 1, 2026
    re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),  # 12/01/2026
]


class _Text(HTMLParser):
    """The visible text of a page (no tags, attributes, scripts or styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def assert_one_format(html: str, url: str) -> None:
    text = visible_text(html)
    for pattern in OTHER_FORMATS:
        found = pattern.search(text)
        assert found is None, f"{url} shows {found.group(0)!r}, not the one date format"
    assert SHOWN in text, f"{url} does not show {SHOWN!r}"
    assert {m.group(0)[-3:] for m in ONE_FORMAT.finditer(text)} == {"IST"}, url


@pytest.fixture
def kolkata(organization: Organization) -> Organization:
    organization.time_zone = "Asia/Kolkata"
    organization.save()
    return organization


@pytest.fixture
def coupa_data(kolkata: Organization, admin_user: Any) -> Any:
    with time_machine.travel(MOMENT, tick=False):
        connection = ConnectionFactory(organization=kolkata, last_validated_at=MOMENT)
        chart = ChartFactory(connection=connection)
        AccountFactory(connection=connection, chart=chart)
        VendorFactory(connection=connection)
        ItemFactory(connection=connection)
        UomFactory(connection=connection)
        SyncRunFactory(
            connection=connection,
            state=SyncRun.State.SUCCEEDED,
            started_at=MOMENT,
            finished_at=MOMENT,
        )
        audit_record(
            organization=kolkata,
            action=AuditEvent.Action.SYNC_REQUEST,
            summary="Requested a sync",
            actor=admin_user,
            connection=connection,
        )
        WorkerHeartbeat.objects.create(worker="celery@test", seen_at=MOMENT)
    return connection


COUPA_PAGES = [
    ("integrations:procurement", []),
    ("coupa:sync_progress", []),
    ("coupa:records", ["accounts"]),
    ("coupa:records", ["vendors"]),
    ("coupa:records", ["items"]),
    ("coupa:records", ["supporting"]),
    ("integrations:sync_activity", []),
    ("integrations:audit", []),
]


@pytest.mark.parametrize(("name", "args"), COUPA_PAGES)
def test_integration_pages_show_dates_in_one_format_in_the_organizations_zone(
    client_as: Any, admin_user: Any, coupa_data: Any, name: str, args: list[str]
) -> None:
    url = reverse(name, args=args)
    if name == "coupa:records" and args == ["supporting"]:
        url += "?type=uoms"
    response = client_as(admin_user).get(url)
    assert response.status_code == 200
    assert_one_format(response.content.decode(), url)


@pytest.fixture
def request_data(
    request: pytest.FixtureRequest, kolkata: Organization, admin_user: Any, requester_user: Any
) -> PurchaseRequest:
    provider = request.getfixturevalue("_fake_provider")  # the only one: no Coupa mapping
    with time_machine.travel(MOMENT, tick=False):
        version = build_published(kolkata, admin_user)
        answers = good_answers()
        answers["request"]["need_by"] = "2026-12-15"
        submitted = request_submit(
            version=version, requester=requester_user, title="Chairs", answers=answers
        )
        Notification.objects.create(
            recipient=requester_user,
            request=submitted,
            event=submitted.events.first(),
            message="Submitted",
        )
        # A provider reports its attempts' times in ISO 8601; the page shows them as all else.
        provider.documents[submitted.pk] = {
            "id": None,
            "attempts": [{"at": MOMENT.isoformat(), "outcome": "refused", "message": "400"}],
        }
        return submitted


def test_workflow_and_request_pages_show_dates_in_one_format_in_the_organizations_zone(
    client_as: Any, admin_user: Any, requester_user: Any, request_data: PurchaseRequest
) -> None:
    workflow = request_data.version.workflow
    pages = {
        admin_user: [
            reverse("workflow_settings:list"),
            reverse("workflow_settings:workflow", args=[workflow.pk]),
            reverse("workflows:request_all"),
            reverse("workflows:request", args=[request_data.pk]),
        ],
        requester_user: [
            reverse("workflows:request_list"),
            reverse("workflows:request", args=[request_data.pk]),
            reverse("workflows:notices"),
        ],
    }
    for user, urls in pages.items():
        client = client_as(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert_one_format(response.content.decode(), url)
    admin_detail = client_as(admin_user).get(pages[admin_user][3]).content.decode()
    assert 'data-testid="attempts"' in admin_detail
    assert visible_text(admin_detail).count(SHOWN) >= 2  # submitted, and the attempt
    # A date answer (no time, so no zone) reads as the date part of the same format.
    detail = visible_text(client_as(requester_user).get(pages[requester_user][1]).content.decode())
    assert "15 Dec 2026" in detail


def test_the_settings_page_shows_now_in_the_zone(
    client_as: Any, admin_user: Any, kolkata: Organization
) -> None:
    with time_machine.travel(MOMENT, tick=False):
        response = client_as(admin_user).get(reverse("organization_settings"))
    assert_one_format(response.content.decode(), "settings")


def test_the_zone_is_utc_by_default(
    client_as: Any, admin_user: Any, organization: Organization
) -> None:
    assert Organization.objects.get(pk=organization.pk).time_zone == "UTC"
    with time_machine.travel(MOMENT, tick=False):
        html = client_as(admin_user).get(reverse("organization_settings")).content.decode()
    assert "1 Dec 2026, 12:02 UTC" in visible_text(html)


def test_an_admin_sets_the_zone_on_the_page_and_it_is_audited(
    client_as: Any, admin_user: Any, organization: Organization
) -> None:
    client = client_as(admin_user)
    response = client.post(
        reverse("organization_settings"), {"time_zone": "Europe/Paris"}, follow=True
    )
    assert "Dates and times are now shown in Europe/Paris." in response.content.decode()
    organization.refresh_from_db()
    assert organization.time_zone == "Europe/Paris"
    event = AuditEvent.objects.get(action=AuditEvent.Action.SETTINGS_CHANGE)
    assert event.summary == "Time zone changed from UTC to Europe/Paris"


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "europe/paris", "../etc/passwd", "CET; DROP"])
def test_a_name_that_is_not_a_zone_is_refused_with_words_and_changes_nothing(
    client_as: Any, admin_user: Any, organization: Organization, bad: str
) -> None:
    response = client_as(admin_user).post(reverse("organization_settings"), {"time_zone": bad})
    assert response.status_code == 400
    assert "time zone" in visible_text(response.content.decode())
    organization.refresh_from_db()
    assert organization.time_zone == "UTC"
    api = APIClient()
    api.force_authenticate(admin_user)
    body = api.patch("/api/v1/organization", {"time_zone": bad}, format="json")
    assert body.status_code == 400
    assert "time zone" in body.json()["time_zone"][0].lower()
    organization.refresh_from_db()
    assert organization.time_zone == "UTC"


def test_others_cannot_change_the_zone(
    client_as: Any, requester_user: Any, ops_user: Any, organization: Organization
) -> None:
    assert (
        client_as(requester_user)
        .post(reverse("organization_settings"), {"time_zone": "Asia/Tokyo"})
        .status_code
        == 403
    )
    api = APIClient()
    api.force_authenticate(ops_user)
    assert (
        api.patch("/api/v1/organization", {"time_zone": "Asia/Tokyo"}, format="json").status_code
        == 403
    )
    assert api.get("/api/v1/organization").json()["time_zone"] == "UTC"
    organization.refresh_from_db()
    assert organization.time_zone == "UTC"


def test_the_api_keeps_utc_datetimes_in_iso_8601_whatever_the_zone(
    client_as: Any, admin_user: Any, coupa_data: Any
) -> None:
    """Signed in with a session (as a page's script would be), the API still answers in UTC."""
    runs = client_as(admin_user).get("/api/v1/coupa/sync-runs").json()
    started = (runs["results"] if isinstance(runs, dict) else runs)[0]["started_at"]
    assert dt.datetime.fromisoformat(started) == MOMENT
    assert started.endswith(("Z", "+00:00"))


def test_the_api_sets_the_zone_and_keeps_iso_datetimes_with_offset(
    admin_user: Any, coupa_data: Any
) -> None:
    api = APIClient()
    api.force_authenticate(admin_user)
    body = api.patch(
        "/api/v1/organization", {"time_zone": "America/New_York"}, format="json"
    ).json()
    assert body["time_zone"] == "America/New_York"
    assert body["show_new_records_by_default"] is True  # a partial update keeps the rest
    runs = api.get("/api/v1/coupa/sync-runs").json()
    started = (runs["results"] if isinstance(runs, dict) else runs)[0]["started_at"]
    assert dt.datetime.fromisoformat(started) == MOMENT
    assert re.search(r"(Z|[+-]\d{2}:\d{2})$", started)

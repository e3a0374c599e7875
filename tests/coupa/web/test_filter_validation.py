"""Tab filters that do not parse are refused (400, with words), never dropped: a dropped
filter turned "Hide all of chart 0" into "hide everything"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from coupa.models import Account, Vendor
from spendflo.audit.models import AuditEvent
from tests.coupa.web import test_records_pages
from tests.coupa.web.test_records_pages import api_as

pytestmark = pytest.mark.django_db

data = test_records_pages.data  # fixture: one connection's charts, accounts, vendors, items


def _shown() -> list[bool]:
    return list(Account.objects.order_by("pk").values_list("show_to_users", flat=True))


@pytest.mark.parametrize("chart", [0, -5, "abc", "1.5", True])
def test_bulk_visibility_with_a_chart_that_does_not_parse_is_refused(
    admin_user, data, chart
) -> None:
    before = _shown()
    response = api_as(admin_user).post(
        "/api/v1/coupa/accounts/bulk-visibility",
        {"show_to_users": False, "chart": chart},
        format="json",
    )
    assert response.status_code == 400
    assert "chart" in response.json()
    assert _shown() == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("visibility", "bogus"), ("active", "yes"), ("chart", "0"), ("chart", "-5")],
)
def test_the_bulk_form_with_a_filter_that_does_not_parse_changes_nothing_and_says_why(
    client_as,
    admin_user,
    data,
    field,
    value,
) -> None:
    before = _shown()
    response = client_as(admin_user).post(
        reverse("coupa:bulk_toggle", args=["accounts"]),
        {
            "show_to_users": "0",
            "search": "",
            "chart": "",
            "visibility": "",
            "active": "",
            field: value,
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was changed." in html and f"{field.title()}: “{value}”" in html
    # The page lists nothing and offers no bulk action for a filter it could not read.
    assert "Hide all from users" not in html
    assert _shown() == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"visibility": "bogus"}, "visibility"),
        ({"active": "maybe"}, "active"),
        ({"chart": "x"}, "chart"),
        ({"chart": "0"}, "chart"),
        ({"sort": "password"}, "sort"),
    ],
)
def test_the_list_api_refuses_unknown_filter_values(admin_user, data, params, field) -> None:
    response = api_as(admin_user).get("/api/v1/coupa/accounts", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/coupa/vendors", {"chart": "1"}, "chart"),
        ("/api/v1/coupa/users", {"visibility": "shown"}, "visibility"),
        ("/api/v1/coupa/users", {"sort": "name"}, "sort"),
    ],
)
def test_a_filter_the_list_does_not_offer_is_refused(admin_user, data, path, params, field) -> None:
    response = api_as(admin_user).get(path, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_tab_refuses_an_unknown_filter_value_with_a_sentence(
    client_as, admin_user, data
) -> None:
    response = client_as(admin_user).get(
        reverse("coupa:records", args=["vendors"]), {"visibility": "bogus"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Visibility: “bogus” is not one of shown, hidden." in html
    assert "Acme Supplies" not in html and "Show all to users" not in html


def test_valid_filters_still_apply(admin_user, data) -> None:
    response = api_as(admin_user).post(
        "/api/v1/coupa/vendors/bulk-visibility",
        {"show_to_users": False, "visibility": "shown", "search": "acme"},
        format="json",
    )
    assert response.status_code == 200 and response.json() == {"changed": 1}
    assert not Vendor.objects.filter(show_to_users=True).exists()
    response = api_as(admin_user).post(
        "/api/v1/coupa/accounts/bulk-visibility",
        {"show_to_users": False, "chart": data["us"].pk},
        format="json",
    )
    assert response.json() == {"changed": 2}

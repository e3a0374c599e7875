"""Refusals and missing pages use the site's layout, say why and link back; the favicon."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "url", "reason"),
    [
        ("ops", "/settings/integrations/coupa/edit/",
         "Only admins can change the integrations&#x27; configuration; your role is Ops."),
        ("ops", "/settings/users/", "Only admins can manage users; your role is Ops."),
        ("requester", "/settings/integrations/procurement/",
         "Only admins and ops users can open the integration settings; your role is Requester."),
        ("ops", "/requests/new/",
         "Only admins and requesters can submit purchase requests; your role is Ops."),
    ],
)
def test_a_refused_page_says_why_in_the_site_layout(
    role, url, reason, make_user, organization, client_as
) -> None:
    user = make_user(role, organization)
    response = client_as(user).get(url)
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="error-page"' in html and reason in html
    assert 'aria-label="Main"' in html  # the navigation of the layout
    assert f'href="{reverse("home")}"' in html


def test_an_unknown_page_is_a_404_in_the_site_layout(client_as, admin_user) -> None:
    response = client_as(admin_user).get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing at /no/such/page/" in html and 'aria-label="Main"' in html
    assert "Resolver404" not in html


def test_a_views_own_not_found_sentence_is_shown(client_as, admin_user) -> None:
    response = client_as(admin_user).get(reverse("coupa:edit"))
    assert response.status_code == 404
    assert "Coupa is not connected." in response.content.decode()


def test_the_favicon_is_served_by_the_app(client_as, admin_user) -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    html = client_as(admin_user).get(reverse("users:list")).content.decode()
    assert 'rel="icon"' in html


def test_api_docs_name_no_outside_host(client_as, admin_user) -> None:
    html = client_as(admin_user).get("/api/docs/").content.decode()
    assert "googleapis" not in html and "gstatic" not in html and "cdn." not in html
    assert "https://" not in html


def test_the_old_redoc_address_leads_to_the_api_docs(client_as, admin_user) -> None:
    response = client_as(admin_user).get("/api/redoc/")
    assert response.status_code == 301 and response["Location"] == "/api/docs/"


def test_add_user_defaults_to_the_least_privileged_role(client_as, admin_user) -> None:
    html = client_as(admin_user).get(reverse("users:list")).content.decode()
    add_form = html.split("<h2>Add a user</h2>")[1].split("</form>")[0]
    assert '<option value="requester" selected>' in add_form
    assert add_form.count(" selected>") == 1

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.urls import reverse

from spendflo.users.models import User

pytestmark = pytest.mark.django_db


def test_admin_adds_a_user_with_a_role_and_sees_a_one_time_password(client_as, admin_user) -> None:
    response = client_as(admin_user).post(
        reverse("users:list"), {"email": "New@Acme.test", "role": "ops"}, follow=True
    )
    created = User.objects.get(email="new@acme.test")
    assert created.organization == admin_user.organization
    assert created.role == User.Role.OPS
    assert b"one-time password" in response.content


def test_the_one_time_password_never_travels_in_a_cookie_and_shows_once(
    client_as, admin_user
) -> None:
    """The password is kept in the server-side session for the one page that shows it: no
    Set-Cookie (the messages cookie is signed, not encrypted) carries it, the page is not
    cached, and reloading it does not show it again."""
    client = client_as(admin_user)
    posted = client.post(reverse("users:list"), {"email": "new@acme.test", "role": "ops"})
    assert posted.status_code == 302
    shown = client.get(posted["Location"])
    match = re.search(
        r"one-time password of new@acme\.test is <code>([^<]+)</code>", shown.content.decode()
    )
    assert match
    password = match.group(1)
    assert User.objects.get(email="new@acme.test").check_password(password)
    for response in (posted, shown):
        for morsel in response.cookies.values():
            assert password not in morsel.value
            assert password not in unquote(morsel.value)
        assert password not in str(response.cookies)
    assert "no-store" in shown["Cache-Control"]
    again = client.get(reverse("users:list"))
    assert password not in again.content.decode()
    assert "one-time-password" not in again.content.decode()


def test_adding_an_existing_email_is_refused_and_loses_nothing(client_as, admin_user) -> None:
    response = client_as(admin_user).post(
        reverse("users:list"), {"email": admin_user.email, "role": "ops"}
    )
    assert response.status_code == 400
    assert b"already exists" in response.content
    assert User.objects.get(email=admin_user.email).role == User.Role.ADMIN


def test_admin_changes_a_role_and_deactivates(client_as, admin_user, requester_user) -> None:
    client = client_as(admin_user)
    client.post(reverse("users:role", args=[requester_user.pk]), {"role": "ops"})
    requester_user.refresh_from_db()
    assert requester_user.role == User.Role.OPS
    response = client.post(reverse("users:active", args=[requester_user.pk]), {"active": "0"})
    assert f"Deactivate {requester_user.email}?" in response.content.decode()
    requester_user.refresh_from_db()
    assert requester_user.is_active
    client.post(
        reverse("users:active", args=[requester_user.pk]), {"active": "0", "confirm": "yes"}
    )
    requester_user.refresh_from_db()
    assert not requester_user.is_active


def test_the_last_admin_cannot_be_demoted_or_deactivated(client_as, admin_user) -> None:
    client = client_as(admin_user)
    response = client.post(
        reverse("users:role", args=[admin_user.pk]), {"role": "requester"}, follow=True
    )
    assert b"at least one active admin" in response.content
    client.post(reverse("users:active", args=[admin_user.pk]), {"active": "0", "confirm": "yes"})
    admin_user.refresh_from_db()
    assert admin_user.role == User.Role.ADMIN and admin_user.is_active


def test_an_admin_cannot_touch_another_organizations_users(
    client_as, admin_user, make_user, other_organization
) -> None:
    stranger = make_user("requester", other_organization, email="s@globex.test")
    client = client_as(admin_user)
    assert b"s@globex.test" not in client.get(reverse("users:list")).content
    assert (
        client.post(reverse("users:role", args=[stranger.pk]), {"role": "admin"}).status_code == 404
    )
    assert (
        client.post(reverse("users:active", args=[stranger.pk]), {"active": "0"}).status_code == 404
    )
    stranger.refresh_from_db()
    assert stranger.role == User.Role.REQUESTER and stranger.is_active

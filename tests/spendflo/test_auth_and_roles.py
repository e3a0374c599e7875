from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from spendflo.users.models import User

pytestmark = pytest.mark.django_db


def test_login_with_email_and_password_reaches_home(admin_user: User, password: str) -> None:
    client = Client()
    response = client.post(
        reverse("login"), {"username": "admin@acme.test", "password": password}
    )
    assert response.status_code == 302
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("integrations:procurement")


def test_wrong_password_is_refused_with_a_message(admin_user: User) -> None:
    response = Client().post(reverse("login"), {"username": "admin@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content


def test_deactivated_user_cannot_sign_in(requester_user: User, password: str) -> None:
    requester_user.is_active = False
    requester_user.save()
    client = Client()
    assert not client.login(username=requester_user.email, password=password)


def test_logout_ends_the_session(client_as, admin_user: User) -> None:
    client = client_as(admin_user)
    client.post(reverse("logout"))
    response = client.get(reverse("integrations:procurement"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_password_reset_sends_a_working_link(requester_user: User) -> None:
    client = Client()
    client.post(reverse("password_reset"), {"email": requester_user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link
    response = client.get(link.group(1), follow=True)
    assert response.status_code == 200
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": "another-long-pass-77", "new_password2": "another-long-pass-77"},
    )
    assert response.status_code == 302
    assert Client().login(username=requester_user.email, password="another-long-pass-77")


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("admin", ["integrations", "requests", "sync-activity", "users"], []),
        ("ops", ["integrations", "sync-activity"], ["requests", "users"]),
        ("requester", ["requests"], ["integrations", "sync-activity", "users"]),
    ],
)
def test_navigation_shows_only_what_the_role_may_use(
    client_as, make_user, organization, role: str, visible: list[str], hidden: list[str]
) -> None:
    user = make_user(role, organization)
    target = "workflows:request_list" if role == "requester" else "integrations:sync_activity"
    html = client_as(user).get(reverse(target)).content.decode()
    for name in visible:
        assert f'data-nav="{name}"' in html
    for name in hidden:
        assert f'data-nav="{name}"' not in html


@pytest.mark.parametrize(
    ("url_name", "allowed"),
    [
        ("users:list", {"admin"}),
        ("integrations:procurement", {"admin", "ops"}),
        ("integrations:sync_activity", {"admin", "ops"}),
        ("workflows:request_list", {"admin", "requester"}),
    ],
)
def test_pages_enforce_roles_server_side(
    client_as, make_user, organization, url_name: str, allowed: set[str]
) -> None:
    for role in User.Role.values:
        response = client_as(make_user(role, organization)).get(reverse(url_name))
        assert response.status_code == (200 if role in allowed else 403), (role, url_name)


def test_anonymous_visitors_are_sent_to_sign_in(db: None) -> None:
    response = Client().get(reverse("users:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_django_admin_is_for_superusers_only(client_as, admin_user: User) -> None:
    response = client_as(admin_user).get("/admin/")
    assert response.status_code == 302  # redirected to the admin login: not staff
    superuser = User.objects.create_superuser(email="root@platform.test", password="x-y-z-123456")
    assert client_as(superuser).get("/admin/").status_code == 200


def test_two_accounts_cannot_share_an_email_whatever_its_case(organization) -> None:
    """Emails are stored lowercased, and the database itself refuses a second account for
    the same address (create_user runs no model validation)."""
    User.objects.create_user(email="dup@acme.test", password="x-long-enough-1", organization=organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(
            email="Dup@Acme.TEST", username="another", password="x-long-enough-1",
            organization=organization,
        )
    assert User.objects.filter(email="dup@acme.test").count() == 1

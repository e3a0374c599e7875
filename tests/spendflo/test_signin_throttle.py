"""Password guessing is throttled: sign-in lockouts and password-reset limits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from spendflo.audit.models import AuditEvent
from spendflo.users import throttle
from spendflo.users.models import User

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(throttle, "clock", fake)
    yield fake


@pytest.fixture
def checked_passwords(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords the model backend actually checked."""
    from django.contrib.auth.backends import ModelBackend

    checked: list[str] = []
    original = ModelBackend.authenticate

    def spy(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        checked.append(password)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", spy)
    return checked


def sign_in(client: Client, email: str, password: str, ip: str = "203.0.113.5"):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_fifty_wrong_passwords_in_a_row_are_throttled(
    admin_user: User, password: str, clock: Clock, checked_passwords: list[str]
) -> None:
    """After 5 failures only a lockout message answers; the right password during the
    lockout does not sign in; after the window it does, and the counter starts again."""
    client = Client()
    answers = [sign_in(client, admin_user.email, f"guess-{n}") for n in range(50)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert all(b"Please enter a correct" in a.content for a in answers[:5])
    assert [a.status_code for a in answers[5:]] == [429] * 45
    assert b"Too many failed sign-in attempts for this email. Try again in 1 minute" in (
        answers[5].content
    )
    assert len(checked_passwords) == 5

    refused = sign_in(client, admin_user.email, password)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    assert len(checked_passwords) == 5

    clock.advance(61)
    signed_in = sign_in(client, admin_user.email, password)
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)

    # A success resets the count: five more wrong passwords are checked before a lockout.
    other = Client()
    assert [sign_in(other, admin_user.email, "nope").status_code for _ in range(6)] == [
        200,
        200,
        200,
        200,
        200,
        429,
    ]


def test_the_lockout_grows_with_each_further_failure(admin_user: User, clock: Clock) -> None:
    client = Client()
    for _ in range(5):
        sign_in(client, admin_user.email, "wrong")
    clock.advance(61)
    assert sign_in(client, admin_user.email, "wrong").status_code == 200  # checked: 6th
    clock.advance(61)
    assert sign_in(client, admin_user.email, "wrong").status_code == 429  # now 2 minutes
    clock.advance(60)
    assert sign_in(client, admin_user.email, "wrong").status_code == 200  # 7th
    answer = sign_in(client, admin_user.email, "wrong")
    assert b"Try again in 4 minutes" in answer.content


def test_the_wait_is_said_in_words(admin_user: User, clock: Clock) -> None:
    client = Client()
    for _ in range(5):
        sign_in(client, admin_user.email, "wrong")
    clock.advance(0.4)  # 59.6 s left
    assert b"Try again in 1 minute," in sign_in(client, admin_user.email, "wrong").content
    clock.advance(30)
    assert b"Try again in 30 seconds," in sign_in(client, admin_user.email, "wrong").content


def test_a_lockout_is_audited_once_for_the_organization(admin_user: User, clock: Clock) -> None:
    client = Client()
    for _ in range(20):
        sign_in(client, admin_user.email, "wrong")
    events = AuditEvent.objects.filter(action=AuditEvent.Action.SIGNIN_LOCKOUT)
    assert events.count() == 1
    event = events.get()
    assert event.organization == admin_user.organization
    assert event.details == {
        "email": admin_user.email,
        "address": "203.0.113.5",
        "failures": 5,
        "locked_seconds": 60,
    }
    assert "wrong" not in event.summary


def test_guesses_from_many_addresses_lock_the_account_too(
    admin_user: User, password: str, clock: Clock
) -> None:
    answers = [
        sign_in(Client(), admin_user.email, "wrong", ip=f"198.51.100.{n}") for n in range(25)
    ]
    assert [a.status_code for a in answers].count(200) == 20
    assert sign_in(Client(), admin_user.email, password, ip="192.0.2.1").status_code == 429


def test_another_account_is_not_locked(admin_user: User, ops_user: User, password: str) -> None:
    client = Client()
    for _ in range(10):
        sign_in(client, admin_user.email, "wrong")
    assert sign_in(client, ops_user.email, password).status_code == 302


def test_unknown_and_known_emails_are_locked_alike(admin_user: User, clock: Clock) -> None:
    """The lockout reveals nothing about which emails have accounts."""
    known = [sign_in(Client(), admin_user.email, "wrong").status_code for _ in range(6)]
    unknown = [sign_in(Client(), "nobody@acme.test", "wrong").status_code for _ in range(6)]
    assert known == unknown == [200] * 5 + [429]


def test_the_admin_site_login_is_throttled_too(db: None, clock: Clock) -> None:
    root = User.objects.create_superuser(email="root@platform.test", password="x-y-z-123456")
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": root.email, "password": "wrong"})
    client.post("/admin/login/", {"username": root.email, "password": "x-y-z-123456"})
    assert "_auth_user_id" not in client.session


def test_attempts_side_by_side_cannot_slip_in_before_a_failure_is_counted(
    admin_user: User, clock: Clock
) -> None:
    """Each attempt takes its ticket before its password is checked: with five in flight,
    a sixth is refused."""
    in_flight = [
        throttle.login_attempt_begin(email=admin_user.email, request=None) for _ in range(5)
    ]
    assert all(not attempt.locked_for for attempt in in_flight)
    assert throttle.login_attempt_begin(email=admin_user.email, request=None).locked_for > 0


def test_password_reset_requests_are_limited_without_revealing_accounts(
    requester_user: User, clock: Clock
) -> None:
    def reset(email: str):  # type: ignore[no-untyped-def]
        return Client().post(reverse("password_reset"), {"email": email}, REMOTE_ADDR="192.0.2.9")

    known = [reset(requester_user.email) for _ in range(4)]
    unknown = [reset("nobody@acme.test") for _ in range(4)]
    assert [a.status_code for a in known] == [a.status_code for a in unknown] == [302] * 3 + [429]
    assert len(mail.outbox) == 3
    assert b"Too many password reset requests" in known[3].content
    clock.advance(3600)
    assert reset(requester_user.email).status_code == 302
    assert len(mail.outbox) == 4


def test_password_reset_answers_the_same_whether_or_not_the_email_exists(
    requester_user: User,
) -> None:
    known = Client().post(reverse("password_reset"), {"email": requester_user.email}, follow=True)
    unknown = Client().post(reverse("password_reset"), {"email": "nobody@acme.test"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert known.status_code == unknown.status_code == 200

    def page(response) -> str:  # type: ignore[no-untyped-def]
        # CSRF tokens differ per client; nothing else may.
        return re.sub(r"[A-Za-z0-9]{64}", "", response.content.decode())

    assert page(known) == page(unknown)
    assert len(mail.outbox) == 1

"""API throttles: per token, or per user with a session."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from spendflo.users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_rates(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute"},
    }


def token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_token_over_its_rate_gets_429_with_retry_after_and_a_sentence(
    tiny_rates: None, admin_user: User
) -> None:
    client = token_client(admin_user)
    answers = [client.get("/api/v1/me") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json() == {
        "detail": "Too many API requests from this token or user. "
        f"Try again in {refused['Retry-After']} seconds (see Retry-After)."
    }


def test_each_token_and_user_has_its_own_budget(
    tiny_rates: None, admin_user: User, ops_user: User
) -> None:
    first = token_client(admin_user)
    for _ in range(3):
        first.get("/api/v1/me")
    assert first.get("/api/v1/me").status_code == 429
    assert token_client(ops_user).get("/api/v1/me").status_code == 200
    session = APIClient()
    session.force_login(admin_user)
    assert session.get("/api/v1/me").status_code == 200


def test_the_schema_documents_429_with_retry_after(admin_user: User) -> None:
    client = APIClient()
    client.force_login(admin_user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = [
        operation
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert operations
    for operation in operations:
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_production_rates_are_set() -> None:
    from django.conf import settings

    from spendflo.settings import REST_FRAMEWORK

    assert REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {"user": "1200/minute"}
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]

"""Shared fixtures.

- Celery tasks run eagerly, except in tests marked `worker` (a real worker process).
- Tests marked `postgres` / `redis` need those services (DATABASE_URL / REDIS_URL). Outside
  CI they are skipped when the service is not configured; with CI=true a missing service
  fails the run instead, so CI can never pass by skipping them.
- Browser fixtures live in tests/browser/conftest.py.
- Hypothesis profiles: "ci" (the default: few examples, derandomized, so a run is quick and
  repeatable) and "deep" (many random examples); choose with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from spendflo.celery import app as celery_app
from spendflo.organizations.models import Organization
from spendflo.users.models import User
from tests.factories import TEST_PASSWORD, OrganizationFactory, UserFactory
from tests.support import require

# Property tests build data in the test database once per test, not per example.
hypothesis_settings.register_profile(
    "ci",
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("worker") or item.get_closest_marker("browser"):
            # Real processes and live servers need committed data.
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(autouse=True)
def _service_requirements(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        require(
            django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
            "needs PostgreSQL: set DATABASE_URL=postgres://...",
        )
    if request.node.get_closest_marker("redis") or request.node.get_closest_marker("worker"):
        require(bool(django_settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://...")


@pytest.fixture(autouse=True)
def _celery_eager(request: pytest.FixtureRequest) -> Iterator[None]:
    eager = request.node.get_closest_marker("worker") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True, scope="session")
def _cache_of_this_run() -> None:
    # With Redis the cache outlives a test run. Tokens are cached per connection id and
    # sandbox URL, both of which a later run can meet again (ids restart with the test
    # database, ports get reused); this run's own key prefix keeps them apart.
    from django.test.signals import clear_cache_handlers

    prefix = f"spendflo-test-{uuid.uuid4().hex[:12]}"
    for cache in django_settings.CACHES.values():
        cache["KEY_PREFIX"] = prefix
    clear_cache_handlers(setting="CACHES")


@pytest.fixture(autouse=True)
def _coupa_delays_near_zero(settings: Any) -> None:
    # Backoffs and the post-429 slowdown at production values would make a test wait
    # seconds for every retry; tests count retries, they never wait them out.
    settings.COUPA_BACKOFF_BASE = 0.001
    settings.COUPA_BACKOFF_MAX = 0.01
    settings.COUPA_RATE_PENALTY_SECONDS = 0.5


@pytest.fixture(autouse=True)
def _throttles_of_this_test(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    # Sign-in counters live in the cache, which with Redis outlives a test: each test counts
    # its own. API throttles are off unless a test sets rates (tests/spendflo/test_throttling.py).
    from spendflo.users import throttle

    monkeypatch.setattr(throttle, "namespace", f"throttle-{uuid.uuid4().hex[:12]}")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": None},
    }


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    # Every fixture user gets a password; the production hasher costs ~0.3 s per user.
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings: Any) -> None:
    # Tests serve static files from the source folders; production uses the manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def organization(db: None) -> Organization:
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def other_organization(db: None) -> Organization:
    return OrganizationFactory(slug="globex", name="Globex")


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(
        role: str = User.Role.REQUESTER, organization: Organization | None = None, **kw: Any
    ) -> User:
        if organization is not None:
            kw["organization"] = organization
        return UserFactory(role=role, **kw)

    return make


@pytest.fixture
def admin_user(make_user: Callable[..., User], organization: Organization) -> User:
    return make_user(User.Role.ADMIN, organization, email="admin@acme.test")


@pytest.fixture
def ops_user(make_user: Callable[..., User], organization: Organization) -> User:
    return make_user(User.Role.OPS, organization, email="ops@acme.test")


@pytest.fixture
def requester_user(make_user: Callable[..., User], organization: Organization) -> User:
    return make_user(User.Role.REQUESTER, organization, email="requester@acme.test")


@pytest.fixture
def client_as() -> Callable[[User], Client]:
    """A Django test client signed in as the given user."""

    def login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def password() -> str:
    return TEST_PASSWORD


@pytest.fixture(scope="session")
def coupa_sandbox() -> Iterator[Any]:
    """One Coupa sandbox process for the session (ephemeral port, default data, no rate limit).

    Use it through `sandbox_allowed`, which resets it before each test.
    """
    from coupa.sandbox.testing import running_sandbox

    with running_sandbox("--rate", "0") as handle:
        yield handle


@pytest.fixture
def sandbox_allowed(settings: Any, coupa_sandbox: Any) -> Any:
    """Allow connecting to the session sandbox (as `make run`'s .env does) with fast retries.

    The sandbox is reset first (data from the seed; clients, scopes, tokens, faults,
    settings and statistics as at start-up), so a test may change any of it freely.
    """
    coupa_sandbox.reset(tokens=True)
    settings.COUPA_ALLOWED_HOSTS = [*settings.COUPA_ALLOWED_HOSTS, coupa_sandbox.base_url]
    settings.COUPA_RETRY_ATTEMPTS = 2
    settings.COUPA_RETRY_DEADLINE = 2.0
    settings.COUPA_BACKOFF_BASE = 0.01
    settings.COUPA_BACKOFF_MAX = 0.05
    return coupa_sandbox


def _forget_broker_connections() -> None:
    # The app keeps a connection pool and a producer pool for the broker it first met.
    import kombu.pools

    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Send tasks for real (not eagerly) to a Redis broker URL where nothing listens.

    Messages are sent after commit: use it in transactional tests.
    """
    dead = "redis://127.0.0.1:1/0"
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    _forget_broker_connections()
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", dead)
    celery_app.conf.broker_url = dead
    celery_app.conf.task_always_eager = False
    yield dead
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = previous
    _forget_broker_connections()

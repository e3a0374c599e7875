"""Fixtures for the Coupa client tests: respx routes, a fake collection, a fake limiter."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from coupa.client.base import CoupaClient
from coupa.client.types import ConnectionConfig
from integrations.ratelimit import release_db_connections

BASE_URL = "https://acme.coupahost.com"
CLIENT_SECRET = "s3cr3t-client-secret-value"
TOKEN = "tok-AAAA-first-token"
TOKEN_2 = "tok-BBBB-second-token"


class FakeLimiter:
    """Counts acquisitions and penalties; never sleeps."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acquired = 0
        self.penalties: list[float | None] = []

    def acquire(self) -> float:
        with self.lock:
            self.acquired += 1
        return 0.0

    def penalize(self, retry_after: float | None) -> None:
        self.penalties.append(retry_after)


class FakeClock:
    """A monotonic clock that only moves when the client sleeps (paging threads too)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += seconds


class FakeCollection:
    """An in-memory Coupa collection answering keyset queries like Coupa does.

    Supports `id[gt]`, `id[lt_or_eq]`, `order_by=id`, `dir`, `limit` and `fields`;
    `on_request` runs before each answer (to change records mid-walk).
    """

    def __init__(self, ids: list[int]) -> None:
        self.lock = threading.Lock()
        self.records: dict[int, dict[str, Any]] = {
            i: {"id": i, "name": f"record {i}", "active": True, "custom-field-7": "x"} for i in ids
        }
        self.requests: list[httpx.QueryParams] = []
        self.on_request: Callable[[FakeCollection, int], None] | None = None
        self.honour_desc = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        with self.lock:
            self.requests.append(params)
            number = len(self.requests)
            if self.on_request is not None:
                self.on_request(self, number)
            ids = sorted(self.records)
            if "id[gt]" in params:
                ids = [i for i in ids if i > int(params["id[gt]"])]
            if "id[lt_or_eq]" in params:
                ids = [i for i in ids if i <= int(params["id[lt_or_eq]"])]
            if params.get("dir") == "desc" and self.honour_desc:
                ids.reverse()
            ids = ids[: int(params.get("limit", "50"))]
            body = [dict(self.records[i]) for i in ids]
        if "fields" in params:
            wanted = [f for f in json.loads(params["fields"]) if isinstance(f, str)]
            body = [{k: v for k, v in r.items() if k in wanted} for r in body]
        return httpx.Response(200, json=body)


@pytest.fixture(autouse=True)
def _fast_retries(settings: Any) -> None:
    settings.COUPA_BACKOFF_BASE = 0.001
    settings.COUPA_BACKOFF_MAX = 0.002
    settings.COUPA_RETRY_ATTEMPTS = 4
    settings.COUPA_RETRY_DEADLINE = 60.0
    settings.COUPA_TOKEN_EXPIRY_MARGIN = 300.0
    settings.COUPA_PAGE_CONCURRENCY = 1


@pytest.fixture(autouse=True)
def _release_limiter_connections() -> Iterator[None]:
    # The Postgres limiter's helper thread keeps a connection; the test database can
    # only be dropped once it is closed.
    yield
    release_db_connections()


@pytest.fixture
def config() -> ConnectionConfig:
    # A fresh key per test: with Redis the token cache outlives each test's transaction.
    return ConnectionConfig(
        key=f"connection-{uuid.uuid4().hex[:12]}",
        base_url=BASE_URL,
        client_id="client-1",
        client_secret=CLIENT_SECRET,
    )


@pytest.fixture
def limiter() -> FakeLimiter:
    return FakeLimiter()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def coupa_mock() -> Iterator[respx.MockRouter]:
    """A respx router for BASE_URL (unmatched requests fail) with a token route."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        router.post("/oauth2/token", name="token").respond(
            200, json={"access_token": TOKEN, "token_type": "bearer", "expires_in": 86399}
        )
        yield router


@pytest.fixture
def make_client(
    db: None, config: ConnectionConfig, limiter: FakeLimiter, clock: FakeClock
) -> Iterator[Callable[..., CoupaClient]]:
    clients: list[CoupaClient] = []

    def make(cfg: ConnectionConfig | None = None, **kw: Any) -> CoupaClient:
        kw.setdefault("limiter", limiter)
        kw.setdefault("sleep", clock.sleep)
        kw.setdefault("clock", clock)
        client = CoupaClient(cfg or config, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def coupa_client(
    make_client: Callable[..., CoupaClient], coupa_mock: respx.MockRouter
) -> CoupaClient:
    return make_client()

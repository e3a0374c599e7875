"""Fixtures for the sandbox tests: running sandboxes and an API client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from coupa.sandbox.testing import SandboxHandle, running_sandbox

ANCHOR_DATE = "2025-06-30"  # fixed, so generated data is identical on every run
CUSTOM_FIELDS = "accounts:cost-center,suppliers:region,items:test-text-field,users:office-code"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/sandbox/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """A shared read-mostly sandbox: demo data, custom fields, no rate limit."""
    with running_sandbox(
        seed=7, anchor_date=ANCHOR_DATE, custom_fields=CUSTOM_FIELDS, rate=0
    ) as sb:
        yield sb


@pytest.fixture(scope="session")
def _fresh_sandbox_process() -> Iterator[SandboxHandle]:
    with running_sandbox(
        seed=7, anchor_date=ANCHOR_DATE, rate=0, accounts=120, suppliers=80, items=150
    ) as sb:
        yield sb


@pytest.fixture
def fresh_sandbox(_fresh_sandbox_process: SandboxHandle) -> SandboxHandle:
    """A sandbox in its start-up state for tests that change data, settings or faults.

    One process for the session, reset before each test: data from the seed; clients,
    scopes, tokens, faults, limits, settings and statistics as at start-up.
    """
    _fresh_sandbox_process.reset(tokens=True)
    return _fresh_sandbox_process


class Api:
    """A minimal Coupa API client for tests: token, JSON headers, keyset walks."""

    def __init__(self, sb: SandboxHandle, scope: str | None = None) -> None:
        self.sb = sb
        form = {
            "grant_type": "client_credentials",
            "client_id": sb.client_id,
            "client_secret": sb.client_secret,
        }
        if scope is not None:
            form["scope"] = scope
        # Plain HTTP to loopback: no TLS context to build (httpx spends ~40 ms on one).
        self.http = httpx.Client(base_url=sb.base_url, timeout=30.0, verify=False)  # noqa: S501
        resp = self.http.post(sb.token_url, data=form)
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        self.http.headers.update(
            {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        )

    def get(self, path: str, params: Any = None) -> httpx.Response:
        return self.http.get(path, params=params)

    def ok(self, path: str, params: Any = None) -> Any:
        resp = self.get(path, params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def walk(self, resource: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Return every record by keyset paging on id (coupa-api.md 3)."""
        out: list[dict[str, Any]] = []
        last = 0
        while True:
            page = self.ok(
                f"/api/{resource}",
                {**(params or {}), "id[gt]": str(last), "order_by": "id", "limit": "50"},
            )
            assert len(page) <= 50
            out.extend(page)
            if len(page) < 50:
                return out
            last = page[-1]["id"]

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def make_api() -> type[Api]:
    """The test API client class: `make_api(handle, scope=None)`."""
    return Api


@pytest.fixture(scope="session")
def api(sandbox: SandboxHandle) -> Iterator[Api]:
    """An API client of the shared sandbox's default client."""
    client = Api(sandbox)
    yield client
    client.close()


@pytest.fixture
def client(fresh_sandbox: SandboxHandle, make_api: Any) -> Iterator[Any]:
    """An API client of the fresh sandbox (for tests that write)."""
    api = make_api(fresh_sandbox)
    yield api
    api.close()


def _first(sb: SandboxHandle, resource: str) -> dict[str, Any]:
    return sb.records(resource, active_only=True)[0]


@pytest.fixture
def refs(fresh_sandbox: SandboxHandle) -> dict[str, dict[str, Any]]:
    """Natural keys of active records to reference, the way the examples do."""
    sb = fresh_sandbox
    user = next(u for u in sb.records("users", active_only=True) if u["id"] != 1)
    account = _first(sb, "accounts")
    chart = account["account-type"]
    item = next(i for i in sb.records("items", active_only=True) if i.get("uom"))
    return {
        "requested-by": {"login": user["login"]},
        "ship-to-address": {"name": _first(sb, "addresses")["name"]},
        "supplier": {"name": _first(sb, "suppliers")["name"]},
        "account": {"code": account["code"], "account-type": {"name": chart["name"]}},
        "commodity": {"name": _first(sb, "commodities")["name"]},
        "item": {"name": item["name"]},
        "item_record": item,
        "supplier_record": _first(sb, "suppliers"),
    }

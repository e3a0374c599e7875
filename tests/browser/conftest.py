"""Browser harness: Playwright's sync API driving Debian's Chromium against a live server.

Each test gets a fresh browser context; a failing test leaves a screenshot in
var/test-artifacts/. The live server binds an ephemeral port.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from coupa.reference.walk import sync_run_execute
from coupa.sandbox.testing import running_sandbox
from tests.support import require

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def _allow_async_unsafe() -> Iterator[None]:
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from
    # the test body are still synchronous and safe here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(_allow_async_unsafe: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = settings.CHROMIUM_PATH
    require(
        Path(executable).exists(),
        f"Chromium not found at {executable} (CHROMIUM_PATH); install Debian's chromium.",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def login(page: Any, live_server: Any, password: str) -> Callable[[str], Any]:
    """Sign in through the real login form as the given email."""

    def do_login(email: str) -> Any:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("whoami").wait_for()
        return page

    return do_login


class BackgroundWorker:
    """Runs sync tasks in threads, as a worker would, each once the test releases it.

    Holding a run until the page has shown it queued makes the progress checks
    deterministic however fast the sync itself is.
    """

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.gate = threading.Semaphore(0)

    def release(self) -> None:
        self.gate.release()


@pytest.fixture
def tasks_in_background(monkeypatch):
    worker = BackgroundWorker()

    def delay(sync_run_id: int) -> None:
        def run() -> None:
            try:
                if worker.gate.acquire(timeout=60):
                    sync_run_execute(sync_run_id=sync_run_id)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, daemon=True)
        worker.threads.append(thread)
        thread.start()

    monkeypatch.setattr("coupa.tasks.sync_run_execute_task.delay", delay)
    yield worker
    for _ in worker.threads:
        worker.release()
    for thread in worker.threads:
        thread.join(timeout=60)


@pytest.fixture
def small_sandbox(settings):
    # No latency needed to see a sync's progress: the background worker holds each run
    # until the page has shown it queued.
    with running_sandbox(
        "--rate", "0", "--accounts", "150", "--suppliers", "80", "--items", "160"
    ) as sandbox:
        settings.COUPA_ALLOWED_HOSTS = [sandbox.base_url]
        settings.COUPA_RETRY_ATTEMPTS = 3
        settings.COUPA_BACKOFF_BASE = 0.01
        yield sandbox

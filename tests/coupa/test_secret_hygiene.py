"""The client secret and the access tokens never leave the places meant for them.

One run against the sandbox with a recognizable client secret: connect (and connect with a
wrong secret), validate, sync (and syncs that fail: 503s, an expired token, a missing
scope), a PR created and one that fails. Everything a person or a log could see is
captured: every log record (DEBUG and up, with tracebacks), every page and API answer
(with its headers and cookies), every email, every exception message, audit row, run
error and attempt. Neither the secret nor any token the sandbox issued appears in any of
it, and the raw database holds neither in plain text in any column of any table.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.db import connection as db
from django.test import Client
from django.urls import resolve
from django.utils import timezone

from coupa.models import Requisition, RequisitionAttempt
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from integrations.models import ConnectionValidation, SyncRun
from spendflo.audit.models import AuditEvent
from spendflo.workflows.models import PurchaseRequest, RequestEvent, WorkflowVersion
from tests.coupa.requisitions.conftest import mapped_workflow_on_sandbox
from tests.endpoints import fill_route, url_routes, view_class
from tests.factories import OrganizationFactory, UserFactory

pytestmark = [pytest.mark.sandbox]

SECRET = f"HYGIENE-secret-{uuid.uuid4().hex}"
WRONG_SECRET = f"HYGIENE-wrong-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(
        rate=0, accounts=20, suppliers=15, items=15, users=8, client_secret=SECRET
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(_sandbox: SandboxHandle, settings: Any) -> SandboxHandle:
    _sandbox.reset(tokens=True)
    settings.COUPA_ALLOWED_HOSTS = [*settings.COUPA_ALLOWED_HOSTS, _sandbox.base_url]
    settings.COUPA_RETRY_ATTEMPTS = 2
    settings.COUPA_RETRY_DEADLINE = 2.0
    settings.COUPA_BACKOFF_BASE = 0.01
    settings.COUPA_BACKOFF_MAX = 0.02
    settings.COUPA_PUSH_DEADLINE = 2.0
    return _sandbox


class Seen:
    """Everything the run showed anyone: texts, with where each came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.tokens: set[str] = set()

    def add(self, where: str, text: Any) -> None:
        self.texts.append((where, str(text)))

    def answer(self, where: str, response: Any) -> Any:
        self.add(where, response.content.decode(errors="replace"))
        self.add(f"{where} headers", dict(response.items()))
        self.add(f"{where} cookies", response.cookies.output())
        return response


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # The message, its arguments, its extra fields and its traceback with the exception's
        # message (self.format adds it).
        self.records.append(f"{self.format(record)} {record.args!r} {record.__dict__!r}")


@pytest.fixture
def logs() -> Iterator[_Records]:
    """Every record of every logger at DEBUG, whatever its configured level."""
    handler = _Records()
    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    yield handler
    for lg, level in levels:
        lg.setLevel(level)
        lg.removeHandler(handler)


def _client(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _visit_everything(seen: Seen, client: Client, who: str, ids: dict[tuple[str, str], Any]) -> int:
    """GET every page and every API route (ids filled from this run's objects)."""
    visited = 0
    for route in url_routes():
        cls = view_class(route.callback)
        if cls is not None and not hasattr(cls, "get"):
            continue
        if route.route.startswith("accounts/") or route.name == "logout":
            continue
        try:
            path, _ = fill_route(route.route, ids)
        except AssertionError:
            continue  # a parameter this run has no object for
        resolve(path)
        response = client.get(path)
        assert response.status_code < 500, f"{path} as {who}: {response.status_code}"
        seen.answer(f"GET {path} as {who}", response)
        visited += 1
    return visited


def _sync(seen: Seen, client: Client, capture: Any, label: str) -> SyncRun:
    with capture(execute=True):
        response = seen.answer(label, client.post("/api/v1/coupa/sync", {}, "application/json"))
    assert response.status_code in (200, 201, 202), response.content
    return SyncRun.objects.latest("pk")


def _tokens(sandbox: SandboxHandle, seen: Seen) -> None:
    seen.tokens.update(sandbox.tokens())


def _scan_database(needles: dict[str, str]) -> list[str]:
    """Every text (and JSON, and binary) column of every table, searched for each needle."""
    found: list[str] = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            columns = [c.name for c in db.introspection.get_table_description(cursor, table)]
            quoted = db.ops.quote_name(table)
            for column in columns:
                col = db.ops.quote_name(column)
                for name, needle in needles.items():
                    cursor.execute(
                        f"SELECT COUNT(*) FROM {quoted} WHERE CAST({col} AS TEXT) LIKE %s",  # noqa: S608
                        [f"%{needle}%"],
                    )
                    if cursor.fetchone()[0]:
                        found.append(f"{name} in {table}.{column}")
            if table == "spendflo_cache":  # the database cache: base64 of pickles
                cursor.execute(f"SELECT cache_key, value FROM {quoted}")  # noqa: S608
                for key, value in cursor.fetchall():
                    raw = base64.b64decode(value)
                    found += [
                        f"{n} in cache {key}" for n, s in needles.items() if s.encode() in raw
                    ]
    return found


@pytest.mark.django_db
def test_secret_and_tokens_appear_nowhere(
    organization: Any,
    admin_user: Any,
    ops_user: Any,
    sandbox: SandboxHandle,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    logs: _Records,
) -> None:
    capture = django_capture_on_commit_callbacks
    seen = Seen()
    admin = _client(admin_user)

    # Connect, validate, choose a chart and sync, map a workflow (services, as the pages do).
    connection, version, requester = mapped_workflow_on_sandbox(
        organization, admin_user, sandbox, capture, settings
    )
    version.state = WorkflowVersion.State.PUBLISHED
    version.published_at = timezone.now()
    version.save()
    _tokens(sandbox, seen)

    # Validate again from the page and the API; sync from the API, then PR/PO sync.
    with capture(execute=True):
        seen.answer("POST validate page", admin.post("/settings/integrations/coupa/validate/"))
        seen.answer("POST validate API", admin.post("/api/v1/integrations/coupa/validate"))
    assert ConnectionValidation.objects.latest("pk").state == "succeeded"
    assert _sync(seen, admin, capture, "sync").state == SyncRun.State.SUCCEEDED
    with capture(execute=True):
        seen.answer("PR sync", admin.post("/api/v1/coupa/requisition-sync"))
    _tokens(sandbox, seen)

    # Failing syncs: 503s every time; a token Coupa expired (minted again); a missing scope.
    sandbox.set_faults(error_503=1.0)
    assert _sync(seen, admin, capture, "sync with 503s").state == SyncRun.State.FAILED
    sandbox.clear_faults()
    _tokens(sandbox, seen)
    sandbox.expire_tokens()
    _sync(seen, admin, capture, "sync after expiry")
    _tokens(sandbox, seen)
    sandbox.remove_scope(sandbox.client_id, "core.accounting.read")
    sandbox.revoke_tokens()
    failed = _sync(seen, admin, capture, "sync without a scope")
    assert failed.state != SyncRun.State.SUCCEEDED
    sandbox.grant_scope(sandbox.client_id, "core.accounting.read")
    with capture(execute=True):
        seen.answer("validate again", admin.post("/settings/integrations/coupa/validate/"))
    assert ConnectionValidation.objects.latest("pk").state == "succeeded"
    _tokens(sandbox, seen)

    # A PR created in Coupa, then one whose creation fails (500s on every POST).
    answers = _answers(version, requester)
    as_requester = _client(requester)
    for title, faults in (("Laptops", {}), ("Monitors", {"error_500": 1.0})):
        sandbox.set_faults(apply_methods=["POST"], **faults) if faults else sandbox.clear_faults()
        with capture(execute=True):
            response = seen.answer(
                f"submit {title}",
                as_requester.post(
                    "/api/v1/requests",
                    {"version": version.pk, "title": title, "answers": answers},
                    "application/json",
                ),
            )
        assert response.status_code == 201, response.content
        _tokens(sandbox, seen)
    sandbox.clear_faults()
    states = dict(PurchaseRequest.objects.values_list("title", "state"))
    assert states == {"Laptops": "pr_created", "Monitors": "pr_failed"}, states

    # Another organization connects with a wrong secret, from the page and from the API.
    other_admin = UserFactory(organization=OrganizationFactory(slug="globex"), role="admin")
    other = _client(other_admin)
    body = {"domain": sandbox.base_url, "client_id": sandbox.client_id}
    with capture(execute=True):
        seen.answer(
            "connect page, wrong secret",
            other.post(
                "/settings/integrations/coupa/connect/", {**body, "client_secret": WRONG_SECRET}
            ),
        )
        seen.answer(
            "connect API, wrong secret",
            other.post(
                "/api/v1/integrations/coupa/connect",
                {**body, "client_secret": WRONG_SECRET},
                "application/json",
            ),
        )
    assert ConnectionValidation.objects.filter(state="failed").exists()

    # What everyone can see now: every page and API route, as admin, ops and the others.
    requisition = Requisition.objects.order_by("pk").first()
    assert requisition is not None
    ids: dict[tuple[str, str], Any] = {
        ("*", "workflow_id"): version.workflow_id,
        ("workflows", "pk"): version.workflow_id,
        ("versions", "number"): version.number,
        ("workflow-versions", "pk"): version.pk,
        ("validations", "pk"): ConnectionValidation.objects.filter(connection=connection)
        .latest("pk")
        .pk,
        ("sync-runs", "pk"): failed.pk,
        ("requests", "pk"): requisition.request_id,
        ("records", "kind"): "accounts",
        ("pickers", "kind"): "accounts",
    }
    visited = sum(
        _visit_everything(seen, client, who, ids)
        for who, client in (
            ("admin", admin),
            ("ops", _client(ops_user)),
            ("requester", as_requester),
            ("other admin", other),
        )
    )
    assert visited > 100

    for message in mail.outbox:
        seen.add(
            f"email {message.subject}",
            f"{message.subject} {message.body} {getattr(message, 'alternatives', '')}",
        )
    for model in (
        AuditEvent,
        SyncRun,
        ConnectionValidation,
        Requisition,
        RequisitionAttempt,
        RequestEvent,
    ):
        for row in model.objects.values():
            seen.add(f"{model.__name__} {row.get('id')}", row)
    for line in logs.records:
        seen.add("log", line)

    assert len(seen.tokens) >= 3, seen.tokens  # minted, re-minted after expiry and revocation
    needles = {"client secret": SECRET, "wrong secret": WRONG_SECRET}
    for token in seen.tokens:
        needles[f"token …{token[-6:]}"] = token
        needles[f"token signature …{token[-6:]}"] = token.rsplit(".", 1)[-1]
    leaks = [
        f"{name} in {where}"
        for where, text in seen.texts
        for name, needle in needles.items()
        if needle in text
    ]
    assert not leaks, "\n".join(leaks[:40])
    assert len(logs.records) > 100  # the capture saw the run's logging
    assert not (found := _scan_database(needles)), found


def _answers(version: WorkflowVersion, requester: Any) -> dict[str, Any]:
    from coupa.requisitions.payload import sample_answers

    return sample_answers(version, requester=requester)

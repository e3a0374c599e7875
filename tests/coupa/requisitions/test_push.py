"""Queueing a request's requisition, refusing bad answers before any HTTP, the schedule."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from coupa.models import Requisition
from coupa.provider import CoupaProvider
from coupa.requisitions.payload import sample_answers
from coupa.requisitions.push import (
    RequisitionSendError,
    requisition_create,
    requisition_send,
    requisition_sweep_stale,
)
from spendflo.celery import app as celery_app
from spendflo.workflows.models import PurchaseRequest, WorkflowVersion
from tests.coupa.requisitions.conftest import Setup

pytestmark = pytest.mark.django_db


def _request(s: Setup, answers: dict[str, Any] | None = None, number: int = 42) -> PurchaseRequest:
    return PurchaseRequest.objects.create(
        organization=s.workflow.organization,
        version=s.version,
        requester=s.admin,
        number=number,
        title="Laptops",
        answers=answers or {"request": {}, "lines": [{}]},
        state=PurchaseRequest.State.SENDING,
        submitted_at=timezone.now(),
    )


def test_send_records_one_pending_requisition_and_queues_once(
    setup: Setup, django_capture_on_commit_callbacks: Any
) -> None:
    request = _request(setup)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = requisition_send(request=request)
        second = requisition_send(request=request)
    assert first.pk == second.pk and len(callbacks) == 1
    assert first.state == Requisition.State.PENDING and first.submit is False
    assert re.fullmatch(r"SF-acme-42-[0-9a-f]{4}", first.marker)
    assert request.events.get().kind == "queued"


def test_send_without_a_connection_is_refused(setup: Setup) -> None:
    setup.connection.archived_at = timezone.now()
    setup.connection.save(update_fields=["archived_at"])
    with pytest.raises(RequisitionSendError):
        requisition_send(request=_request(setup))


def test_answers_that_cannot_make_a_payload_fail_without_any_request(
    setup: Setup, django_capture_on_commit_callbacks: Any
) -> None:
    """The mapping is incomplete and the answers empty: failed, nothing posted."""
    request = _request(setup)
    with django_capture_on_commit_callbacks(execute=False):
        requisition = requisition_send(request=request)
    requisition_create(requisition_id=requisition.pk)  # respx-free: any HTTP would fail
    requisition.refresh_from_db()
    request.refresh_from_db()
    assert requisition.state == Requisition.State.FAILED and requisition.error
    assert requisition.tries.count() == 0
    assert request.state == PurchaseRequest.State.PR_FAILED
    doc = CoupaProvider().request_document(request=request)
    assert doc is not None and doc["state"] == "failed" and doc["id"] is None
    assert requisition_create(requisition_id=requisition.pk) is None  # failed: left alone


def test_a_connection_archived_after_sending_fails_the_requisition_without_any_request(
    setup: Setup, respx_mock: respx.MockRouter, django_capture_on_commit_callbacks: Any
) -> None:
    """The requisition's connection was replaced (archived) before the worker took it: the
    build checks the organization's current connection (none here), as the publish gate
    does, and posts nothing."""
    setup.complete_mapping()
    request = _request(setup, sample_answers(setup.version, requester=setup.admin))
    with django_capture_on_commit_callbacks(execute=False):
        requisition = requisition_send(request=request)
    setup.connection.archived_at = timezone.now()
    setup.connection.save(update_fields=["archived_at"])
    requisition_create(requisition_id=requisition.pk)  # respx: any HTTP would fail
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.FAILED
    assert requisition.error.startswith("Coupa is not connected: connect it under Settings")
    assert requisition.tries.count() == 0


def test_submit_falls_back_to_the_alias_only_on_404(
    setup: Setup, respx_mock: respx.MockRouter, django_capture_on_commit_callbacks: Any
) -> None:
    setup.complete_mapping()
    setup.version.document_status = WorkflowVersion.DocumentStatus.SUBMITTED
    setup.version.save(update_fields=["document_status"])
    request = _request(setup, sample_answers(setup.version, requester=setup.admin))
    base = setup.connection.base_url.rstrip("/")
    respx_mock.post(f"{base}/oauth2/token").respond(
        200, json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
    )
    first = respx_mock.post(f"{base}/api/requisitions/submit_for_approval").respond(404)
    alias = respx_mock.post(f"{base}/api/requisitions/new/submit_for_approval").respond(
        201, json={"id": 77, "status": "pending_approval", "created-by": {"id": 3}}
    )
    with django_capture_on_commit_callbacks(execute=False):
        requisition = requisition_send(request=request)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert first.call_count == 1 and alias.call_count == 1
    assert requisition.state == Requisition.State.CREATED and requisition.external_id == 77
    assert requisition.status == "pending_approval"
    assert requisition.tries.get().endpoint == "/api/requisitions/new/submit_for_approval"
    setup.connection.refresh_from_db()
    assert setup.connection.provider_settings["api_user_id"] == 3


def test_problems_hook_names_what_blocks_the_answers(setup: Setup) -> None:
    problems = CoupaProvider().request_problems(
        version=setup.version, answers={"request": {}, "lines": [{}]}, requester=setup.admin
    )
    assert problems and all(p.message for p in problems)


def test_tasks_are_registered_and_scheduled() -> None:
    names = {
        "coupa.requisition_create",
        "coupa.requisition_sweep",
        "coupa.requisition_sync_all",
        "coupa.requisition_sync_hourly",
        "coupa.requisition_sync",
    }
    assert names <= set(celery_app.tasks)
    scheduled = {e["task"] for e in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "coupa.requisition_sweep",
        "coupa.requisition_sync_all",
        "coupa.requisition_sync_hourly",
    } <= scheduled


def test_pr_sync_command_needs_a_connected_organization(organization: Any) -> None:
    with pytest.raises(CommandError, match="no Coupa connection"):
        call_command("coupa_pr_sync", "--org", organization.slug)


def test_sync_activity_has_the_pr_sync_button_for_ops(
    setup: Setup, client_as: Any, ops_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(ops_user)
    html = client.get(reverse("integrations:sync_activity")).content.decode()
    assert "Sync Coupa PR statuses now" in html and reverse("coupa:pr_sync") in html
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("coupa:pr_sync"))
    assert response.status_code == 302
    assert response["Location"] == reverse("integrations:sync_activity")
    assert len(callbacks) == 1


def test_api_queues_a_pr_sync_for_ops_only(
    setup: Setup,
    client_as: Any,
    ops_user: Any,
    requester_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The ops button's action in the JSON API: 202 and one pass queued; requesters 403."""
    url = "/api/v1/coupa/requisition-sync"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_as(ops_user).post(url)
    assert response.status_code == 202, response.content
    assert "being synced" in response.json()["detail"]
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refused = client_as(requester_user).post(url)
    assert refused.status_code == 403
    assert callbacks == []


def test_sweep_requeues_lost_and_dead_sends_but_not_live_ones(
    setup: Setup, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    now = timezone.now()
    rows = {}
    for n, (state, lease, age) in enumerate(
        [
            ("pending", None, 600),  # its task was lost
            ("pending", None, 5),  # just queued
            ("sending", now - timedelta(seconds=1), 600),  # its worker died
            ("sending", now + timedelta(seconds=60), 600),  # a worker holds it
            ("created", None, 600),
        ]
    ):
        request = PurchaseRequest.objects.create(
            organization=setup.workflow.organization,
            version=setup.version,
            requester=setup.admin,
            number=100 + n,
            title="x",
            answers={},
            state=PurchaseRequest.State.SENDING,
            submitted_at=now,
        )
        row = Requisition.objects.create(
            request=request,
            connection=setup.connection,
            marker=f"SF-acme-{n}",
            submit=False,
            state=state,
            lease_owner="w" if lease else "",
            lease_expires_at=lease,
        )
        Requisition.objects.filter(pk=row.pk).update(created_at=now - timedelta(seconds=age))
        rows[n] = row.pk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = requisition_sweep_stale()
    assert sorted(ids) == sorted([rows[0], rows[2]]) and len(callbacks) == 2
    # A pending row counts as lost after COUPA_PUSH_PENDING_AFTER seconds (default 120).
    settings.COUPA_PUSH_PENDING_AFTER = 2
    with django_capture_on_commit_callbacks(execute=False):
        assert sorted(requisition_sweep_stale()) == sorted([rows[0], rows[1], rows[2]])


def _requests_with_prs(setup: Setup, count: int, start: int) -> None:
    from coupa.models import PurchaseOrder

    now = timezone.now()
    for n in range(start, start + count):
        request = PurchaseRequest.objects.create(
            organization=setup.workflow.organization,
            version=setup.version,
            requester=setup.admin,
            number=500 + n,
            title=f"Request {n}",
            answers={},
            state=PurchaseRequest.State.PR_CREATED,
            submitted_at=now,
        )
        requisition = Requisition.objects.create(
            request=request,
            connection=setup.connection,
            marker=f"SF-acme-list-{n}",
            submit=False,
            state=Requisition.State.CREATED,
            external_id=9000 + n,
            status="ordered",
        )
        PurchaseOrder.objects.create(
            connection=setup.connection,
            requisition=requisition,
            external_id=7000 + n,
            number=str(7000 + n),
            status="issued",
            synced_at=now,
        )


def test_request_lists_cost_the_same_queries_for_5_or_25_requests(
    setup: Setup, client_as: Any
) -> None:
    """All requests asks Coupa's side for every row's PR and POs at once, not row by row."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    client = client_as(setup.admin)
    url = reverse("workflows:request_all")
    _requests_with_prs(setup, 5, 0)
    client.get(url)  # warm caches (session, content types)
    with CaptureQueriesContext(db) as five:
        page = client.get(url)
    assert page.status_code == 200 and "7004" in page.content.decode()
    _requests_with_prs(setup, 20, 5)
    with CaptureQueriesContext(db) as twentyfive:
        page = client.get(url)
    assert "7024" in page.content.decode()
    assert len(twentyfive.captured_queries) == len(five.captured_queries)


def test_picked_records_are_named_from_imported_data_not_the_browser(setup: Setup) -> None:
    """An approver reads the vendor's name as imported, whatever label the browser posted."""
    vendor, address = setup.records["vendor"], setup.records["address"]
    request = PurchaseRequest.objects.create(
        organization=setup.workflow.organization,
        version=setup.version,
        requester=setup.admin,
        number=900,
        title="Labels",
        answers={"request": {"ship_to": address.pk}, "lines": [{"vendor": vendor.pk}, {}]},
        labels={"request": {"ship_to": "Fake HQ"}, "lines": [{"vendor": "Shady Ltd"}, {}]},
        state=PurchaseRequest.State.SENDING,
        submitted_at=timezone.now(),
    )
    labels = CoupaProvider().request_labels(request=request)
    assert labels == {
        "request": {"ship_to": str(address)},
        "lines": [{"vendor": vendor.name}, {}],
    }


def test_po_totals_read_as_money() -> None:
    from decimal import Decimal

    from coupa.requisitions.push import _money

    assert _money(Decimal("747.0000")) == "747.00"
    assert _money(Decimal("12.3450")) == "12.345"
    assert _money(None) is None


@pytest.mark.django_db(transaction=True)
def test_a_send_the_broker_refuses_stays_pending_and_the_sweep_sends_it(
    setup: Setup, broker_down: str
) -> None:
    import time_machine
    from django.db import transaction

    request = _request(setup)
    with transaction.atomic():  # the request's own transaction; nothing raised after commit
        requisition = requisition_send(request=request)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.PENDING

    # Two minutes on, beat's sweep sends it again (refused again here: only logged).
    with time_machine.travel(timezone.now() + timedelta(seconds=121), tick=False):
        assert requisition_sweep_stale() == [requisition.pk]
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.PENDING


#: Every statement one PR's creation sends, in order, as a worker runs it (autocommit),
#: with its timeline event and its one recipient's notice; the rate limiter and the token
#: cache (Redis in production, tested on their own) are left out.
ONE_CREATION = [
    ("UPDATE", "coupa_requisition"),  # claim the lease
    ("SELECT", "coupa_requisition"),  # with its connection, request, requester, version...
    ("SELECT", "integrations_fieldmapping"),  # the mapping, with its form fields
    ("SELECT", "integrations_customfielddefinition"),
    ("SELECT", "coupa_address"),  # the records the answers and the mapping name,
    ("SELECT", "coupa_item"),  # one query per kind
    ("SELECT", "coupa_uom"),
    ("SELECT", "coupa_vendor"),
    ("SELECT", "coupa_account"),
    ("SELECT", "coupa_coupauser"),  # the requester's Coupa user
    ("SELECT", "coupa_currency"),  # the money answer's currency, by code
    ("UPDATE", "coupa_requisition"),  # sending, with the payload and its first attempt
    ("INSERT", "coupa_requisitionattempt"),
    ("UPDATE", "coupa_requisitionattempt"),  # Coupa's answer
    ("BEGIN", ""),
    ("UPDATE", "coupa_requisition"),  # created, and the lease let go
    ("UPDATE", "workflows_purchaserequest"),
    ("INSERT", "workflows_requestevent"),
    ("COMMIT", ""),
    ("SELECT", "users_user"),  # the organization's admins
    ("INSERT", "workflows_notification"),
]


def _statement(sql: str) -> tuple[str, str]:
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
    return verb, table.group(1) if table else ""


@pytest.mark.django_db(transaction=True)
def test_one_creation_sends_these_statements_and_no_more(
    setup: Setup, respx_mock: respx.MockRouter, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating one PR reads the mapping, the custom fields and each kind of record once
    (the publish gate's check, the payload and the R39 check share them), takes the
    requisition's own connection as the current one, writes each change once, and
    notices from the event it just recorded: a worker's processes share two cores, and
    every statement is one to compile and run."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from tests.coupa.conftest import FakeLimiter

    monkeypatch.setattr("coupa.client.base.shared_limiter", lambda *a, **k: FakeLimiter())
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    setup.complete_mapping()
    # The API user's Coupa id, as the connection's first PR stored it.
    setup.connection.provider_settings = {**setup.connection.provider_settings, "api_user_id": 3}
    setup.connection.save(update_fields=["provider_settings"])
    request = _request(setup, sample_answers(setup.version, requester=setup.admin))
    base = setup.connection.base_url.rstrip("/")
    respx_mock.post(f"{base}/oauth2/token").respond(
        200, json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
    )
    respx_mock.post(f"{base}/api/requisitions").respond(
        201, json={"id": 78, "status": "draft", "created-by": {"id": 3}}
    )
    requisition = Requisition.objects.create(
        request=request,
        connection=setup.connection,
        marker="SF-acme-42-abcd",
        submit=False,
        state=Requisition.State.PENDING,
    )  # as requisition_send records it (its own queries are not counted here)
    with CaptureQueriesContext(db) as queries:
        requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED and requisition.external_id == 78
    assert [n.recipient for n in request.notifications.all()] == [setup.admin]
    assert [_statement(q["sql"]) for q in queries] == ONE_CREATION


def test_a_finished_requisition_keeps_no_lease_and_an_undone_finish_lets_it_go(
    setup: Setup, respx_mock: respx.MockRouter, django_capture_on_commit_callbacks: Any
) -> None:
    """A created requisition lets its lease go in the update that records it; when an
    error undoes that update, the row stays `sending` with its lease free for the sweep."""
    from unittest import mock

    setup.complete_mapping()
    base = setup.connection.base_url.rstrip("/")
    respx_mock.post(f"{base}/oauth2/token").respond(
        200, json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
    )
    respx_mock.post(f"{base}/api/requisitions").mock(
        side_effect=[
            httpx.Response(201, json={"id": 78, "status": "draft", "created-by": {"id": 3}}),
            httpx.Response(201, json={"id": 79, "status": "draft", "created-by": {"id": 3}}),
        ]
    )
    answers = sample_answers(setup.version, requester=setup.admin)
    requisitions = []
    for number in (42, 43):
        with django_capture_on_commit_callbacks(execute=False):
            requisitions.append(requisition_send(request=_request(setup, answers, number)))
    created, undone = requisitions
    requisition_create(requisition_id=created.pk)
    created.refresh_from_db()
    assert created.state == Requisition.State.CREATED
    assert (created.lease_owner, created.lease_expires_at) == ("", None)

    broken = mock.patch(
        "coupa.requisitions.push.request_event_record", side_effect=RuntimeError("db gone")
    )
    with broken, pytest.raises(RuntimeError):
        requisition_create(requisition_id=undone.pk)
    undone.refresh_from_db()
    assert undone.state == Requisition.State.SENDING and undone.external_id is None
    assert (undone.lease_owner, undone.lease_expires_at) == ("", None)


def test_a_retried_requisition_is_looked_up_before_it_is_posted_again(
    setup: Setup, respx_mock: respx.MockRouter, django_capture_on_commit_callbacks: Any
) -> None:
    """A requisition that failed after posts whose outcome was unknown, retried by the
    admin: Coupa is asked for it first, and the one it has is adopted, not posted again."""
    from coupa.requisitions.push import requisition_retry

    setup.complete_mapping()
    request = _request(setup, sample_answers(setup.version, requester=setup.admin))
    with django_capture_on_commit_callbacks(execute=False):
        requisition = requisition_send(request=request)
    Requisition.objects.filter(pk=requisition.pk).update(
        state=Requisition.State.FAILED, attempts=2, error="Coupa did not answer in time."
    )
    with django_capture_on_commit_callbacks(execute=False):
        requisition_retry(request=request, user=None)
    base = setup.connection.base_url.rstrip("/")
    respx_mock.post(f"{base}/oauth2/token").respond(
        200, json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
    )
    found = {
        "id": 555,
        "status": "pending_approval",
        "req-title": f"[{requisition.marker}] Sample title",
        "created-by": {"id": 3},
        "requisition-lines": [{"id": 1, "line-num": 1}],
    }
    lookup = respx_mock.get(f"{base}/api/requisitions").respond(200, json=[found])
    post = respx_mock.post(f"{base}/api/requisitions").respond(500)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert lookup.call_count == 1 and post.call_count == 0
    assert requisition.state == Requisition.State.CREATED and requisition.external_id == 555
    assert [t.outcome for t in requisition.tries.all()] == ["adopted"]

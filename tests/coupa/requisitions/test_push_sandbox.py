"""A request's PR is created exactly once in Coupa (the sandbox over HTTP), then followed
to its purchase orders by the daily and hourly passes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from coupa.models import PurchaseOrder, Requisition, RequisitionAttempt, Uom, Vendor
from coupa.provider import CoupaProvider
from coupa.requisitions import push
from coupa.requisitions.payload import sample_answers, validate_r39
from coupa.requisitions.push import requisition_create, requisition_sweep_stale
from coupa.requisitions.status_sync import requisition_sync
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from integrations.models import Connection, FieldMapping, SyncRun
from spendflo.users.models import User
from spendflo.workflows.models import PurchaseRequest, WorkflowVersion
from tests.coupa.requisitions.conftest import mapped_workflow_on_sandbox
from tests.coupa.support import api_requests
from tests.factories import UomFactory

pytestmark = [pytest.mark.sandbox]
PROVIDER = CoupaProvider()


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate=0, accounts=40, suppliers=30, items=40, users=12) as sb:
        yield sb


@pytest.fixture
def sandbox(_sandbox: SandboxHandle) -> SandboxHandle:
    _sandbox.reset(tokens=True)
    return _sandbox


@pytest.fixture
def fast(settings: Any) -> None:
    settings.COUPA_RETRY_ATTEMPTS = 2
    settings.COUPA_RETRY_DEADLINE = 2.0
    settings.COUPA_BACKOFF_BASE = 0.01
    settings.COUPA_BACKOFF_MAX = 0.02
    settings.COUPA_PUSH_DEADLINE = 5.0


@dataclass
class World:
    connection: Connection
    version: WorkflowVersion
    requester: User
    answers: dict[str, Any]


@pytest.fixture
def world(
    organization: Any,
    admin_user: Any,
    sandbox: SandboxHandle,
    settings: Any,
    fast: None,
    django_capture_on_commit_callbacks: Any,
) -> World:
    connection, version, requester = mapped_workflow_on_sandbox(
        organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings
    )
    version.state = WorkflowVersion.State.PUBLISHED
    version.published_at = timezone.now()
    version.save()
    answers = sample_answers(version, requester=requester)
    return World(connection, version, requester, answers)


_numbers = iter(range(100, 10_000))


def new_request(w: World, *, submit: bool = False) -> PurchaseRequest:
    w.version.document_status = (
        WorkflowVersion.DocumentStatus.SUBMITTED if submit else WorkflowVersion.DocumentStatus.DRAFT
    )
    w.version.save(update_fields=["document_status"])
    return PurchaseRequest.objects.create(
        organization=w.connection.organization,
        version=w.version,
        requester=w.requester,
        number=next(_numbers),
        title="New laptops for the design team",
        answers=w.answers,
        state=PurchaseRequest.State.SENDING,
        submitted_at=timezone.now(),
    )


def send(request: PurchaseRequest, capture: Any) -> Requisition:
    """request_send inside the request's transaction; the queued task is not run."""
    with capture(execute=False) as callbacks, transaction.atomic():
        PROVIDER.request_send(request=request)
    assert len(callbacks) == 1
    return Requisition.objects.get(request=request)


def in_sandbox(sb: SandboxHandle, marker: str) -> list[dict[str, Any]]:
    return [r for r in sb.records("requisitions") if marker in str(r.get("req-title") or "")]


# --- creating exactly once ------------------------------------------------------------------


@pytest.mark.django_db
def test_draft_lands_as_draft_with_marker_in_title(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    request = new_request(world)
    requisition = send(request, django_capture_on_commit_callbacks)
    assert requisition.state == Requisition.State.PENDING
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    request.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED
    assert requisition.status == "draft"
    assert request.state == PurchaseRequest.State.PR_CREATED
    (record,) = in_sandbox(sandbox, requisition.marker)
    assert record["id"] == requisition.external_id
    assert record["req-title"].startswith(f"[{requisition.marker}] ")
    assert len(record["req-title"]) <= 50
    assert validate_r39(world.version, requisition.payload) == []
    assert request.events.filter(kind="pr_created").count() == 1
    doc = PROVIDER.request_document(request=request)
    assert doc is not None
    assert doc["id"] == record["id"] and doc["status"] == "draft"
    assert doc["url"].endswith(f"/requisition_headers/{record['id']}")
    assert [a["outcome"] for a in doc["attempts"]] == ["created"]
    assert doc["attempts"][0]["http_status"] == 201


@pytest.mark.django_db
def test_submitted_lands_as_chosen_and_buyer_action_is_stored(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox.settings(buyer_action="always")
    request = new_request(world, submit=True)
    requisition = send(request, django_capture_on_commit_callbacks)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert requisition.status == "pending_buyer_action"
    (record,) = in_sandbox(sandbox, requisition.marker)
    assert record["status"] == "pending_buyer_action" and record["submitted-at"]
    assert requisition.tries.get().endpoint == push.SUBMIT_PATH


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["lost_response", "slow_create", "error_500"])
def test_ambiguous_create_is_looked_up_and_made_once(
    fault: str,
    world: World,
    sandbox: SandboxHandle,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Committed-but-lost, slow (read timeout < slow_seconds) or a 500: one requisition."""
    settings.COUPA_READ_TIMEOUT = 0.5
    sandbox.set_faults(next=[fault], slow_seconds=2, apply_methods=["POST"])
    request = new_request(world)
    requisition = send(request, django_capture_on_commit_callbacks)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED, requisition.error
    assert len(in_sandbox(sandbox, requisition.marker)) == 1
    outcomes = list(requisition.tries.values_list("outcome", flat=True))
    assert outcomes[0] == RequisitionAttempt.Outcome.UNKNOWN
    # The 500 is refused before it is handled: the lookup proves absence and it is re-posted.
    expected = "created" if fault == "error_500" else "adopted"
    assert outcomes[-1] == expected
    assert outcomes.count("created") + outcomes.count("adopted") == 1


def _killed_at(
    world: World, monkeypatch: pytest.MonkeyPatch, callbacks: Any, step: str
) -> Requisition:
    """Send a request and kill its worker in `push.<step>` (before that step's writes)."""
    requisition = send(new_request(world), callbacks)

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(push, step, die)
        with pytest.raises(SystemExit):
            requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    return requisition


def _swept(requisition: Requisition) -> Requisition:
    """A SIGKILLed worker releases nothing: its lease runs out, then the sweep runs it."""
    Requisition.objects.filter(pk=requisition.pk).update(
        lease_owner="dead", lease_expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert requisition_sweep_stale(enqueue=False) == [requisition.pk]
    requisition.refresh_from_db()
    return requisition


@pytest.mark.django_db
def test_worker_dying_after_the_post_is_adopted_by_the_sweep(
    world: World,
    sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    requisition = _killed_at(world, monkeypatch, django_capture_on_commit_callbacks, "_created")
    assert requisition.state == Requisition.State.SENDING
    assert len(in_sandbox(sandbox, requisition.marker)) == 1
    requisition = _swept(requisition)
    assert requisition.state == Requisition.State.CREATED
    assert len(in_sandbox(sandbox, requisition.marker)) == 1
    assert requisition.tries.last().outcome == "adopted"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_attempt_of_a_worker_killed_mid_post_is_closed_as_unknown(
    world: World,
    sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The POST was sent and the worker died before recording its answer: the next worker
    closes that attempt as unknown (not left running forever) and adopts the PR."""
    requisition = _killed_at(
        world, monkeypatch, django_capture_on_commit_callbacks, "_finish_attempt"
    )
    assert requisition.tries.get().finished_at is None
    requisition = _swept(requisition)
    assert requisition.state == Requisition.State.CREATED
    assert len(in_sandbox(sandbox, requisition.marker)) == 1
    first, last = requisition.tries.all()
    assert (first.outcome, first.messages) == ("unknown", [push.INTERRUPTED_MESSAGE])
    assert first.finished_at is not None
    assert last.outcome == "adopted"


@pytest.mark.django_db
def test_double_enqueue_creates_one(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    request = new_request(world)
    requisition = send(request, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        PROVIDER.request_send(request=request)  # sent again: the same requisition
    assert Requisition.objects.filter(request=request).count() == 1
    requisition_create(requisition_id=requisition.pk)
    assert requisition_create(requisition_id=requisition.pk) is None
    assert len(in_sandbox(sandbox, requisition.marker)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_create_one(world: World, sandbox: SandboxHandle) -> None:
    sandbox.set_faults(next=["slow_create"], slow_seconds=1, apply_methods=["POST"])
    request = new_request(world)
    # Pending, as request_send leaves it (eager Celery would run the task on commit).
    requisition = Requisition.objects.create(
        request=request, connection=world.connection, marker="SF-acme-race-abcd", submit=False
    )
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()
            results.append(requisition_create(requisition_id=requisition.pk))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r is None for r in results) == [False, True]
    assert len(in_sandbox(sandbox, requisition.marker)) == 1


@pytest.mark.django_db
def test_refusal_shows_coupa_message_and_retry_after_fix_succeeds(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    good = Uom.objects.get(connection=world.connection, code="EA")
    ghost = UomFactory(connection=world.connection, external_id=99999, code="ZZZ", name="Ghost")
    # The line's unit mapped to a constant Coupa no longer has (imported data gone stale).
    uom = world.version.mappings.get(target="line.uom")
    uom.source, uom.value = FieldMapping.Source.CONSTANT, {"id": ghost.pk}
    uom.save()
    request = new_request(world)
    requisition = send(request, django_capture_on_commit_callbacks)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    request.refresh_from_db()
    assert requisition.state == Requisition.State.FAILED
    assert request.state == PurchaseRequest.State.PR_FAILED
    assert "ZZZ" in requisition.error or "uom" in requisition.error.lower()
    attempt = requisition.tries.get()
    assert attempt.outcome == "refused" and attempt.http_status == 400 and attempt.messages
    assert in_sandbox(sandbox, requisition.marker) == []
    doc = PROVIDER.request_document(request=request)
    assert doc is not None and doc["messages"] == attempt.messages
    assert doc["attempts"][0]["http_status"] == 400
    # The admin fixes the mapping; retry.
    uom.value = {"id": good.pk}
    uom.save()
    with django_capture_on_commit_callbacks(execute=True):
        PROVIDER.request_retry(request=request, user=None)
    requisition.refresh_from_db()
    request.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED
    assert request.state == PurchaseRequest.State.PR_CREATED
    assert len(in_sandbox(sandbox, requisition.marker)) == 1
    assert list(request.events.values_list("kind", flat=True)) == [
        "queued",
        "pr_failed",
        "retried",
        "pr_created",
    ]


# --- following PRs to their POs ----------------------------------------------------------------


def created(w: World, sb: SandboxHandle, capture: Any, *, submit: bool = True) -> Requisition:
    request = new_request(w, submit=submit)
    requisition = send(request, capture)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED
    return requisition


@pytest.mark.django_db
def test_pr_ordered_into_two_pos_shows_both_and_po_changes_are_picked_up(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    answers = dict(world.answers)
    line = dict(answers["lines"][0])
    vendors = list(Vendor.objects.filter(connection=world.connection, active=True)[:2])
    answers["lines"] = [{**line, "vendor": vendors[0].pk}, {**line, "vendor": vendors[1].pk}]
    world.answers = answers
    requisition = created(world, sandbox, django_capture_on_commit_callbacks)
    sandbox.approve(requisition.external_id)
    result = sandbox.order(requisition.external_id)
    assert len(result["purchase_orders"]) == 2
    run = requisition_sync(connection=world.connection, mode="daily")
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    requisition.refresh_from_db()
    assert requisition.status == "ordered"
    orders = list(requisition.purchase_orders.order_by("external_id"))
    assert len(orders) == 2
    assert all(o.total and o.currency_code and o.supplier_name for o in orders)
    doc = PROVIDER.request_document(request=requisition.request)
    assert doc is not None and len(doc["orders"]) == 2
    assert doc["orders"][0]["url"].endswith(f"/order_headers/{orders[0].external_id}")
    kinds = list(requisition.request.events.values_list("kind", flat=True))
    assert kinds.count("po") == 2 and "pr_status" in kinds
    # A PO closes: the hourly pass sees it.
    sandbox.po_action(orders[0].external_id, "cancel")
    run = requisition_sync(connection=world.connection, mode="hourly")
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    orders[0].refresh_from_db()
    assert orders[0].status == "cancelled"
    # Another change, seen by the daily pass too.
    sandbox.po_action(orders[1].external_id, "close")
    requisition_sync(connection=world.connection, mode="daily")
    assert PurchaseOrder.objects.get(pk=orders[1].pk).status == "closed"
    # All POs closed or cancelled: no longer polled.
    sandbox.reset_stats()
    run = requisition_sync(connection=world.connection, mode="daily")
    assert run.requests == 0


@pytest.mark.django_db
def test_approval_and_rejection_go_on_the_timeline(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    a = created(world, sandbox, django_capture_on_commit_callbacks)
    b = created(world, sandbox, django_capture_on_commit_callbacks)
    sandbox.approve(a.external_id)
    sandbox.reject(b.external_id, "Over budget")
    requisition_sync(connection=world.connection, mode="daily")
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "approved" and b.status == "draft"
    msg = b.request.events.filter(kind="pr_status").get().message
    assert "rejected" in msg and "Over budget" in msg
    assert "approved" in a.request.events.filter(kind="pr_status").get().message


@pytest.mark.django_db
def test_hourly_pass_costs_at_most_two_requests_when_nothing_changed(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    requisition = created(world, sandbox, django_capture_on_commit_callbacks)
    requisition_sync(connection=world.connection, mode="hourly")
    sandbox.approve(requisition.external_id)
    requisition_sync(connection=world.connection, mode="hourly")
    requisition.refresh_from_db()
    assert requisition.status == "approved"
    # Nothing changes now (the overlap re-reads the approval once at most).
    world.connection.refresh_from_db()
    sandbox.reset_stats()
    run = requisition_sync(connection=world.connection, mode="hourly")
    assert run.requests <= 2
    assert sum(api_requests(sandbox.stats()).values()) <= 2
    assert requisition.request.events.filter(kind="pr_status").count() == 1


@pytest.mark.django_db
def test_marker_in_a_custom_field_finds_a_lost_create(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox.requisition_fields({"on": "header", "name": "sf-ref", "type": "string"})
    world.connection.provider_settings = {
        **world.connection.provider_settings,
        "marker_field": "sf-ref",
    }
    world.connection.save(update_fields=["provider_settings"])
    sandbox.set_faults(next=["lost_response"], apply_methods=["POST"])
    request = new_request(world)
    requisition = send(request, django_capture_on_commit_callbacks)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED, requisition.error
    mine = [r for r in sandbox.records("requisitions") if r.get("sf-ref") == requisition.marker]
    assert len(mine) == 1 and mine[0]["id"] == requisition.external_id
    assert requisition.marker not in mine[0]["req-title"]  # the title stays the request's
    assert list(requisition.tries.values_list("outcome", flat=True)) == ["unknown", "adopted"]


@pytest.mark.django_db
def test_transient_errors_until_the_deadline_are_reported_and_nothing_is_created(
    world: World,
    sandbox: SandboxHandle,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.COUPA_PUSH_DEADLINE = 0.3
    sandbox.set_faults(error_503=1.0, apply_methods=["POST"])
    request = new_request(world)
    requisition = send(request, django_capture_on_commit_callbacks)
    requisition_create(requisition_id=requisition.pk)
    requisition.refresh_from_db()
    request.refresh_from_db()
    assert requisition.state == Requisition.State.FAILED
    assert "deadline" in requisition.error
    assert request.state == PurchaseRequest.State.PR_FAILED
    assert in_sandbox(sandbox, requisition.marker) == []
    tries = list(requisition.tries.all())
    assert len(tries) >= 2 and all(t.outcome == "unknown" for t in tries)
    assert {t.http_status for t in tries} == {503}
    # Coupa answers again: the admin's retry creates it once.
    sandbox.clear_faults()
    with django_capture_on_commit_callbacks(execute=True):
        PROVIDER.request_retry(request=request, user=None)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.CREATED
    assert len(in_sandbox(sandbox, requisition.marker)) == 1


@pytest.mark.django_db
def test_a_change_in_coupa_notifies_once_however_many_passes_see_it(
    world: World, sandbox: SandboxHandle, django_capture_on_commit_callbacks: Any, mailoutbox: Any
) -> None:
    """One notice and one email per change (approved, then ordered with its PO), never per poll."""
    from spendflo.workflows.models import Notification

    requisition = created(world, sandbox, django_capture_on_commit_callbacks)
    requester = requisition.request.requester

    def notices() -> list[str]:
        return list(
            Notification.objects.filter(recipient=requester, request=requisition.request)
            .order_by("pk")
            .values_list("message", flat=True)
        )

    def mails() -> int:
        return sum(requester.email in m.to for m in mailoutbox)

    before, before_mail = len(notices()), mails()
    sandbox.approve(requisition.external_id)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            requisition_sync(connection=world.connection, mode="daily")
    approved = notices()[before:]
    assert len(approved) == 1 and "approved" in approved[0]
    assert mails() == before_mail + 1
    sandbox.order(requisition.external_id)
    for mode in ("daily", "hourly", "daily"):
        with django_capture_on_commit_callbacks(execute=True):
            requisition_sync(connection=world.connection, mode=mode)
    later = notices()[before + 1 :]
    assert len(later) == 2, later  # ordered, and its purchase order issued
    assert any("ordered" in n for n in later) and any("Purchase order" in n for n in later)
    assert mails() == before_mail + 3

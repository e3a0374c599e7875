"""Each invariant of the chaos run holds on a consistent world and fails, with a sentence,
on the defect it guards: a missing or extra record, a duplicate, a changed toggle, a
second PR, a wrong status or PO, a stuck request, a run left running."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from chaos import invariants
from chaos.__main__ import figure_line
from coupa.models import Account, Item, PurchaseOrder, Requisition, RequisitionAttempt, Vendor
from integrations.models import SyncRun
from spendflo.workflows.models import PurchaseRequest, Workflow, WorkflowVersion
from tests.factories import (
    AccountFactory,
    ChartFactory,
    ConnectionFactory,
    ItemFactory,
    SyncRunFactory,
    UserFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db


class FakeSandbox:
    """The witness's two reads, over records given as dicts by collection."""

    def __init__(self, **collections: list[dict[str, Any]]) -> None:
        self.collections = collections

    def records(self, resource: str, *, active_only: bool = False) -> list[dict[str, Any]]:
        rows = self.collections.get(resource, [])
        return [r for r in rows if r.get("active", True)] if active_only else list(rows)

    def ids(self, resource: str, *, active_only: bool = False) -> list[int]:
        return [int(r["id"]) for r in self.records(resource, active_only=active_only)]


@pytest.fixture
def connection() -> Any:
    return ConnectionFactory()


def _reference_world(connection: Any) -> FakeSandbox:
    chart = ChartFactory(connection=connection, external_id=1)
    for i in (10, 11):
        AccountFactory(connection=connection, chart=chart, external_id=i)
    AccountFactory(connection=connection, chart=chart, external_id=12, active=False)
    for i in (20, 21):
        VendorFactory(connection=connection, external_id=i)
    ItemFactory(connection=connection, external_id=30)
    return FakeSandbox(
        accounts=[
            {"id": 10, "account-type": {"id": 1}},
            {"id": 11, "account-type": {"id": 1}},
            {"id": 12, "account-type": {"id": 1}, "active": False},
            {"id": 99, "account-type": {"id": 2}},  # a chart not selected
        ],
        suppliers=[{"id": 20}, {"id": 21}],
        items=[{"id": 30}, {"id": 31, "active": False}],
    )


def test_reference_matches_holds_and_finds_missing_and_extra_records(connection: Any) -> None:
    sandbox = _reference_world(connection)
    assert invariants.reference_matches(connection=connection, sandbox=sandbox) == []
    Vendor.objects.filter(connection=connection, external_id=21).delete()
    Item.objects.filter(connection=connection, external_id=30).update(active=False)
    ItemFactory(connection=connection, external_id=31)  # inactive in Coupa, active here
    problems = invariants.reference_matches(connection=connection, sandbox=sandbox)
    assert problems == [
        "Vendors: 1 active in Coupa but not imported (21).",
        "Items: 1 active in Coupa but not imported (30).",
        "Items: 1 imported as active but not active in Coupa (31).",
    ]


def test_reference_matches_checks_each_selected_chart(connection: Any) -> None:
    sandbox = _reference_world(connection)
    Account.objects.filter(connection=connection, external_id=11).update(active=False)
    (problem,) = invariants.reference_matches(connection=connection, sandbox=sandbox)
    assert problem == "Accounts of chart 1: 1 active in Coupa but not imported (11)."


def test_a_coupa_id_imported_twice_is_a_violation() -> None:
    # The tables' unique constraints keep duplicates out of the database: the comparison
    # itself is what must see one.
    assert invariants._compare("Items", [1, 2, 2], {1, 2}) == [
        "Items: Coupa ids imported more than once (2)."
    ]


def test_toggles_unchanged_finds_a_flipped_choice(connection: Any) -> None:
    _reference_world(connection)
    Vendor.objects.filter(connection=connection, external_id=20).update(show_to_users=False)
    before = invariants.toggles_snapshot(connection=connection)
    assert ("vendors", 20) in before and before[("vendors", 20)] is False
    ItemFactory(connection=connection, external_id=32)  # new records are not checked
    assert invariants.toggles_unchanged(connection=connection, before=before) == []
    Vendor.objects.filter(connection=connection, external_id=20).update(show_to_users=True)
    assert invariants.toggles_unchanged(connection=connection, before=before) == [
        "Show to Users changed on 1 records by the sync (vendors 20)."
    ]


def _request(connection: Any, number: int, state: str = PurchaseRequest.State.PR_CREATED) -> Any:
    org = connection.organization
    workflow = Workflow.objects.filter(organization=org).first() or Workflow.objects.create(
        organization=org, name="Chaos"
    )
    version = workflow.versions.first() or WorkflowVersion.objects.create(
        workflow=workflow, number=1, state=WorkflowVersion.State.PUBLISHED
    )
    requester = UserFactory(organization=org)
    return PurchaseRequest.objects.create(
        organization=org,
        version=version,
        requester=requester,
        number=number,
        title=f"Request {number}",
        state=state,
        submitted_at=timezone.now(),
    )


def _created(connection: Any, number: int, coupa_id: int, *, submit: bool, status: str) -> Any:
    return Requisition.objects.create(
        request=_request(connection, number),
        connection=connection,
        marker=f"SF-acme-{number}-abcd",
        submit=submit,
        state=Requisition.State.CREATED,
        external_id=coupa_id,
        status=status,
    )


def _pending(connection: Any, request: Any, state: str) -> Any:
    return Requisition.objects.create(
        request=request,
        connection=connection,
        marker=f"SF-acme-{request.number}-abcd",
        submit=False,
        state=state,
    )


def _pr(coupa_id: int, number: int, status: str) -> dict[str, Any]:
    return {"id": coupa_id, "req-title": f"[SF-acme-{number}-abcd] Laptops", "status": status}


def test_requisitions_once_finds_a_second_pr_a_missing_one_and_a_wrong_status(
    connection: Any,
) -> None:
    _created(connection, 1, 500, submit=False, status="draft")
    _created(connection, 2, 501, submit=True, status="pending_approval")
    good = [_pr(500, 1, "draft"), _pr(501, 2, "pending_approval"), {"id": 7, "req-title": "Theirs"}]
    assert (
        invariants.requisitions_once(connection=connection, sandbox=FakeSandbox(requisitions=good))
        == []
    )
    doubled = [*good, _pr(502, 2, "pending_approval")]
    assert invariants.requisitions_once(
        connection=connection, sandbox=FakeSandbox(requisitions=doubled)
    ) == ["Request 2 (SF-acme-2-abcd) has 2 PRs in Coupa, not one."]
    wrong = [_pr(500, 1, "pending_approval"), _pr(501, 2, "draft")]
    assert invariants.requisitions_once(
        connection=connection, sandbox=FakeSandbox(requisitions=wrong)
    ) == [
        "Request 1 (SF-acme-1-abcd) was sent as a draft but its PR is 'pending_approval'.",
        "Request 2 (SF-acme-2-abcd) was sent for approval but its PR is still a draft.",
    ]
    assert invariants.requisitions_once(
        connection=connection, sandbox=FakeSandbox(requisitions=good[:1])
    ) == ["Request 2 (SF-acme-2-abcd) has 0 PRs in Coupa, not one."]


def test_orders_match_finds_a_stale_status_and_a_missing_or_changed_po(connection: Any) -> None:
    req = _created(connection, 1, 500, submit=True, status="ordered")
    PurchaseOrder.objects.create(
        connection=connection,
        requisition=req,
        external_id=900,
        number="PO-900",
        status="issued",
        synced_at=timezone.now(),
    )
    po = {"id": 900, "po-number": "PO-900", "status": "issued", "requisition-header": {"id": 500}}
    sandbox = FakeSandbox(requisitions=[_pr(500, 1, "ordered")], purchase_orders=[po])
    assert invariants.orders_match(connection=connection, sandbox=sandbox) == []
    moved = FakeSandbox(
        requisitions=[_pr(500, 1, "received")],
        purchase_orders=[{**po, "status": "closed"}, {**po, "id": 901, "po-number": "PO-901"}],
    )
    assert invariants.orders_match(connection=connection, sandbox=moved) == [
        "PR 500: the product says 'ordered', Coupa says 'received'.",
        "PR 500: the product has purchase orders [900], Coupa has [900, 901].",
        "PO 900 of PR 500: the product has ('PO-900', 'issued'), Coupa has ('PO-900', 'closed').",
    ]


def test_requests_settled_finds_lost_stuck_and_silent_failures(connection: Any) -> None:
    org = connection.organization
    _created(connection, 1, 500, submit=False, status="draft")
    assert invariants.requests_settled(organization=org) == []
    _request(connection, 2, PurchaseRequest.State.SENDING)  # no requisition at all
    stuck = _request(connection, 3, PurchaseRequest.State.SENDING)
    _pending(connection, stuck, Requisition.State.SENDING)
    silent = _request(connection, 4, PurchaseRequest.State.PR_FAILED)
    _pending(connection, silent, Requisition.State.FAILED)
    assert invariants.requests_settled(organization=org) == [
        "Request 2 was sent but has no requisition: it is lost.",
        "Request 3 is stuck sending (requisition sending).",
        "Request 4 failed without an error an admin can see.",
    ]


def test_requests_settled_finds_an_attempt_left_running(connection: Any) -> None:
    req = _created(connection, 1, 500, submit=False, status="draft")
    RequisitionAttempt.objects.create(requisition=req, started_at=timezone.now())
    assert invariants.requests_settled(organization=connection.organization) == [
        "Request 1 has an attempt left running on its timeline."
    ]


def test_runs_finished_finds_a_run_left_running_and_a_silent_failure(connection: Any) -> None:
    SyncRunFactory(connection=connection, state=SyncRun.State.SUCCEEDED)
    SyncRunFactory(connection=connection, state=SyncRun.State.FAILED, error="Coupa did not answer.")
    assert invariants.runs_finished(connection=connection) == []
    running = SyncRunFactory(connection=connection, state=SyncRun.State.RUNNING)
    silent = SyncRunFactory(connection=connection, state=SyncRun.State.FAILED, error="")
    assert invariants.runs_finished(connection=connection) == [
        f"Sync run {running.pk} (manual) is left running.",
        f"Sync run {silent.pk} failed without an error.",
    ]


def test_figure_line_names_scenarios_faults_kills_violations_and_seed() -> None:
    result = {"outcomes": [object(), object()], "faults": {"reset": 3, "error_503": 4}, "kills": 5,
              "violations": 0, "seconds": 61.4, "seed": 1234}  # fmt: skip
    assert figure_line(result) == (
        "chaos: 2 scenarios, 7 faults injected, 5 kills, 0 invariant violations in 61 s (seed 1234)"
    )

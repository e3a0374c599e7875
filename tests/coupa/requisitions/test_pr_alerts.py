"""Admins hear of a PR that could not be created, once per request, and of failing PR/PO
passes once until one succeeds; nobody else is told and no secret is in what they read."""

from __future__ import annotations

from typing import Any

import pytest

from coupa.requisitions.push import requisition_create, requisition_sweep_stale
from coupa.requisitions.status_sync import requisition_sync
from coupa.sandbox.testing import SandboxHandle
from integrations.models import Alert, SyncRun
from spendflo.users.models import User
from spendflo.workflows.models import Notification, PurchaseRequest
from tests.coupa.requisitions import test_push_sandbox as base
from tests.coupa.requisitions.test_push_sandbox import World, new_request, send

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

# The PR tests' sandbox (one per module) and connected, mapped, published world.
_sandbox, sandbox, fast, world = base._sandbox, base.sandbox, base.fast, base.world


@pytest.fixture
def people(
    world: World, admin_user: User, make_user: Any, other_organization: Any
) -> dict[str, list[User]]:
    organization = world.connection.organization
    return {
        "admins": [admin_user, make_user(User.Role.ADMIN, organization)],
        "others": [
            make_user(User.Role.OPS, organization),
            make_user(User.Role.ADMIN, other_organization),
        ],
    }


def notices(user: User) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user).order_by("pk").values_list("message", flat=True)
    )


def mails_to(user: User, outbox: list[Any]) -> list[Any]:
    return [m for m in outbox if user.email in m.to]


def test_pr_failing_after_retries_alerts_each_admin_once_per_request(
    world: World,
    people: dict[str, list[User]],
    sandbox: SandboxHandle,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    settings.COUPA_PUSH_DEADLINE = 0.3
    sandbox.set_faults(error_503=1.0, apply_methods=["POST"])
    requests = [new_request(world), new_request(world)]
    for request in requests:
        requisition = send(request, django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            requisition_create(requisition_id=requisition.pk)
            # A second worker, a redelivered message, the sweep: the failure is told once.
            requisition_create(requisition_id=requisition.pk)
            requisition_sweep_stale(enqueue=False)
        request.refresh_from_db()
        assert request.state == PurchaseRequest.State.PR_FAILED
    for admin in people["admins"]:
        got = notices(admin)
        assert len(got) == 2, got
        for request, message in zip(requests, got, strict=True):
            assert message.startswith(f"{request.reference} {request.title}: Coupa did not create")
            assert "deadline" in message  # the error in words
        emails = mails_to(admin, mailoutbox)
        assert len(emails) == 2 and all("deadline" in m.body for m in emails)
    for other in people["others"]:
        assert notices(other) == [] and mails_to(other, mailoutbox) == []
    texts = [n.message for n in Notification.objects.all()] + [
        m.subject + m.body for m in mailoutbox
    ]
    assert all(sandbox.client_secret not in t and "Bearer" not in t for t in texts)


def test_failing_pr_po_passes_alert_once_then_once_recovered(
    world: World,
    people: dict[str, list[User]],
    sandbox: SandboxHandle,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    sandbox.set_faults(error_503=1.0)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            run = requisition_sync(connection=world.connection, mode="hourly")
        assert run.state == SyncRun.State.FAILED
    for admin in people["admins"]:
        (message,) = notices(admin)
        assert message.startswith(
            f"Coupa requisition and order sync failed at {world.connection.host}: "
        )
        assert run.error in message
    sandbox.clear_faults()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert requisition_sync(connection=world.connection, mode="hourly").state == "succeeded"
    for admin in people["admins"]:
        assert len(notices(admin)) == 2 and "works again" in notices(admin)[1]
        assert len(mails_to(admin, mailoutbox)) == 2
    for other in people["others"]:
        assert notices(other) == [] and mails_to(other, mailoutbox) == []
    # The reference sync's alert is another topic: none was opened.
    assert list(Alert.objects.values_list("topic", flat=True)) == [Alert.Topic.REQUISITION_SYNC]

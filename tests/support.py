"""Helpers shared by the test suite's conftest files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from integrations.models import ConnectionValidation, CustomFieldDefinition, SyncRun
from spendflo.users.models import User
from spendflo.workflows.models import Notification, PurchaseRequest, RequestEvent
from spendflo.workflows.services import FieldInput, form_field_add, workflow_create
from tests.factories import (
    AccountFactory,
    ConnectionFactory,
    ItemFactory,
    OrganizationFactory,
    SyncRunFactory,
    UserFactory,
    VendorFactory,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip when something a test needs is missing, except in CI, where that fails."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must not skip this test: {reason}", pytrace=False)
    pytest.skip(reason)


REPO_ROOT = Path(__file__).resolve().parents[1]
# Coupa's R39 Swagger files and published example payloads sit beside the repository, in
# ../shared; the repository never copies them. Tests that compare with them read them there.
SHARED_DIR = REPO_ROOT.parent / "shared"


def shared_path(name: str) -> Path:
    """Return ../shared/`name`; skip the test when it is absent (fail in CI).

    Call it inside the test, not at import, so only the tests that read ../shared skip.
    """
    require(
        SHARED_DIR.is_dir(),
        f"Coupa's specs and examples are absent: {SHARED_DIR} does not exist",
    )
    path = SHARED_DIR / name
    require(path.exists(), f"Coupa's specs and examples are incomplete: {path} does not exist")
    return path


ROLES = (User.Role.ADMIN, User.Role.OPS, User.Role.REQUESTER)


@dataclass
class Tenant:
    marker: str
    users: dict[str, User]
    ids: dict[tuple[str, str], Any] = field(default_factory=dict)


def tenant_with_data(slug: str) -> Tenant:
    """An organization with a user of each role and one of everything its users can reach:
    a connected Coupa connection with records, a validation, a sync run, a custom field, a
    workflow with a form field, a failed request, its event and notifications. `ids` fills
    the routes' parameters with them (tests.endpoints.fill_route)."""
    marker = f"only-{slug}-sees-this"
    organization = OrganizationFactory(slug=slug, name=f"Org {marker}")
    users = {
        role: UserFactory(
            role=role, organization=organization, email=f"{role}@{slug}.test", first_name=marker
        )
        for role in ROLES
    }
    admin, requester = users[User.Role.ADMIN], users[User.Role.REQUESTER]
    connection = ConnectionFactory(organization=organization)
    account = AccountFactory(connection=connection, name=f"Account {marker}")
    vendor = VendorFactory(connection=connection, name=f"Vendor {marker}")
    item = ItemFactory(connection=connection, name=f"Item {marker}")
    validation = ConnectionValidation.objects.create(
        connection=connection, state=ConnectionValidation.State.SUCCEEDED, requested_by=admin
    )
    run = SyncRunFactory(connection=connection, state=SyncRun.State.RUNNING)
    custom = CustomFieldDefinition.objects.create(
        connection=connection, api_name="po-reference", label=f"PO {marker}"
    )
    workflow = workflow_create(organization=organization, name=f"Flow {marker}", user=admin)
    version = workflow.versions.get()
    form_field = form_field_add(version=version, data=FieldInput(f"Q {marker}"), user=admin)
    request = PurchaseRequest.objects.create(
        organization=organization,
        version=version,
        requester=requester,
        number=1,
        title=f"Request {marker}",
        state=PurchaseRequest.State.PR_FAILED,
        submitted_at=timezone.now(),
    )
    event = RequestEvent.objects.create(
        request=request, kind=RequestEvent.Kind.PR_FAILED, message=f"Failed {marker}"
    )
    for user in users.values():
        Notification.objects.create(recipient=user, request=request, event=event, message=marker)
    ids = {
        ("*", "workflow_id"): workflow.pk,
        ("workflows", "pk"): workflow.pk,
        ("versions", "number"): version.number,
        ("workflow-versions", "pk"): version.pk,
        ("fields", "pk"): form_field.pk,
        ("fields", "field_id"): form_field.pk,
        ("custom-fields", "pk"): custom.pk,
        ("users", "pk"): requester.pk,
        ("validations", "pk"): validation.pk,
        ("sync", "pk"): run.pk,
        ("sync-runs", "pk"): run.pk,
        ("requests", "pk"): request.pk,
        ("records", "kind"): "accounts",
        ("records", "pk"): account.pk,
        ("accounts", "pk"): account.pk,
        ("vendors", "pk"): vendor.pk,
        ("items", "pk"): item.pk,
        ("pickers", "kind"): "accounts",
        ("mapping", "target"): "line.quantity",
        ("reset", "uidb64"): "MQ",
        ("reset", "token"): "set-password",
    }
    return Tenant(marker, users, ids)

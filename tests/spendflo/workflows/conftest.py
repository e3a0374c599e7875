"""Fixtures of the request tests: a fake provider and a published workflow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.providers import _load
from spendflo.workflows.models import WorkflowVersion
from spendflo.workflows.services import (
    FieldInput,
    form_field_add,
    version_publish,
    version_steps_set,
    workflow_create,
)
from tests.fake_provider import FakeProvider


@pytest.fixture
def fake_provider(settings: Any) -> Iterator[type[FakeProvider]]:
    """The only configured provider is `FakeProvider`; its records start empty."""
    settings.INTEGRATION_PROVIDERS = ["tests.fake_provider.FakeProvider"]
    FakeProvider.reset()
    yield FakeProvider
    FakeProvider.reset()
    _load.cache_clear()


def build_published(
    organization: Any,
    admin: Any,
    *,
    name: str = "IT hardware",
    approval: str = "none",
    approver: Any = None,
) -> WorkflowVersion:
    """A published version: a required ship-to, a cost centre choice, a need-by date; lines
    of description, quantity, unit price, vendor (all required) and an optional account."""
    version = workflow_create(organization=organization, name=name, user=admin).versions.get()
    for data in (
        FieldInput("Ship to", type="ship_to", required=True),
        FieldInput("Cost centre", type="choice", choices=["R&D", "Sales"]),
        FieldInput("Need by", type="date"),
        FieldInput("Description", group="line", required=True, help_text="What to buy"),
        FieldInput("Quantity", type="number", group="line", required=True),
        FieldInput("Unit price", type="money", group="line", required=True),
        FieldInput("Vendor", type="vendor", group="line", required=True),
        FieldInput("Account", type="account", group="line"),
    ):
        form_field_add(version=version, data=data, user=admin)
    version_steps_set(
        version=version, approval=approval, approver=approver, document_status="draft", user=admin
    )
    return version_publish(version=version, user=admin)


def good_answers(lines: int = 1) -> dict[str, Any]:
    line = {
        "description": "Laptop",
        "quantity": "2",
        "unit_price": {"amount": "999.50", "currency": "usd"},
        "vendor": 7,
    }
    return {
        "request": {"ship_to": "3", "cost_centre": "R&D", "need_by": "2027-01-15"},
        "lines": [dict(line) for _ in range(lines)],
    }


@pytest.fixture
def published(fake_provider: Any, organization: Any, admin_user: Any) -> WorkflowVersion:
    return build_published(organization, admin_user)

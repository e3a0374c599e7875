"""A connected organization with imported records and a workflow whose form has a line group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from integrations.models import Connection
from spendflo.users.models import User
from spendflo.workflows.models import FormField, Workflow, WorkflowVersion
from spendflo.workflows.services import FieldInput, form_field_add, workflow_create
from tests.factories import (
    AccountFactory,
    AddressFactory,
    ConnectionFactory,
    CoupaUserFactory,
    CurrencyFactory,
    ItemFactory,
    UomFactory,
    VendorFactory,
)


@dataclass
class Setup:
    connection: Connection
    workflow: Workflow
    version: WorkflowVersion
    fields: dict[str, FormField]
    records: dict[str, Any]
    admin: User


FORM = [
    FieldInput("Title", type="short_text", required=True),
    FieldInput("Ship to", type="ship_to", required=True),
    FieldInput("Needed by", type="date"),
    FieldInput("Business reason", type="long_text"),
    FieldInput("Description", type="short_text", group="line", required=True),
    FieldInput("Quantity", type="number", group="line", required=True),
    FieldInput("Unit price", type="money", group="line", required=True),
    FieldInput("Vendor", type="vendor", group="line", required=True),
    FieldInput("Account", type="account", group="line"),
    FieldInput("Item", type="item", group="line"),
]


@pytest.fixture
def setup(organization: Any, admin_user: User) -> Setup:
    connection = ConnectionFactory(organization=organization)
    records = {
        "address": AddressFactory(connection=connection),
        "currency": CurrencyFactory(connection=connection),
        "uom": UomFactory(connection=connection),
        "vendor": VendorFactory(connection=connection),
        "account": AccountFactory(connection=connection),
        "item": ItemFactory(connection=connection),
        "coupa_admin": CoupaUserFactory(connection=connection, email=admin_user.email),
    }
    workflow = workflow_create(organization=organization, name="IT hardware", user=admin_user)
    version = workflow.versions.get()
    fields = {}
    for data in FORM:
        field = form_field_add(version=version, data=data, user=admin_user)
        fields[field.api_name] = field
    return Setup(connection, workflow, version, fields, records, admin_user)

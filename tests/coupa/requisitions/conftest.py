"""A connected organization with imported records and a workflow whose form has a line group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from coupa.models import CoupaUser, Uom
from coupa.reference.services import charts_select
from coupa.reference.walk import sync_run_execute
from coupa.requisitions.mapping import mapping_accept_suggestions, mapping_problems, mapping_set
from integrations.models import Connection
from spendflo.users.models import User
from spendflo.workflows.models import FormField, Workflow, WorkflowVersion
from spendflo.workflows.services import FieldInput, form_field_add, workflow_create
from tests.coupa.support import connect_sandbox, load_charts
from tests.factories import (
    AccountFactory,
    AddressFactory,
    ConnectionFactory,
    CoupaUserFactory,
    CurrencyFactory,
    ItemFactory,
    UomFactory,
    UserFactory,
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

    def complete_mapping(self) -> None:
        """Accept the suggestions and give the unit of measure a constant: nothing is missing."""
        mapping_accept_suggestions(version=self.version, user=self.admin)
        mapping_set(
            version=self.version,
            target="line.uom",
            source="constant",
            value={"id": self.records["uom"].pk},
            user=self.admin,
        )


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


def mapped_workflow_on_sandbox(
    organization: Any, admin: User, sandbox: Any, capture: Any, settings: Any
) -> tuple[Connection, WorkflowVersion, User]:
    """A connection to `sandbox` with one chart imported, a draft version of the FORM (plus a
    unit-of-measure line field defaulting to EA) completely mapped, and a requester who is an
    active Coupa user. Returns (connection, version, requester)."""
    connection = connect_sandbox(organization, admin, sandbox, capture, settings)
    charts = load_charts(connection)
    run = charts_select(connection=connection, chart_ids=[charts[0].pk], user=admin, enqueue=False)
    assert run is not None and sync_run_execute(sync_run_id=run.pk) is not None
    coupa_user = (
        CoupaUser.objects.filter(connection=connection, active=True).exclude(external_id=1).first()
    )
    assert coupa_user is not None
    requester = UserFactory(organization=organization, email=coupa_user.email)
    workflow = workflow_create(organization=organization, name="Hardware", user=admin)
    version = workflow.versions.get()
    for data in FORM:
        form_field_add(version=version, data=data, user=admin)
    form_field_add(version=version, data=FieldInput("Unit", type="uom", group="line"), user=admin)
    mapping_accept_suggestions(version=version, user=admin)
    uom = version.mappings.get(target="line.uom")
    uom.default = {"id": Uom.objects.get(connection=connection, code="EA").pk}
    uom.save()
    assert mapping_problems(version) == []
    return connection, version, requester

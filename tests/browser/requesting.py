"""Setup shared by the browser tests of requesting: a published workflow with pickers and
lines against a synced sandbox, a requester who is a Coupa user, and the form's pickers."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from coupa.models import CoupaUser
from coupa.reference.selectors import offered_record_list
from coupa.requisitions.mapping import mapping_accept_suggestions, mapping_set
from integrations.models import FieldMapping
from spendflo.workflows.services import (
    FieldInput,
    form_field_add,
    version_publish,
    version_steps_set,
    workflow_create,
)


def published_workflow(
    organization: Any, admin: Any, connection: Any, *, document_status: str = "draft"
) -> Any:
    """Publish "IT hardware": a ship-to picker and lines of description, quantity, unit
    price and vendor, mapped with the suggestions and a constant unit of measure (EA);
    no in-app approval, the PR created with `document_status` ("draft" or "submitted")."""
    version = workflow_create(
        organization=organization, name="IT hardware", user=admin
    ).versions.get()
    for data in (
        FieldInput("Ship to", type="ship_to", required=True, help_text="Where it is delivered"),
        FieldInput("Description", group="line", required=True),
        FieldInput("Quantity", type="number", group="line", required=True),
        FieldInput("Unit price", type="money", group="line", required=True),
        FieldInput("Vendor", type="vendor", group="line", required=True),
    ):
        form_field_add(version=version, data=data, user=admin)
    mapping_accept_suggestions(version=version, user=admin)
    uom = offered_record_list(connection=connection, kind="uoms").filter(code="EA").first()
    assert uom is not None
    mapping_set(
        version=version,
        target="line.uom",
        source=FieldMapping.Source.CONSTANT,
        value={"id": uom.pk},
        user=admin,
    )
    version_steps_set(version=version, approval="none", document_status=document_status, user=admin)
    return version_publish(version=version, user=admin)


def coupa_requester(connection: Any, organization: Any, make_user: Any) -> Any:
    """A requester whose email is an active Coupa user's (not the API user), so "Requested
    by" resolves."""
    coupa_user = (
        CoupaUser.objects.filter(connection=connection, active=True).exclude(external_id=1).first()
    )
    assert coupa_user is not None
    return make_user("requester", organization, email=coupa_user.email)


def pick(scope: Any, label: str, search: str) -> None:
    """Search a picker and choose its first match."""
    scope.get_by_label(f"Search {label}").fill(search)
    select = scope.get_by_label(label, exact=True)
    expect(select.locator("option").nth(1)).to_contain_text(search)
    select.select_option(index=1)  # after the blank "—"


def fill_line(page: Page, number: int, description: str, vendor: str) -> None:
    """Fill line `number`: quantity number + 1 at 125.00 USD from `vendor`."""
    line = page.locator(f'fieldset[data-line="{number}"]')
    line.get_by_label("Description").fill(description)
    line.get_by_label("Quantity").fill(str(number + 1))
    line.get_by_label("Unit price", exact=True).fill("125.00")
    line.get_by_label("Unit price currency").fill("USD")
    pick(line, "Vendor", vendor)

"""The mapping to Coupa's requisition: required fields locked, types checked, publishing gated."""

from __future__ import annotations

from typing import Any

import pytest

from coupa.requisitions.mapping import (
    MappingError,
    MappingLockedError,
    mapping_accept_suggestions,
    mapping_problems,
    mapping_remove,
    mapping_set,
    mapping_table,
)
from integrations.models import Connection, CustomFieldDefinition, FieldMapping
from spendflo.workflows.models import WorkflowVersion
from spendflo.workflows.services import (
    PublishBlockedError,
    publish_blockers,
    version_draft_for,
    version_publish,
)
from tests.coupa.requisitions.conftest import Setup

pytestmark = pytest.mark.django_db
Source = FieldMapping.Source


def _targets(problems: Any) -> set[str]:
    return {p.target for p in problems}


def _complete(s: Setup) -> None:
    """Accept the suggestions and map what has none: a complete mapping."""
    mapping_accept_suggestions(version=s.version, user=s.admin)
    mapping_set(
        version=s.version,
        target="line.uom",
        source=Source.CONSTANT,
        value={"id": s.records["uom"].pk},
        user=s.admin,
    )


def test_a_new_version_lists_every_required_field_missing(setup: Setup) -> None:
    problems = mapping_problems(setup.version)
    assert _targets(problems) == {
        "requested-by",
        "ship-to-address",
        "line.line-type",
        "line.description",
        "line.quantity",
        "line.uom",
        "line.currency",
    }
    messages = " ".join(p.message for p in problems)
    assert "Requested by is required by Coupa: map it." in messages
    assert "a description or an item on every line" in messages
    with pytest.raises(PublishBlockedError) as refused:
        version_publish(version=setup.version, user=setup.admin)
    assert _targets(refused.value.blockers) == _targets(problems)
    setup.version.refresh_from_db()
    assert setup.version.state == WorkflowVersion.State.DRAFT


def test_suggestions_match_fields_by_name_and_type(setup: Setup) -> None:
    rows = {r.field.key: r for r in mapping_table(setup.version)}
    f = setup.fields
    expected = {
        "ship-to-address": f["ship_to"],
        "req-title": f["title"],
        "need-by-date": f["needed_by"],
        "justification": f["business_reason"],
        "line.description": f["description"],
        "line.quantity": f["quantity"],
        "line.unit-price": f["unit_price"],
        "line.currency": f["unit_price"],
        "line.supplier": f["vendor"],
        "line.account": f["account"],
        "line.item": f["item"],
    }
    for key, field in expected.items():
        suggestion = rows[key].suggestion
        assert suggestion is not None and suggestion.form_field == field, key
    requested = rows["requested-by"].suggestion
    assert requested is not None and (requested.source, requested.value) == ("requester", "email")
    assert rows["line.uom"].suggestion is None  # no unit-of-measure field on the form


def test_accepting_suggestions_and_one_constant_completes_the_mapping(setup: Setup) -> None:
    _complete(setup)
    assert mapping_problems(setup.version) == []
    published = version_publish(version=setup.version, user=setup.admin)
    assert published.state == WorkflowVersion.State.PUBLISHED
    assert published.published_by == setup.admin


def test_required_mappings_are_locked_but_can_change_source(setup: Setup) -> None:
    _complete(setup)
    for target in ("requested-by", "ship-to-address", "line.currency", "line.quantity"):
        with pytest.raises(MappingLockedError, match="cannot be removed, only changed"):
            mapping_remove(version=setup.version, target=target, user=setup.admin)
    rows = {r.field.key: r for r in mapping_table(setup.version)}
    assert rows["requested-by"].locked and not rows["need-by-date"].locked
    # Changing to another valid source is allowed.
    mapping_set(
        version=setup.version,
        target="ship-to-address",
        source=Source.CONSTANT,
        value={"id": setup.records["address"].pk},
        user=setup.admin,
    )
    assert mapping_problems(setup.version) == []
    # An optional field's mapping can go.
    mapping_remove(version=setup.version, target="need-by-date", user=setup.admin)
    assert not setup.version.mappings.filter(target="need-by-date").exists()


def test_description_or_item_lock_follows_the_other(setup: Setup) -> None:
    """Either may go while the other is always present; the last one standing is locked."""
    _complete(setup)
    mapping_remove(version=setup.version, target="line.item", user=setup.admin)
    with pytest.raises(MappingLockedError):
        mapping_remove(version=setup.version, target="line.description", user=setup.admin)


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        ("line.unit-price", "needed_by", "A date field cannot feed Unit price"),
        ("line.supplier", "account", "cannot feed Supplier"),
        ("req-title", "description", "is asked on each line; Title is one per requisition"),
        ("line.quantity", "title", "A short text field cannot feed Quantity"),
    ],
)
def test_incompatible_sources_are_refused(
    setup: Setup, target: str, field: str, message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        mapping_set(
            version=setup.version,
            target=target,
            source=Source.FORM_FIELD,
            form_field=setup.fields[field],
            user=setup.admin,
        )
    assert not setup.version.mappings.filter(target=target).exists()


def test_constants_must_be_offered_records(setup: Setup) -> None:
    vendor = setup.records["vendor"]
    vendor.show_to_users = False
    vendor.save()
    with pytest.raises(MappingError, match="not an offered"):
        mapping_set(
            version=setup.version,
            target="line.supplier",
            source=Source.CONSTANT,
            value={"id": vendor.pk},
            user=setup.admin,
        )
    with pytest.raises(MappingError, match="longer than Coupa's 50 characters"):
        mapping_set(
            version=setup.version,
            target="req-title",
            source=Source.CONSTANT,
            value="x" * 51,
            user=setup.admin,
        )


def test_optional_form_field_needs_a_default_for_a_required_field(setup: Setup) -> None:
    _complete(setup)
    mapping_set(
        version=setup.version,
        target="ship-to-address",
        source=Source.FORM_FIELD,
        form_field=setup.fields["ship_to"],
        user=setup.admin,
    )
    field = setup.fields["ship_to"]
    field.required = False
    field.save()
    (problem,) = mapping_problems(setup.version)
    assert problem.target == "ship-to-address"
    assert "optional on the form" in problem.message
    mapping_set(
        version=setup.version,
        target="ship-to-address",
        source=Source.FORM_FIELD,
        form_field=field,
        default={"id": setup.records["address"].pk},
        user=setup.admin,
    )
    assert mapping_problems(setup.version) == []


def test_amount_lines_need_no_quantity_and_refuse_one(setup: Setup) -> None:
    _complete(setup)
    mapping_set(
        version=setup.version,
        target="line.line-type",
        source=Source.CONSTANT,
        value="RequisitionAmountLine",
        user=setup.admin,
    )
    problems = mapping_problems(setup.version)
    assert _targets(problems) == {"line.quantity", "line.uom"}
    assert all("Amount lines have no" in p.message for p in problems)
    mapping_remove(version=setup.version, target="line.quantity", user=setup.admin)
    mapping_remove(version=setup.version, target="line.uom", user=setup.admin)
    assert mapping_problems(setup.version) == []


def test_required_custom_field_blocks_until_mapped(setup: Setup) -> None:
    _complete(setup)
    CustomFieldDefinition.objects.create(
        connection=setup.connection, api_name="po-reference", type="string", required=True
    )
    (problem,) = mapping_problems(setup.version)
    assert problem.target == "custom.header.po-reference"
    mapping_set(
        version=setup.version,
        target="custom.header.po-reference",
        source=Source.REQUEST,
        value="number",
        user=setup.admin,
    )
    assert mapping_problems(setup.version) == []
    with pytest.raises(MappingLockedError):
        mapping_remove(version=setup.version, target="custom.header.po-reference", user=setup.admin)


@pytest.mark.parametrize("state", [Connection.State.NEEDS_ATTENTION, Connection.State.DISCONNECTED])
def test_unusable_connection_blocks_publishing(setup: Setup, state: str) -> None:
    _complete(setup)
    setup.connection.state = state
    setup.connection.save()
    blockers = publish_blockers(setup.version)
    assert [b.target for b in blockers][:1] == [""]
    assert "The Coupa connection is not usable" in blockers[0].message


def test_published_versions_are_frozen_and_edits_go_to_a_new_draft(setup: Setup) -> None:
    _complete(setup)
    v1 = version_publish(version=setup.version, user=setup.admin)
    with pytest.raises(MappingError, match="edit the draft version"):
        mapping_remove(version=v1, target="need-by-date", user=setup.admin)
    v2 = version_draft_for(workflow=setup.workflow, user=setup.admin)
    assert v2.number == 2 and v2.state == WorkflowVersion.State.DRAFT
    assert [f.api_name for f in v2.fields.all()] == [f.api_name for f in v1.fields.all()]
    copied = {m.target: m for m in v2.mappings.select_related("form_field")}
    assert set(copied) == set(v1.mappings.values_list("target", flat=True))
    supplier = copied["line.supplier"].form_field
    assert supplier is not None and supplier.version == v2
    assert mapping_problems(v2) == []
    mapping_remove(version=v2, target="need-by-date", user=setup.admin)
    assert v1.mappings.filter(target="need-by-date").exists()
    version_publish(version=v2, user=setup.admin)
    v1.refresh_from_db()
    assert v1.state == WorkflowVersion.State.RETIRED
    assert version_draft_for(workflow=setup.workflow, user=setup.admin).number == 3

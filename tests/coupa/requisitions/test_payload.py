"""The payload a request's answers make through the mapping, and what the sandbox says of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coupa.client.connection import client_for
from coupa.models import CoupaUser
from coupa.requisitions.mapping import mapping_accept_suggestions, mapping_problems, mapping_set
from coupa.requisitions.payload import (
    RequestInfo,
    requisition_payload,
    sample_answers,
    validate_r39,
)
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from integrations.models import FieldMapping
from tests.coupa.requisitions.conftest import Setup, mapped_workflow_on_sandbox
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Source = FieldMapping.Source
INFO = RequestInfo(title="New laptops", number="SF-42", link="https://app.test/requests/42")


def _complete(s: Setup) -> None:
    mapping_accept_suggestions(version=s.version, user=s.admin)
    mapping_set(
        version=s.version,
        target="line.uom",
        source=Source.CONSTANT,
        value={"id": s.records["uom"].pk},
        user=s.admin,
    )
    assert mapping_problems(s.version) == []


def test_sample_answers_make_a_complete_valid_payload(setup: Setup) -> None:
    _complete(setup)
    answers = sample_answers(setup.version, requester=setup.admin)
    result = requisition_payload(
        version=setup.version, answers=answers, requester=setup.admin, info=INFO
    )
    assert result.problems == []
    payload = result.payload
    r = setup.records
    assert payload["requested-by"] == {"id": r["coupa_admin"].external_id}
    assert payload["ship-to-address"] == {"id": r["address"].external_id}
    assert payload["req-title"] == "Sample title"
    assert payload["justification"] == "Sample business reason"
    (line,) = payload["requisition-lines"]
    assert line == {
        "line-num": 1,
        "line-type": "RequisitionQuantityLine",
        "description": "Sample description",
        "item": {"id": r["item"].external_id},
        "quantity": "2",
        "uom": {"id": r["uom"].external_id},
        "unit-price": "150.00",
        "currency": {"code": "USD"},
        "supplier": {"id": r["vendor"].external_id},
        "account": {"id": r["account"].external_id},
    }
    assert payload["need-by-date"].endswith("T00:00:00+00:00")
    assert validate_r39(setup.version, payload) == []


def test_every_answer_problem_is_named_on_its_row(setup: Setup) -> None:
    _complete(setup)
    answers = sample_answers(setup.version, requester=setup.admin)
    vendor = setup.records["vendor"]
    vendor.active = False  # deactivated in Coupa after the requester picked it
    vendor.save()
    answers["lines"][0]["quantity"] = "-1"
    answers["lines"].append({"description": "", "unit_price": {"amount": "x", "currency": "USD"}})
    stranger = UserFactory(organization=setup.workflow.organization, email="nobody@acme.test")
    result = requisition_payload(
        version=setup.version, answers=answers, requester=stranger, info=INFO
    )
    messages = [p.message for p in result.problems]
    assert (
        "Requested by: nobody@acme.test is not an active Coupa user (matched by email); ask a Coupa admin to add them, or map another source."
        in messages
    )
    assert "Line 1: Quantity: must be more than 0." in messages
    assert "Line 2: Unit price: 'x' is not a number." in messages
    assert "Line 2: Quantity: no value: Coupa requires it." in messages
    assert "Line 2: a description or an item is required." in messages
    assert (
        "Line 1: Supplier: the chosen record is no longer offered (hidden, inactive or removed)."
        in messages
    )


def test_amount_lines_send_no_quantity_or_uom(setup: Setup) -> None:
    _complete(setup)
    mapping_set(
        version=setup.version,
        target="line.line-type",
        source=Source.CONSTANT,
        value="RequisitionAmountLine",
        user=setup.admin,
    )
    for target in ("line.quantity", "line.uom"):
        setup.version.mappings.filter(target=target).delete()
    answers = sample_answers(setup.version, requester=setup.admin)
    result = requisition_payload(
        version=setup.version, answers=answers, requester=setup.admin, info=INFO
    )
    assert result.problems == []
    (line,) = result.payload["requisition-lines"]
    assert "quantity" not in line and "uom" not in line
    assert line["line-type"] == "RequisitionAmountLine"


def test_many_lines_read_each_kind_of_picked_record_once(setup: Setup) -> None:
    """Lines picking records (one no longer offered) are built as one line each would be,
    reading each kind of record once for all the lines and the mapping's constants."""
    import re

    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from tests.factories import VendorFactory

    _complete(setup)
    answers = sample_answers(setup.version, requester=setup.admin)
    hidden = VendorFactory(connection=setup.connection, show_to_users=False)
    other = VendorFactory(connection=setup.connection)
    picks = [setup.records["vendor"].pk, hidden.pk, other.pk, setup.records["vendor"].pk]
    answers["lines"] = [{**answers["lines"][0], "vendor": pk} for pk in picks]
    with CaptureQueriesContext(db) as queries:
        result = requisition_payload(
            version=setup.version, answers=answers, requester=setup.admin, info=INFO
        )
    assert [p.message for p in result.problems] == [
        "Line 2: Supplier: the chosen record is no longer offered (hidden, inactive or removed)."
    ]
    lines = result.payload["requisition-lines"]
    assert [line.get("supplier") for line in lines] == [
        {"id": setup.records["vendor"].external_id},
        None,
        {"id": other.external_id},
        {"id": setup.records["vendor"].external_id},
    ]
    assert all(line["uom"] == {"id": setup.records["uom"].external_id} for line in lines)
    tables = [re.match(r"SELECT .*? FROM (\S+)", q["sql"]) for q in queries]
    read = [m.group(1) for m in tables if m]
    for table in ("coupa_vendor", "coupa_uom", "coupa_account", "coupa_item", "coupa_address"):
        assert read.count(f'"{table}"') == 1, table


# --- against the sandbox ------------------------------------------------------------------


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate=0, accounts=60, suppliers=40, items=60, users=12) as sb:
        yield sb


@pytest.fixture
def sandbox(_sandbox: SandboxHandle) -> SandboxHandle:
    _sandbox.reset(tokens=True)
    return _sandbox


def test_preview_payload_is_accepted_by_the_sandbox(
    organization: Any,
    admin_user: Any,
    sandbox: SandboxHandle,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Imported data, a mapped workflow, sample answers: Coupa (the sandbox) says 201."""
    connection, version, requester = mapped_workflow_on_sandbox(
        organization, admin_user, sandbox, django_capture_on_commit_callbacks, settings
    )
    answers = sample_answers(version, requester=requester)
    result = requisition_payload(version=version, answers=answers, requester=requester, info=INFO)
    assert result.problems == []
    assert validate_r39(version, result.payload) == []
    with client_for(connection) as client:
        created = client.post("/api/requisitions", result.payload)
    assert created["status"] == "draft"
    coupa_user = CoupaUser.objects.get(connection=connection, email=requester.email)
    assert created["requested-by"]["id"] == coupa_user.external_id
    assert created["req-title"] == result.payload["req-title"]
    assert len(created["requisition-lines"]) == 1

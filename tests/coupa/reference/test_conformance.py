"""What the client sends matches Coupa's documentation (coupa-api.md §1-3)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import respx

from coupa.client.base import CoupaClient
from coupa.reference.registry import RESOURCES
from coupa.spec.validator import SpecValidator

pytestmark = pytest.mark.django_db

# The JSON rendering of the documented requisition example (coupa-api.md §6.3), with
# Decimals as the importers and PR builder will hold them.
REQUISITION = {
    "requested-by": {"login": "kyle"},
    "ship-to-address": {"id": 16},
    "req-title": "[F4711] Projector bulbs",
    "requisition-lines": [
        {
            "line-num": 1,
            "line-type": "RequisitionQuantityLine",
            "description": "Projector bulbs",
            "quantity": Decimal("2"),
            "uom": {"code": "EA"},
            "unit-price": Decimal("300.00"),
            "currency": {"code": "USD"},
            "supplier": {"name": "Maintenance Mart"},
            "account": {"code": "SF-Marketing-Expense", "account-type": {"name": "Chart of Accounts"}},
        }
    ],
}


def test_posted_json_body_passes_the_spec_validator(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """Hyphenated keys, decimals as strings, JSON headers; the validator accepts it."""
    route = coupa_mock.post("/api/requisitions").respond(201, json={"id": 1})
    coupa_client.post("/api/requisitions", REQUISITION)
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    body = json.loads(request.content)
    assert body["requisition-lines"][0]["unit-price"] == "300.00"
    result = SpecValidator.default().validate(
        "RequisitionHeader", body, direction="request"
    )
    assert result.ok, result.errors


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_declared_fields_name_documented_attributes(resource: str) -> None:
    """Every `fields` entry a sync sends exists on the resource's R39 definition (or §9b)."""
    spec = RESOURCES[resource]
    validator = SpecValidator.default()
    props = validator.properties(spec.definition)
    undocumented_but_real = {("Commodity", "code")}  # coupa-api.md §9b
    for entry in spec.fields:
        names = [entry] if isinstance(entry, str) else list(entry)
        for name in names:
            assert name in props or (spec.definition, name) in undocumented_but_real, name

"""Conformance of sandbox JSON with Coupa's R39 definitions and real example payloads."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from coupa.sandbox.resources import Registry, parse_custom_fields
from coupa.sandbox.testing import SandboxHandle
from coupa.spec import SpecValidator
from tests.support import shared_path

CUSTOM = parse_custom_fields(
    "accounts:cost-center,suppliers:region,items:test-text-field,users:office-code"
)
REGISTRY = Registry.build(CUSTOM)
RESOURCES = sorted(REGISTRY.specs)


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator.default()


def _custom_by_definition() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for resource, names in CUSTOM.items():
        spec = REGISTRY.specs[resource]
        out.setdefault(spec.definition, set()).update(names)
        if spec.custom_in_ref:
            # User custom fields also appear in nested user snapshots (coupa-api.md 9b).
            out.setdefault("UserSimple", set()).update(names)
    return out


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_record_conforms_to_r39(
    sandbox: SandboxHandle, api: Any, validator: SpecValidator, resource: str
) -> None:
    """Every record of every collection, and a sample fetched by id, validates against R39."""
    definition = REGISTRY.specs[resource].definition
    custom = _custom_by_definition()
    records = api.walk(resource)
    assert records
    sample = random.Random(resource).sample(records, min(5, len(records)))
    singles = [api.ok(f"/api/{resource}/{r['id']}") for r in sample]
    shallow = api.ok(f"/api/{resource}", {"return_object": "shallow"})
    errors = []
    for rec in [*records, *singles, *shallow]:
        result = validator.validate(definition, rec, custom_fields=custom)
        errors += result.errors
    assert errors == []
    # Declared custom fields are really there.
    for name in CUSTOM.get(resource, ()):
        assert all(name in r for r in records)


# Which example shows each resource: (file, path of keys/indexes into it).
EXAMPLES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "accounts": ("account_get_13.json", ()),
    "suppliers": ("supplier_get_6.json", (0,)),
    "items": ("item_create.response.json", ()),
    "users": ("user_get_5.json", ()),
    "departments": ("department_get_1.json", ()),
    "addresses": ("address_list_by_id.json", (0,)),
    "account_types": ("user_get_5.json", ("default-account-type",)),
    "currencies": ("user_list.json", (0, "default-currency")),
    "commodities": ("item_create.response.json", ("commodity",)),
    "uoms": ("item_create.response.json", ("uom",)),
    "payment_terms": ("supplier_get_6.json", (0, "payment-term")),
    "countries": ("address_list_by_id.json", (0, "country")),
    "shipping_terms": ("purchase_order_get_2400.json", (0, "shipping-term")),
    "requisitions": ("requisition_get_235.json", ()),
    "requisition_lines": ("requisition_get_235.json", ("requisition-lines", 0)),
    "purchase_orders": ("purchase_order_get_2400.json", (0,)),
    "purchase_order_lines": ("purchase_order_get_2400.json", (0, "order-lines", 0)),
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _compare(
    validator: SpecValidator,
    definition: str,
    example: dict[str, Any],
    ours: dict[str, Any],
    path: str,
    top: bool,
) -> list[str]:
    """Compare keys and JSON types; keys the spec lacks are that instance's custom fields."""
    props = validator.properties(definition)
    problems = []
    for key, value in example.items():
        if key not in props:
            continue  # a custom field of the example's instance
        if key not in ours:
            if top or key == "id":
                problems.append(f"{path}{key}: missing")
            continue
        mine = ours[key]
        if value is None or mine is None:
            continue
        if _json_type(value) != _json_type(mine):
            problems.append(f"{path}{key}: example {_json_type(value)}, sandbox {_json_type(mine)}")
            continue
        ref = props[key].get("$ref") or props[key].get("items", {}).get("$ref")
        if ref and isinstance(value, dict):
            problems += _compare(
                validator, ref.rsplit("/", 1)[-1], value, mine, f"{path}{key}.", False
            )
        elif ref and isinstance(value, list) and value and mine:
            problems += _compare(
                validator, ref.rsplit("/", 1)[-1], value[0], mine[0], f"{path}{key}[0].", False
            )
    return problems


@pytest.mark.parametrize("resource", sorted(EXAMPLES))
def test_records_match_example_keys_and_types(
    api: Any, validator: SpecValidator, resource: str
) -> None:
    """Sandbox records carry every standard key of the real example, with the same JSON types."""
    name, where = EXAMPLES[resource]
    example: Any = json.loads((shared_path("coupa-examples") / name).read_text())
    for step in where:
        example = example[step]
    definition = REGISTRY.specs[resource].definition
    records = api.ok(f"/api/{resource}", {"limit": 50})
    problems = _compare(validator, definition, example, records[1], "", True)
    assert problems == []
    # Decimals are strings and timestamps carry an offset, as on real payloads.
    for rec in records:
        for key in ("created-at", "updated-at"):
            if rec.get(key):
                assert rec[key][-6] in "+-" and rec[key][-3] == ":"

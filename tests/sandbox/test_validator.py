"""The R39 conformance validator: strictness as coupa-api.md section 9b."""

from __future__ import annotations

import json

import pytest

from coupa.spec import SpecValidator
from tests.support import shared_path


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator.default()


def test_numeric_strings_accepted_for_number(validator: SpecValidator) -> None:
    """Decimals sent as strings pass; non-numeric strings do not."""
    assert validator.validate("Supplier", {"savings-pct": "12.50"}).ok
    assert validator.validate("Supplier", {"savings-pct": 12.5}).ok
    assert not validator.validate("Supplier", {"savings-pct": "lots"}).ok


def test_unknown_keys_fail_unless_declared_custom(validator: SpecValidator) -> None:
    """Undeclared keys are errors; declared custom fields pass, also nested by definition."""
    assert not validator.validate("Account", {"id": 1, "cost-center": "x"}).ok
    assert validator.validate(
        "Account", {"id": 1, "cost-center": "x"}, custom_fields={"cost-center"}
    ).ok
    nested = {"id": 1, "created-by": {"id": 2, "login": "a", "office-code": "X"}}
    assert not validator.validate("Department", nested).ok
    assert validator.validate(
        "Department", nested, custom_fields={"UserSimple": ["office-code"]}
    ).ok


def test_wrong_types_and_enums_fail(validator: SpecValidator) -> None:
    """Wrong JSON types and values outside an enum are errors; "" counts as null."""
    assert not validator.validate("Account", {"id": "13"}).ok
    assert not validator.validate("Account", {"active": "true"}).ok
    assert not validator.validate("Account", {"account-type": "Ace"}).ok
    assert not validator.validate("Supplier", {"po-method": "fax"}).ok
    assert validator.validate("Supplier", {"po-method": ""}).ok
    assert validator.validate("Supplier", {"po-method": None}).ok
    assert not validator.validate("Account", {"created-at": "yesterday"}).ok


def test_known_spec_errors_are_corrected(validator: SpecValidator) -> None:
    """The commented allow-list covers the spec errors of section 9b."""
    assert validator.validate("RequisitionHeader", {"currency": {"id": 1, "code": "USD"}}).ok
    assert validator.validate(
        "User", {"can-expense-for": [], "expenses-delegated-to": [{"id": 1}]}
    ).ok
    assert validator.validate("RequisitionLine", {"form-response": []}).ok
    assert validator.validate("OrderLine", {"line-num": 1, "received": "2.0", "tax-id": "X"}).ok
    assert validator.validate("Currency", {"updated-by": {"id": 1}}).ok
    assert validator.validate("Item", {"api-user": {"id": 1}}).ok
    assert validator.validate("Commodity", {"code": ""}).ok


def test_question_mark_keys_map_to_plain_keys(validator: SpecValidator) -> None:
    """`active?` in the spec admits `active` (real payloads drop the ?)."""
    assert "active?" in validator.definitions["User"]["properties"]
    assert validator.validate("User", {"purchasing-user": True, "aic-user": False}).ok


def test_read_only_in_requests_warns(validator: SpecValidator) -> None:
    """readOnly properties in a request give warnings, not errors; required lists are ignored."""
    result = validator.validate("Account", {"code": "SF-1", "id": 3}, direction="request")
    assert result.ok
    assert len(result.warnings) == 2
    assert validator.validate("Account", {"code": "SF-1"}).warnings == ()


def test_real_examples_pass_with_their_custom_fields(validator: SpecValidator) -> None:
    """Real payloads validate once their instance's custom fields are declared."""
    examples = shared_path("coupa-examples")
    account = json.loads((examples / "account_get_13.json").read_text())
    assert validator.validate("Account", account).ok
    item = json.loads((examples / "item_create.response.json").read_text())
    assert validator.validate("Item", item, custom_fields={"test-text-field"}).ok

"""Requisition bodies for the sandbox's write tests, built the way coupa-api.md 6.3 shows."""

from __future__ import annotations

from typing import Any

from coupa.spec import SpecValidator


def quantity_line(refs: dict[str, Any], num: int = 1) -> dict[str, Any]:
    return {
        "line-num": num,
        "line-type": "RequisitionQuantityLine",
        "description": "Projector bulbs",
        "quantity": 2,
        "uom": {"code": "EA"},
        "unit-price": "300.00",
        "currency": {"code": "USD"},
        "supplier": refs["supplier"],
        "commodity": refs["commodity"],
        "account": refs["account"],
    }


def amount_line(refs: dict[str, Any], num: int = 1) -> dict[str, Any]:
    return {
        "line-num": num,
        "description": "Cleaning Services for Building A",
        "need-by-date": "2025-09-23T00:00:00-07:00",
        "unit-price": "3000.00",
        "supplier": refs["supplier"],
        "account": refs["account"],
        "currency": {"code": "USD"},
        "commodity": refs["commodity"],
    }


def requisition_body(refs: dict[str, Any], *lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "requested-by": refs["requested-by"],
        "ship-to-address": refs["ship-to-address"],
        "pcard": None,
        "justification": "",
        "attachments": [],
        "req-title": "[F4711] Projector bulbs",
        "requisition-lines": list(lines),
    }


def errors(resp: Any) -> list[str]:
    assert resp.status_code == 400, resp.text
    errors: list[str] = resp.json()["errors"]["requisition-header"]
    return errors


def valid(rec: dict[str, Any], custom_fields: Any = frozenset()) -> None:
    """Assert that a requisition passes the R39 validator (custom fields declared)."""
    result = SpecValidator.default().validate("RequisitionHeader", rec, custom_fields=custom_fields)
    assert list(result.errors) == []

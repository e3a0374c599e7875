"""Custom fields of requisitions over HTTP: declared per instance, typed, optional or required."""

from __future__ import annotations

from typing import Any

import pytest

from coupa.sandbox.customfields import CustomFieldError, parse_custom_field_option
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from tests.sandbox.bodies import errors, quantity_line, requisition_body, valid

FIELDS = [
    {"on": "header", "name": "po-ref", "type": "string", "required": True},
    {"on": "header", "name": "rush", "type": "boolean"},
    {"on": "header", "name": "budget-date", "type": "date"},
    {"on": "line", "name": "project", "type": "lookup", "values": ["Apollo", "Zephyr"]},
    {"on": "line", "name": "capex-share", "type": "decimal"},
]
DECLARED = {"RequisitionHeader": ["po-ref", "rush", "budget-date"]}
DECLARED_WITH_LINES = {**DECLARED, "RequisitionLine": ["project", "capex-share"]}


@pytest.fixture
def declared(fresh_sandbox: SandboxHandle) -> list[dict[str, Any]]:
    return fresh_sandbox.requisition_fields(*FIELDS)


def test_declared_fields_are_listed(declared: list[dict[str, Any]]) -> None:
    assert [f["name"] for f in declared] == [f["name"] for f in FIELDS]
    assert declared[3]["values"] == ["Apollo", "Zephyr"]
    assert declared[0]["required"] is True


def test_values_are_stored_typed_and_served_top_level(
    declared: Any, client: Any, refs: dict[str, Any]
) -> None:
    """Values given top-level or in custom-fields come back as typed top-level keys."""
    line = {**quantity_line(refs), "custom-fields": {"project": "Zephyr"}, "capex-share": "0.25"}
    body = {
        **requisition_body(refs, line),
        "po-ref": "SF-REQ-000042",
        "custom-fields": {"rush": "true", "budget-date": "2025-09-30"},
    }
    resp = client.http.post("/api/requisitions", json=body)
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    assert rec["po-ref"] == "SF-REQ-000042"
    assert rec["rush"] is True
    assert rec["budget-date"].startswith("2025-09-29T17:00:00")  # midnight UTC, local offset
    (served_line,) = rec["requisition-lines"]
    assert served_line["project"] == {"id": 2, "name": "Zephyr", "external-ref-num": "ZEPHYR"}
    assert served_line["capex-share"] == "0.25"
    valid(rec, DECLARED_WITH_LINES)
    # The marker is queryable, as a product looking for its requisition needs (6.6).
    found = client.ok("/api/requisitions", {"po-ref": "SF-REQ-000042"})
    assert [r["id"] for r in found] == [rec["id"]]


def test_required_field_missing_is_refused_by_name(
    declared: Any, client: Any, refs: dict[str, Any], fresh_sandbox: SandboxHandle
) -> None:
    before = fresh_sandbox.count("requisitions")
    resp = client.http.post("/api/requisitions", json=requisition_body(refs, quantity_line(refs)))
    assert errors(resp) == ["po-ref required (a custom field this instance requires)"]
    blank = {**requisition_body(refs, quantity_line(refs)), "po-ref": ""}
    assert errors(client.http.post("/api/requisitions", json=blank)) == [
        "po-ref required (a custom field this instance requires)"
    ]
    assert fresh_sandbox.count("requisitions") == before


def test_optional_fields_may_be_left_out(
    fresh_sandbox: SandboxHandle, client: Any, refs: dict[str, Any]
) -> None:
    fresh_sandbox.requisition_fields({"on": "header", "name": "cost-code"})
    resp = client.http.post("/api/requisitions", json=requisition_body(refs, quantity_line(refs)))
    assert resp.status_code == 201, resp.text
    assert resp.json()["cost-code"] is None
    valid(resp.json(), {"cost-code"})


@pytest.mark.parametrize(
    ("header", "line", "message"),
    [
        ({"rush": "maybe"}, {}, "rush must be true or false ('maybe')"),
        ({"budget-date": "soon"}, {}, "budget-date is not a date (soon)"),
        ({"po-ref": 42}, {}, "po-ref must be a string"),
        ({}, {"capex-share": "a quarter"}, "Line 1: capex-share is not a decimal ('a quarter')"),
        (
            {},
            {"project": "Mercury"},
            "Line 1: project has no value name=Mercury (values: Apollo, Zephyr)",
        ),
        ({"custom-fields": {"colour": "blue"}}, {}, "unknown custom field 'colour'"),
        (
            {"custom-fields": {"po-ref": "B"}},
            {},
            "custom field po-ref given twice with different values",
        ),
        ({}, {"custom-fields": "project"}, "Line 1: custom-fields must be an object"),
    ],
)
def test_bad_values_are_refused(
    declared: Any,
    client: Any,
    refs: dict[str, Any],
    header: dict[str, Any],
    line: dict[str, Any],
    message: str,
) -> None:
    body = {**requisition_body(refs, {**quantity_line(refs), **line}), "po-ref": "A", **header}
    assert errors(client.http.post("/api/requisitions", json=body)) == [message]


def test_lookup_accepts_name_external_ref_or_id(
    declared: Any, client: Any, refs: dict[str, Any]
) -> None:
    for given in ({"name": "Apollo"}, {"external-ref-num": "APOLLO"}, {"id": 1}):
        line = {**quantity_line(refs), "project": given}
        body = {**requisition_body(refs, line), "po-ref": "A"}
        resp = client.http.post("/api/requisitions", json=body)
        assert resp.status_code == 201, resp.text
        assert resp.json()["requisition-lines"][0]["project"]["name"] == "Apollo"


def test_put_keeps_and_changes_custom_values(
    declared: Any, client: Any, refs: dict[str, Any]
) -> None:
    """A PUT keeps the values it does not mention; required fields stay required."""
    line = {**quantity_line(refs), "project": "Apollo"}
    body = {**requisition_body(refs, line), "po-ref": "A", "budget-date": "2025-09-30T00:00:00Z"}
    draft = client.http.post("/api/requisitions", json=body).json()
    line_id = draft["requisition-lines"][0]["id"]
    resp = client.http.put(
        f"/api/requisitions/{draft['id']}",
        json={
            "custom-fields": {"rush": True},
            "requisition-lines": [{"id": line_id, "custom-fields": {"project": "Zephyr"}}],
        },
    )
    assert resp.status_code == 200, resp.text
    rec = resp.json()
    assert (rec["po-ref"], rec["rush"], rec["budget-date"]) == ("A", True, draft["budget-date"])
    assert rec["requisition-lines"][0]["project"]["name"] == "Zephyr"
    cleared = client.http.put(f"/api/requisitions/{draft['id']}", json={"po-ref": None})
    assert errors(cleared) == ["po-ref required (a custom field this instance requires)"]


def test_generated_requisitions_carry_declared_fields_as_null(
    declared: Any, fresh_sandbox: SandboxHandle
) -> None:
    """Requisitions made before a field existed have no value for it, as on real instances."""
    rec = fresh_sandbox.record("requisitions", 1)
    assert rec["po-ref"] is None
    valid(rec, DECLARED_WITH_LINES)


def test_reset_restores_the_start_up_declarations(
    declared: Any, fresh_sandbox: SandboxHandle
) -> None:
    fresh_sandbox.reset()
    assert fresh_sandbox.requisition_fields() == []
    assert "po-ref" not in fresh_sandbox.record("requisitions", 1)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"on": "footer", "name": "x"}, "on must be one of"),
        ({"on": "header", "name": "Bad Name"}, "name must be lower-case"),
        ({"on": "header", "name": "x", "type": "colour"}, "type must be one of"),
        ({"on": "line", "name": "x", "type": "lookup"}, "needs its list of values"),
        ({"on": "header", "name": "status"}, "clash"),
    ],
)
def test_bad_declarations_are_refused(
    fresh_sandbox: SandboxHandle, field: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        fresh_sandbox.requisition_fields(field)


def test_option_declares_fields_at_start(make_api: Any) -> None:
    """`--requisition-fields` declares them for the whole run (and its resets)."""
    option = "header:po-ref:string:required,line:project:lookup=Apollo|Zephyr"
    with running_sandbox(rate=0, requisitions=5, requisition_fields=option) as sb:
        assert [
            (f["on"], f["name"], f["type"], f["required"]) for f in sb.requisition_fields()
        ] == [
            ("header", "po-ref", "string", True),
            ("line", "project", "lookup", False),
        ]
        sb.reset()
        assert len(sb.requisition_fields()) == 2


def test_option_syntax_errors_are_explained() -> None:
    assert parse_custom_field_option("line:flag:boolean:required")[0].required
    with pytest.raises(CustomFieldError, match="is not <header|line>"):
        parse_custom_field_option("po-ref")
    with pytest.raises(CustomFieldError, match="declared twice"):
        parse_custom_field_option("header:a,header:a")


def test_declarations_and_values_survive_a_restart(tmp_path: Any, make_api: Any) -> None:
    """With a state file, declared fields and their values are there after a restart."""
    state = tmp_path / "state.json"
    with running_sandbox(rate=0, requisitions=3, state_file=str(state)) as sb:
        sb.requisition_fields({"on": "header", "name": "po-ref", "required": True})
        api = make_api(sb)
        user = next(u for u in sb.records("users", active_only=True) if u["id"] != 1)
        address = sb.records("addresses", active_only=True)[0]
        line = {
            "line-num": 1,
            "description": "Desk",
            "unit-price": "10",
            "currency": {"code": "USD"},
        }
        body = {
            "requested-by": {"id": user["id"]},
            "ship-to-address": {"id": address["id"]},
            "po-ref": "SF-7",
            "requisition-lines": [line],
        }
        created = api.http.post("/api/requisitions", json=body)
        api.close()
        assert created.status_code == 201, created.text
    with running_sandbox(rate=0, requisitions=3, state_file=str(state)) as sb:
        assert [f["name"] for f in sb.requisition_fields()] == ["po-ref"]
        assert sb.record("requisitions", created.json()["id"])["po-ref"] == "SF-7"

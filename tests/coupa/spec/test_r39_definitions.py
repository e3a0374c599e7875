"""The committed R39 definitions: derived by scripts/derive_r39.py, current with ../shared."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from coupa.reference.registry import RESOURCES
from coupa.spec.validator import (
    DEFINITIONS_FILE,
    SpecValidator,
    derive_definitions,
    render_definitions,
)
from tests.support import REPO_ROOT, shared_path

COMMITTED = REPO_ROOT / "coupa" / "spec" / DEFINITIONS_FILE


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "derive_r39", REPO_ROOT / "scripts" / "derive_r39.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _swagger(path: Path, definitions: dict[str, Any]) -> None:
    path.write_text(json.dumps({"swagger": "2.0", "definitions": definitions}), encoding="utf-8")


def test_committed_definitions_are_current_with_the_swagger_files() -> None:
    """Deriving again from ../shared/coupa-openapi gives the committed file exactly."""
    derived = derive_definitions(shared_path("coupa-openapi"))
    if render_definitions(derived) == COMMITTED.read_text(encoding="utf-8"):
        return
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    changed = sorted(
        name for name in set(derived) | set(committed) if derived.get(name) != committed.get(name)
    )
    pytest.fail(
        f"{COMMITTED.relative_to(REPO_ROOT)} is out of date with ../shared/coupa-openapi "
        f"(definitions {', '.join(changed[:10]) or 'unchanged, formatting differs'}): "
        "run `python scripts/derive_r39.py` and commit the result",
        pytrace=False,
    )


def test_default_validator_reads_the_packaged_definitions() -> None:
    """default() loads the committed file once; every resource's definition is in it."""
    validator = SpecValidator.default()
    assert SpecValidator.default() is validator
    assert validator.definitions == json.loads(COMMITTED.read_text(encoding="utf-8"))
    for spec in RESOURCES.values():
        assert validator.properties(spec.definition)


def test_script_keeps_only_what_the_validator_reads(tmp_path: Path) -> None:
    """Descriptions, lengths and unchecked formats go; types, datetimes, enums, refs stay."""
    specs = tmp_path / "specs"
    specs.mkdir()
    _swagger(
        specs / "A.json",
        {
            "Thing": {
                "type": "object",
                "required": ["name"],
                "properties": {"old": {"type": "string"}},
            },
            "Empty": {"type": "object"},
        },
    )
    _swagger(
        specs / "B.json",
        {
            "Thing": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "format": "string(100)", "description": "A name"},
                    "at": {"type": "string", "format": "datetime", "readOnly": True},
                    "kind": {"type": "string", "enum": ["a", "b"], "readOnly": False},
                    "parts": {"type": "array", "items": {"$ref": "#/definitions/Empty"}},
                },
            }
        },
    )
    out = tmp_path / "defs.json"
    script = _script()
    assert script.main([str(specs), "--output", str(out)]) == 0
    # B.json is read after A.json, so its Thing replaces A's.
    assert json.loads(out.read_text(encoding="utf-8")) == {
        "Empty": {"properties": {}},
        "Thing": {
            "properties": {
                "at": {"format": "datetime", "readOnly": True, "type": "string"},
                "kind": {"enum": ["a", "b"], "type": "string"},
                "name": {"type": "string"},
                "parts": {"items": {"$ref": "#/definitions/Empty"}, "type": "array"},
            }
        },
    }
    assert script.main([str(specs), "--output", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace('"a", ', ""), encoding="utf-8")
    assert script.main([str(specs), "--output", str(out), "--check"]) == 1

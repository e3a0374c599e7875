"""Validate Coupa JSON against the R39 Swagger 2.0 definitions, at the strictness of
coupa-api.md section 9b.

Usage::

    v = SpecValidator.default()  # the definitions committed in r39_definitions.json
    result = v.validate("Account", payload, custom_fields={"cost-center"})
    assert result.ok, result.errors

`r39_definitions.json` is derived from Coupa's Swagger files by
``scripts/derive_r39.py``: it keeps, per definition, only what this module reads
(property names, types, the formats it checks, enums, readOnly, `$ref` and
`items`). `SpecValidator.load(spec_dir)` builds the same validator from the raw
Swagger files; the script and the test that keeps the committed file current use it.

Rules:

- numeric strings are accepted for ``number`` (Coupa sends decimals as strings);
- declared custom fields are accepted (top level, or per definition by name);
- a short list of the spec's known errors is corrected (KNOWN_SPEC_ERRORS);
- a spec key ending in ``?`` (``active?``) also admits the key without ``?``;
- everything else is strict: unknown keys, wrong JSON types, enum values
  (``""`` counts as null); ``null`` is accepted for every property;
- ``required`` lists are ignored (they are unreliable, section 9b);
- readOnly properties in requests produce warnings, not errors.

Importable without Django; the running product never needs the Swagger files.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Direction = Literal["response", "request"]
Schema = dict[str, Any]

_USER_SIMPLE: Schema = {"$ref": "#/definitions/UserSimple"}

#: The committed definitions, next to this module (see scripts/derive_r39.py).
DEFINITIONS_FILE = "r39_definitions.json"
#: Formats `_type_ok` checks; the derived definitions keep no other format.
CHECKED_FORMATS: frozenset[str] = frozenset({"datetime"})

#: Corrections of the R39 spec, each backed by real payloads (coupa-api.md 9b).
#: Keys are (definition, property); values replace (or add) the property schema.
KNOWN_SPEC_ERRORS: dict[tuple[str, str], Schema] = {
    # 9b: requisition currency is an object {id, code}, the spec says string.
    ("RequisitionHeader", "currency"): {"$ref": "#/definitions/Currency"},
    # 9b: arrays of users on real payloads (user_create.response.json), the spec says one object.
    ("User", "can-expense-for"): {"type": "array", "items": _USER_SIMPLE},
    ("User", "expenses-delegated-to"): {"type": "array", "items": _USER_SIMPLE},
    # 9b: form responses are an array.
    ("RequisitionLine", "form-response"): {"type": "array", "items": {"type": "object"}},
    # 9b: line-num is an integer, received a number (spec: strings).
    ("OrderLine", "line-num"): {"type": "integer"},
    ("OrderLine", "received"): {"type": "number"},
    # 9b: standard attributes missing from the spec.
    ("Currency", "updated-by"): _USER_SIMPLE,
    ("Item", "api-user"): _USER_SIMPLE,
    ("Commodity", "code"): {"type": "string"},
    ("OrderLine", "tax-id"): {"type": "string"},
    # A string on real payloads (requisition_get_235.json, nested suppliers).
    ("Supplier", "supplier-diversity"): {"type": "string"},
    # Found while checking the examples: on every real user payload (user_get_5,
    # user_list, user_create.response), absent from R39 User.
    ("User", "edit-invoice-on-quick-entry"): {"type": "boolean"},
    # The spec's enum ["true"] would forbid inactive terms, yet `active` is how
    # terms are deactivated (coupa-api.md 4 and 5).
    ("PaymentTerm", "active"): {"type": "boolean"},
    ("ShippingTerm", "active"): {"type": "boolean"},
    # enum [""] on a decimal: an empty-string placeholder, not a real constraint.
    ("Supplier", "confirm-by-hrs"): {"type": "number"},
    # integer typed but with string enum values.
    ("Supplier", "order-confirmation-level"): {
        "type": "string",
        "enum": ["not_applicable", "header", "line"],
    },
}


@dataclass(frozen=True)
class ValidationResult:
    """Errors and warnings, each as "path: message"."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors


@dataclass
class _Run:
    direction: Direction
    top_custom: frozenset[str]
    custom_by_def: Mapping[str, frozenset[str]]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class SpecValidator:
    """Validator over the definitions of one or more Swagger 2.0 files."""

    def __init__(self, definitions: Mapping[str, Schema]) -> None:
        self.definitions = dict(definitions)
        self._props: dict[str, dict[str, Schema]] = {}

    @classmethod
    def default(cls) -> SpecValidator:
        """Return the validator over the committed R39 definitions (loaded once, shared)."""
        return _committed_validator()

    @classmethod
    def load(cls, spec_dir: Path | str) -> SpecValidator:
        """Build a validator from the raw Swagger files in `spec_dir` (as the committed file is)."""
        return cls(derive_definitions(spec_dir))

    def properties(self, definition: str) -> dict[str, Schema]:
        """Return the effective properties of a definition (corrections and `?` keys applied)."""
        cached = self._props.get(definition)
        if cached is not None:
            return cached
        if definition not in self.definitions:
            raise KeyError(f"unknown definition {definition!r}")
        props = dict(self.definitions[definition].get("properties", {}))
        for key in [k for k in props if k.endswith("?")]:
            # The spec shows read-only keys such as `active?`; real payloads use
            # `active` (coupa-api.md 5 and 9.14).
            props.setdefault(key[:-1], props[key])
        for (name, prop), schema in KNOWN_SPEC_ERRORS.items():
            if name == definition:
                props[prop] = schema
        self._props[definition] = props
        return props

    def validate(
        self,
        definition: str,
        obj: Any,
        *,
        direction: Direction = "response",
        custom_fields: Iterable[str] | Mapping[str, Iterable[str]] = frozenset(),
    ) -> ValidationResult:
        """Validate `obj` against `definition`.

        `custom_fields` is either a set of extra top-level keys, or a mapping from
        definition name to extra keys that applies at every nesting level (user
        custom fields appear in nested UserSimple snapshots, for example).
        """
        if isinstance(custom_fields, Mapping):
            by_def = {k: frozenset(v) for k, v in custom_fields.items()}
            run = _Run(direction, by_def.get(definition, frozenset()), by_def)
        else:
            run = _Run(direction, frozenset(custom_fields), {})
        self._object(run, definition, obj, definition, top=True)
        return ValidationResult(tuple(run.errors), tuple(run.warnings))

    # -- internals ---------------------------------------------------------

    def _object(
        self, run: _Run, definition: str, obj: Any, path: str, *, top: bool = False
    ) -> None:
        if not isinstance(obj, dict):
            run.errors.append(
                f"{path}: expected an object ({definition}), got {type(obj).__name__}"
            )
            return
        props = self.properties(definition)
        custom = run.custom_by_def.get(definition, frozenset())
        if top:
            custom = custom | run.top_custom
        for key, value in obj.items():
            schema = props.get(key)
            sub = f"{path}.{key}"
            if schema is None:
                if key not in custom:
                    run.errors.append(f"{sub}: unknown key (not in {definition})")
                continue
            if run.direction == "request" and schema.get("readOnly"):
                run.warnings.append(f"{sub}: readOnly in {definition}")
            self._value(run, schema, value, sub)

    def _value(self, run: _Run, schema: Schema, value: Any, path: str) -> None:
        if value is None:
            return
        ref = schema.get("$ref")
        if ref is not None:
            self._object(run, ref.rsplit("/", 1)[-1], value, path)
            return
        typ = schema.get("type")
        if typ == "array":
            if not isinstance(value, list):
                run.errors.append(f"{path}: expected an array, got {type(value).__name__}")
                return
            items = schema.get("items", {})
            for i, item in enumerate(value):
                self._value(run, items, item, f"{path}[{i}]")
            return
        if typ == "object":
            if not isinstance(value, dict):
                run.errors.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        if not _type_ok(typ, schema.get("format"), value):
            run.errors.append(f"{path}: expected {typ}, got {type(value).__name__} {value!r:.60}")
            return
        enum = schema.get("enum")
        if enum and value != "":
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            if text not in {str(e) for e in enum}:
                run.errors.append(f"{path}: {value!r} not in enum {enum}")


def derive_definitions(spec_dir: Path | str) -> dict[str, Schema]:
    """Merge the definitions of the *.json Swagger files in `spec_dir`, keeping what is read.

    Files are read in name order and a later file's definition replaces an earlier one
    of the same name. Raises FileNotFoundError when `spec_dir` holds no JSON file.
    """
    raw: dict[str, Schema] = {}
    paths = sorted(Path(spec_dir).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no Swagger JSON files in {spec_dir}")
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        raw.update(doc.get("definitions", {}))
    return {
        name: {
            "properties": {
                prop: _compact(schema) for prop, schema in definition.get("properties", {}).items()
            }
        }
        for name, definition in raw.items()
    }


def render_definitions(definitions: Mapping[str, Schema]) -> str:
    """Return the text of the definitions file: sorted keys, one property per line."""
    lines = ["{"]
    names = sorted(definitions)
    for i, name in enumerate(names):
        props = definitions[name]["properties"]
        end = "," if i < len(names) - 1 else ""
        if not props:
            lines.append(f'{json.dumps(name)}: {{"properties": {{}}}}{end}')
            continue
        lines.append(f'{json.dumps(name)}: {{"properties": {{')
        keys = sorted(props)
        for j, prop in enumerate(keys):
            text = json.dumps(props[prop], sort_keys=True)
            lines.append(f" {json.dumps(prop)}: {text}{',' if j < len(keys) - 1 else ''}")
        lines.append(f"}}}}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _compact(schema: Schema) -> Schema:
    # Only the keywords `_object` and `_value` read; descriptions, lengths and the
    # formats nobody checks would make the committed file several times larger.
    out: Schema = {key: schema[key] for key in ("$ref", "type", "enum") if key in schema}
    if schema.get("readOnly"):
        out["readOnly"] = True
    if schema.get("format") in CHECKED_FORMATS:
        out["format"] = schema["format"]
    if "items" in schema:
        out["items"] = _compact(schema["items"])
    return out


@functools.cache
def _committed_validator() -> SpecValidator:
    text = resources.files("coupa.spec").joinpath(DEFINITIONS_FILE).read_text(encoding="utf-8")
    return SpecValidator(json.loads(text))


def _type_ok(typ: str | None, fmt: str | None, value: Any) -> bool:
    if typ == "string":
        if not isinstance(value, str):
            return False
        if fmt == "datetime" and value:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return False
        return True
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        if isinstance(value, bool):
            return False
        if isinstance(value, int | float):
            return True
        # Decimals arrive as strings (coupa-api.md 9b).
        if isinstance(value, str):
            try:
                return Decimal(value).is_finite()
            except InvalidOperation:
                return False
        return False
    if typ == "boolean":
        return isinstance(value, bool)
    return True

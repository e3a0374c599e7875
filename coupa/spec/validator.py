"""Validate Coupa JSON against the R39 Swagger 2.0 definitions, at the strictness of
coupa-api.md section 9b.

Usage::

    v = SpecValidator.load(Path("../shared/coupa-openapi"))
    result = v.validate("Account", payload, custom_fields={"cost-center"})
    assert result.ok, result.errors

Rules:

- numeric strings are accepted for ``number`` (Coupa sends decimals as strings);
- declared custom fields are accepted (top level, or per definition by name);
- a short list of the spec's known errors is corrected (KNOWN_SPEC_ERRORS);
- a spec key ending in ``?`` (``active?``) also admits the key without ``?``;
- everything else is strict: unknown keys, wrong JSON types, enum values
  (``""`` counts as null); ``null`` is accepted for every property;
- ``required`` lists are ignored (they are unreliable, section 9b);
- readOnly properties in requests produce warnings, not errors.

Importable without Django; the running product never needs the spec files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

Direction = Literal["response", "request"]
Schema = dict[str, Any]

_USER_SIMPLE: Schema = {"$ref": "#/definitions/UserSimple"}

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
    def load(cls, spec_dir: Path | str) -> SpecValidator:
        """Load and merge the definitions of every *.json spec in `spec_dir`."""
        defs: dict[str, Schema] = {}
        paths = sorted(Path(spec_dir).glob("*.json"))
        if not paths:
            raise FileNotFoundError(f"no Swagger JSON files in {spec_dir}")
        for path in paths:
            doc = json.loads(path.read_text(encoding="utf-8"))
            defs.update(doc.get("definitions", {}))
        return cls(defs)

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

"""Custom fields on requisitions: typed, optional or required, declared per instance.

Real instances add their own fields to the requisition header and lines (coupa-api.md
1, 6.2 and 9b): `custom-field-3` in `requisition_get_235.json` is one. A declaration
names where the field lives (`header` or `line`), its type and whether the instance
requires it; a required field missing from a create or an update is a 400 naming it.

Values arrive as a top-level key or inside a `custom-fields` object (Coupa's newer
namespace), and are served as top-level keys, as the published example shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from coupa.sandbox.query import QueryError, parse_datetime
from coupa.sandbox.resources import Field, Kind

On = Literal["header", "line"]
FieldType = Literal["string", "boolean", "date", "decimal", "lookup"]

ON_RESOURCE: Mapping[str, str] = {"header": "requisitions", "line": "requisition_lines"}
TYPES: Mapping[str, Kind] = {
    "string": "str",
    "boolean": "bool",
    "date": "datetime",
    "decimal": "decimal",
    # A lookup value is served as an object, as Coupa serves lookup values.
    "lookup": "object",
}
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class CustomFieldError(ValueError):
    """A declaration the sandbox cannot accept."""


@dataclass(frozen=True)
class CustomField:
    """One custom field of the requisition header or its lines."""

    on: On
    name: str
    type: FieldType = "string"
    required: bool = False
    values: tuple[str, ...] = ()  # the list of values of a lookup

    @property
    def resource(self) -> str:
        """Return the sandbox resource the field belongs to."""
        return ON_RESOURCE[self.on]

    def field(self) -> Field:
        """Return the resource field that stores and renders the value."""
        return Field(self.name, TYPES[self.type], custom=True)

    def public(self) -> dict[str, Any]:
        """Return the declaration as JSON."""
        out: dict[str, Any] = {
            "on": self.on,
            "name": self.name,
            "type": self.type,
            "required": self.required,
        }
        if self.type == "lookup":
            out["values"] = list(self.values)
        return out

    @classmethod
    def from_json(cls, raw: Any) -> CustomField:
        """Build a declaration from a control-API object; raise CustomFieldError."""
        if not isinstance(raw, Mapping):
            raise CustomFieldError("a custom field is an object with on, name and type")
        unknown = set(raw) - {"on", "name", "type", "required", "values"}
        if unknown:
            raise CustomFieldError(f"unknown keys {sorted(unknown)}")
        on, name, kind = raw.get("on"), raw.get("name"), raw.get("type", "string")
        if on not in ON_RESOURCE:
            raise CustomFieldError(f"on must be one of {sorted(ON_RESOURCE)}")
        if not isinstance(name, str) or not _NAME.match(name):
            raise CustomFieldError(f"name must be lower-case words joined by '-' ({name!r})")
        if kind not in TYPES:
            raise CustomFieldError(f"type must be one of {sorted(TYPES)} ({kind!r})")
        values = raw.get("values") or ()
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise CustomFieldError("values must be a list of strings")
        if kind == "lookup" and not values:
            raise CustomFieldError(f"lookup {name!r} needs its list of values")
        if kind != "lookup" and values:
            raise CustomFieldError(f"only a lookup has values ({name!r} is a {kind})")
        required = bool(raw.get("required", False))
        return cls(cast(On, on), name, cast(FieldType, kind), required, tuple(values))

    # -- values ------------------------------------------------------------

    def lookup_value(self, index: int) -> dict[str, Any]:
        """Return the lookup value at `index` as Coupa serves one."""
        name = self.values[index]
        return {"id": index + 1, "name": name, "external-ref-num": _slug(name)}

    def coerce(self, value: Any) -> tuple[Any, str | None]:
        """Return the stored form of a posted value, or None and why it is refused."""
        if self.type == "string":
            if not isinstance(value, str):
                return None, "must be a string"
            return value, None
        if self.type == "boolean":
            if isinstance(value, bool):
                return value, None
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true", None
            return None, f"must be true or false ({value!r})"
        if self.type == "date":
            try:
                return int(parse_datetime(str(value))), None
            except (QueryError, ValueError):
                return None, f"is not a date ({value})"
        if self.type == "decimal":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                return None, f"is not a decimal ({value!r})"
            try:
                dec = Decimal(str(value))
            except InvalidOperation:
                return None, f"is not a decimal ({value!r})"
            return (str(dec), None) if dec.is_finite() else (None, f"is not a decimal ({value!r})")
        return self._coerce_lookup(value)

    def _coerce_lookup(self, value: Any) -> tuple[Any, str | None]:
        # A lookup value is named like any reference: by id, name or external-ref-num.
        given = value if isinstance(value, Mapping) else {"name": value}
        unknown = set(given) - {"id", "name", "external-ref-num"}
        if unknown or not given:
            return None, "must name a lookup value by id, name or external-ref-num"
        for index in range(len(self.values)):
            candidate = self.lookup_value(index)
            if all(candidate.get(k) == v for k, v in given.items()):
                return candidate, None
        allowed = ", ".join(self.values)
        return None, f"has no value {_describe(given)} (values: {allowed})"

    def is_blank(self, stored: Any) -> bool:
        """Tell whether a stored value counts as missing for a required field."""
        return stored is None or stored == ""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")


def _describe(given: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in given.items())


def parse_custom_field_option(text: str) -> tuple[CustomField, ...]:
    """Parse `header:po-ref:string:required,line:project:lookup=Apollo|Zephyr`.

    Each entry is `<header|line>:<name>[:<type>][:required]`; a lookup lists its values
    after `=`, separated by `|`.
    """
    out: list[CustomField] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        bits = part.split(":")
        if len(bits) < 2:
            raise CustomFieldError(f"{part!r} is not <header|line>:<name>[:<type>][:required]")
        on, name, *rest = bits
        required = bool(rest) and rest[-1] == "required"
        if required:
            rest = rest[:-1]
        if len(rest) > 1:
            raise CustomFieldError(f"{part!r} has too many parts")
        kind, _, values = (rest[0] if rest else "string").partition("=")
        out.append(
            CustomField.from_json(
                {
                    "on": on,
                    "name": name,
                    "type": kind,
                    "required": required,
                    "values": [v for v in values.split("|") if v] if values else [],
                }
            )
        )
    check_unique(out)
    return tuple(out)


def check_unique(fields: Iterable[CustomField]) -> None:
    """Raise CustomFieldError if a name is declared twice for the same place."""
    seen: set[tuple[str, str]] = set()
    for f in fields:
        if (f.on, f.name) in seen:
            raise CustomFieldError(f"custom field {f.name!r} is declared twice on the {f.on}")
        seen.add((f.on, f.name))

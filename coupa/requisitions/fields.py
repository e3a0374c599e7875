"""The fields of a Coupa purchase requisition that a workflow can map (coupa-api.md 6.2, 6.3).

**One declaration per field** (`PR_FIELDS`): its mapping key, where it sits in the payload,
its Coupa value type, whether Coupa requires it, the imported records a constant comes
from, and the words that suggest a form field for it. The mapping page, the API, the
publish gate, the payload builder and the preview all read it.

Coupa's rules (6.2) decide what is required: `requested-by` and `ship-to-address` on the
header; on each line a `line-type`, a currency, a `description` or an `item`, and on
quantity lines a quantity and a unit of measure (amount lines have neither). Custom fields
the admin declares as required by the instance are required too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from integrations.models import CustomFieldDefinition, FieldMapping
from spendflo.workflows.models import FormField

Level = Literal["header", "line"]
Requirement = Literal["always", "quantity_line", "description_or_item", "amount_forbidden", "no"]

# Value types: what a source must produce for the field.
TEXT = "text"
TITLE = "title"  # text of at most 50 characters (req-title is string(50))
LONG_TEXT = "long_text"
DATE = "date"
DECIMAL = "decimal"
QUANTITY = "quantity"
LINE_TYPE = "line_type"
TERM = "term"
BOOLEAN = "boolean"
LOOKUP = "lookup"
#: Value types that reference an imported record, by the reference resource holding it.
RECORD_TYPES: Mapping[str, str] = {
    "user": "users",
    "address": "addresses",
    "department": "departments",
    "supplier": "vendors",
    "item": "items",
    "account": "accounts",
    "commodity": "commodities",
    "uom": "uoms",
    "currency": "currencies",
}

#: The reference resource a picker form field's answer comes from, by form field type.
PICKER_KINDS: Mapping[str, str] = {
    "vendor": "vendors",
    "item": "items",
    "account": "accounts",
    "ship_to": "addresses",
    "department": "departments",
    "commodity": "commodities",
    "uom": "uoms",
    "currency": "currencies",
}

#: The form field types that can feed each value type.
FORM_SOURCES: Mapping[str, frozenset[str]] = {
    TEXT: frozenset({"short_text", "long_text", "choice"}),
    TITLE: frozenset({"short_text", "choice"}),
    LONG_TEXT: frozenset({"short_text", "long_text", "choice"}),
    DATE: frozenset({"date"}),
    DECIMAL: frozenset({"number", "money"}),
    QUANTITY: frozenset({"number"}),
    LINE_TYPE: frozenset(),
    TERM: frozenset(),
    BOOLEAN: frozenset({"choice"}),
    LOOKUP: frozenset({"choice"}),
    "user": frozenset({"user"}),
    "address": frozenset({"ship_to"}),
    "department": frozenset({"department"}),
    "supplier": frozenset({"vendor"}),
    "item": frozenset({"item"}),
    "account": frozenset({"account"}),
    "commodity": frozenset({"commodity"}),
    "uom": frozenset({"uom"}),
    "currency": frozenset({"money", "currency"}),
}
#: Request data (`FieldMapping.Source.REQUEST`) and what it produces.
REQUEST_ATTRIBUTES: Mapping[str, str] = {
    "title": "The request's title",
    "number": "The request's number (e.g. SF-42)",
    "link": "The link to the request in Spendflo",
}
REQUEST_SOURCES: Mapping[str, frozenset[str]] = {
    TEXT: frozenset(REQUEST_ATTRIBUTES),
    TITLE: frozenset({"title", "number"}),
    LONG_TEXT: frozenset(REQUEST_ATTRIBUTES),
}
#: Attributes of the requester that identify their Coupa user (matched on import).
REQUESTER_ATTRIBUTES: Mapping[str, str] = {
    "email": "The requester's email, matched to a Coupa user's email",
    "login": "The requester's email, matched to a Coupa user's login",
}
LINE_TYPES: Mapping[str, str] = {
    "RequisitionQuantityLine": "Quantity line (quantity times unit price)",
    "RequisitionAmountLine": "Amount line (a service for an amount)",
}
#: Custom field types and the value type their values have.
CUSTOM_TYPES: Mapping[str, str] = {
    CustomFieldDefinition.Type.STRING: TEXT,
    CustomFieldDefinition.Type.BOOLEAN: BOOLEAN,
    CustomFieldDefinition.Type.DATE: DATE,
    CustomFieldDefinition.Type.DECIMAL: DECIMAL,
    CustomFieldDefinition.Type.LOOKUP: LOOKUP,
}


@dataclass(frozen=True)
class PrField:
    """One mappable field of a Coupa purchase requisition."""

    key: str  # FieldMapping.target: `requested-by`, `line.quantity`, `custom.header.po-ref`
    coupa_key: str  # the key in the payload (on the header or on each line)
    level: Level
    label: str
    value_type: str
    required: Requirement = "no"
    help: str = ""
    suggest: tuple[str, ...] = ()  # words in a form field's name or label that suggest it
    custom: CustomFieldDefinition | None = None

    @property
    def record_kind(self) -> str | None:
        """The reference resource a constant or picker answer comes from, if any."""
        return RECORD_TYPES.get(self.value_type)

    @property
    def coupa_type(self) -> str:
        """The field's type as Coupa documents it, for the mapping table."""
        return _COUPA_TYPES.get(self.value_type, self.value_type)

    @property
    def sources(self) -> tuple[str, ...]:
        """The kinds of source that can feed this field."""
        out = []
        if FORM_SOURCES.get(self.value_type):
            out.append(FieldMapping.Source.FORM_FIELD)
        if self.value_type != "user":
            out.append(FieldMapping.Source.CONSTANT)
        if self.value_type == "user":
            out.append(FieldMapping.Source.REQUESTER)
        if self.value_type in REQUEST_SOURCES:
            out.append(FieldMapping.Source.REQUEST)
        return tuple(out)

    def accepts_form_field(self, field: FormField) -> bool:
        """Whether a form field of this type can feed this field (and from its group)."""
        if field.type not in FORM_SOURCES.get(self.value_type, frozenset()):
            return False
        # A line's answers feed only line fields; request answers feed either.
        return not (self.level == "header" and field.group == FormField.Group.LINE)


_COUPA_TYPES: Mapping[str, str] = {
    TEXT: "string",
    TITLE: "string(50)",
    LONG_TEXT: "text",
    DATE: "datetime",
    DECIMAL: "decimal",
    QUANTITY: "decimal(30,6)",
    LINE_TYPE: "line type",
    TERM: "reference (code)",
    BOOLEAN: "boolean",
    LOOKUP: "lookup value",
    "user": "User",
    "address": "Address",
    "department": "Department",
    "supplier": "Supplier",
    "item": "Item",
    "account": "Account",
    "commodity": "Commodity",
    "uom": "Uom",
    "currency": "Currency",
}

PR_FIELDS: tuple[PrField, ...] = (
    # -- header (6.3) ----------------------------------------------------------------
    PrField(
        "requested-by", "requested-by", "header", "Requested by", "user", "always",
        "The Coupa user the requisition is for.", ("requester", "requested"),
    ),
    PrField(
        "ship-to-address", "ship-to-address", "header", "Ship-to address", "address", "always",
        "Where the goods go.", ("ship", "address", "deliver"),
    ),
    PrField(
        "ship-to-attention", "ship-to-attention", "header", "Ship-to attention", TEXT,
        suggest=("attention", "attn"),
    ),
    PrField(
        "department", "department", "header", "Department", "department",
        suggest=("department", "dept"),
    ),
    PrField(
        "req-title", "req-title", "header", "Title", TITLE,
        help="At most 50 characters.", suggest=("title", "subject"),
    ),
    PrField(
        "justification", "justification", "header", "Justification", LONG_TEXT,
        suggest=("justification", "reason", "why", "business"),
    ),
    PrField(
        "need-by-date", "need-by-date", "header", "Need-by date", DATE,
        suggest=("need", "needed", "due", "deadline"),
    ),
    # -- each line (6.3) -------------------------------------------------------------
    PrField(
        "line.line-type", "line-type", "line", "Line type", LINE_TYPE, "always",
        "Quantity lines have a quantity and a unit of measure; amount lines have neither.",
    ),
    PrField(
        "line.description", "description", "line", "Description", TEXT, "description_or_item",
        "A description or an item on every line.", ("description", "what", "name"),
    ),
    PrField(
        "line.item", "item", "line", "Item", "item", "description_or_item",
        "A catalog item; gives the line its description and unit of measure.", ("item",),
    ),
    PrField(
        "line.quantity", "quantity", "line", "Quantity", QUANTITY, "quantity_line",
        "Required on quantity lines, not sent on amount lines.", ("quantity", "qty", "count"),
    ),
    PrField(
        "line.uom", "uom", "line", "Unit of measure", "uom", "quantity_line",
        "Required on quantity lines, not sent on amount lines.", ("uom", "unit"),
    ),
    PrField(
        "line.unit-price", "unit-price", "line", "Unit price", DECIMAL,
        help="The price per unit, or the amount of an amount line.",
        suggest=("price", "amount", "cost"),
    ),
    PrField(
        "line.currency", "currency", "line", "Currency", "currency", "always",
        "Every line needs a currency.", ("currency", "price", "amount", "cost"),
    ),
    PrField(
        "line.supplier", "supplier", "line", "Supplier", "supplier",
        suggest=("vendor", "supplier"),
    ),
    PrField(
        "line.account", "account", "line", "Account", "account",
        suggest=("account", "gl", "cost center"),
    ),
    PrField(
        "line.commodity", "commodity", "line", "Commodity", "commodity",
        suggest=("commodity", "category"),
    ),
    PrField(
        "line.need-by-date", "need-by-date", "line", "Line need-by date", DATE,
        suggest=("need", "needed", "due"),
    ),
    PrField(
        "line.payment-term", "payment-term", "line", "Payment term", TERM,
        help="A payment term code; Coupa defaults it from the supplier.",
    ),
    PrField(
        "line.shipping-term", "shipping-term", "line", "Shipping term", TERM,
        help="A shipping term code; Coupa defaults it from the supplier.",
    ),
)  # fmt: skip

STANDARD: Mapping[str, PrField] = {f.key: f for f in PR_FIELDS}


def custom_key(definition: CustomFieldDefinition) -> str:
    """The mapping key of a declared custom field: `custom.header.po-ref`."""
    return f"custom.{definition.level}.{definition.api_name}"


def custom_pr_field(definition: CustomFieldDefinition) -> PrField:
    """The mappable field of a declared custom field."""
    level: Level = "line" if definition.level == CustomFieldDefinition.Level.LINE else "header"
    return PrField(
        key=custom_key(definition),
        coupa_key=definition.api_name,
        level=level,
        label=definition.label or definition.api_name,
        value_type=CUSTOM_TYPES[definition.type],
        required="always" if definition.required else "no",
        help="A custom field of this Coupa instance"
        + (" (required by the instance)." if definition.required else "."),
        suggest=tuple(filter(None, (definition.api_name, definition.label))),
        custom=definition,
    )


def pr_field_list(custom_fields: Iterable[CustomFieldDefinition] = ()) -> list[PrField]:
    """Every mappable field: the standard ones, then the declared custom fields."""
    return [*PR_FIELDS, *(custom_pr_field(d) for d in custom_fields)]

"""The sandbox's resource catalogue: which Coupa resources exist and how they look.

Each resource is described declaratively (fields, kinds, associations, nested
views), so the store, the query engine and the renderer stay generic. The
requisitions and purchase orders are specs like the others; their
lines are resources of their own, embedded in the header as a list of references.

Shapes follow Coupa's published example payloads and the R39 definitions
(coupa-api.md sections 5 and 11): hyphenated keys, references as
nested objects with an id and natural keys, decimals as strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from coupa.sandbox.scopes import READ_SCOPES

if TYPE_CHECKING:
    from coupa.sandbox.customfields import CustomField

Kind = Literal[
    "int",
    "str",
    "bool",
    "decimal",  # stored and sent as a string, compared as Decimal (coupa-api.md 9b)
    "float",  # a real JSON number (e.g. payment-term discount-rate in supplier_get_6)
    "datetime",  # stored as epoch seconds, sent as ISO 8601 with offset
    "ref",  # id of a record of `target`, rendered as a nested object
    "refs",  # list of ids of `target`
    "object",  # embedded JSON object stored as is
    "objects",  # embedded list of JSON objects stored as is
]

SCALAR_KINDS: frozenset[str] = frozenset({"int", "str", "bool", "decimal", "float", "datetime"})


@dataclass(frozen=True)
class Field:
    """One attribute of a resource.

    `view` names the target's view used when this reference is embedded, and
    `subfields` types the keys of an embedded object so queries can filter on them.
    """

    name: str
    kind: Kind
    target: str | None = None
    view: str = "ref"
    default: Any = None
    subfields: Mapping[str, Kind] = field(default_factory=dict)
    custom: bool = False
    # Only in nested views and `fields` projections, never in the full record: a PO's
    # `requisition-header` snapshot has a `requester`, the requisition itself does not.
    embedded_only: bool = False


@dataclass(frozen=True)
class ResourceSpec:
    """A Coupa resource served under `/api/<name>`."""

    name: str  # path segment, e.g. "account_types"
    object_name: str  # key of JSON error bodies, e.g. "account-type" (coupa-api.md 4)
    definition: str  # R39 definition name, e.g. "AccountType"
    fields: tuple[Field, ...]
    views: Mapping[str, tuple[str, ...]]  # view name -> field names when embedded
    natural_keys: tuple[str, ...]  # used by return_object=shallow
    active_field: str | None = "active"  # "active" bool, "status" or "enabled"
    name_field: str = "name"  # what the control API's "rename" changes
    custom_in_ref: bool = False  # custom fields also appear in nested snapshots

    @property
    def scope(self) -> str:
        """Return the scope reading this resource needs (the sandbox's table in scopes.py)."""
        return READ_SCOPES[self.name]

    def field_map(self) -> dict[str, Field]:
        """Return the fields by name."""
        return {f.name: f for f in self.fields}

    def is_active(self, record: Mapping[str, Any]) -> bool:
        """Tell whether a record belongs to the resource's active set."""
        if self.active_field is None:
            return True
        value = record.get(self.active_field)
        if self.active_field == "status":
            return bool(value == "active")
        return value is True


def _f(name: str, kind: Kind, **kw: Any) -> Field:
    return Field(name, kind, **kw)


def _ref(name: str, target: str, view: str = "ref") -> Field:
    return Field(name, "ref", target=target, view=view)


_STAMPS = (_f("created-at", "datetime"), _f("updated-at", "datetime"))
_BY = (_ref("created-by", "users"), _ref("updated-by", "users"))
_SEGMENTS = tuple(_f(f"segment-{i}", "str") for i in range(1, 21))
_CONTACT_SUBFIELDS: dict[str, Kind] = {
    "id": "int",
    "email": "str",
    "name-given": "str",
    "name-family": "str",
}
_ADDRESS_SUBFIELDS: dict[str, Kind] = {
    "id": "int",
    "name": "str",
    "city": "str",
    "state": "str",
    "postal-code": "str",
    "street1": "str",
}

BASE_SPECS: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        name="countries",
        object_name="country",
        definition="Country",
        fields=(_f("id", "int"), _f("code", "str"), _f("name", "str")),
        views={"ref": ("id", "code", "name"), "key": ("id", "code")},
        natural_keys=("code",),
        active_field=None,
    ),
    ResourceSpec(
        name="currencies",
        object_name="currency",
        definition="Currency",
        # R39 Currency has no timestamps; `updated-by` is missing from the spec but
        # present on real payloads (coupa-api.md 9b, user_list.json default-currency).
        fields=(
            _f("id", "int"),
            _f("code", "str"),
            _f("name", "str"),
            _f("symbol", "str"),
            _f("decimals", "int"),
            _f("enabled", "bool"),
            _ref("updated-by", "users"),
        ),
        views={"ref": ("id", "code"), "key": ("id", "code")},
        natural_keys=("code",),
        active_field="enabled",
        name_field="name",
    ),
    ResourceSpec(
        name="uoms",
        object_name="uom",
        definition="Uom",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("code", "str"),
            _f("name", "str"),
            _f("allowable-precision", "int"),
            _f("active", "bool"),
            *_BY,
        ),
        views={"ref": ("code", "id"), "key": ("id", "code")},
        natural_keys=("code",),
    ),
    ResourceSpec(
        name="commodities",
        object_name="commodity",
        definition="Commodity",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("name", "str"),
            # `code` is missing from R39 Commodity but present on real payloads (9b).
            _f("code", "str", default=""),
            _f("category", "str"),
            _f("active", "bool"),
            _ref("parent", "commodities", view="key"),
            *_BY,
        ),
        # Shaped like the commodity nested in item_create.response.json.
        views={
            "ref": (
                "id",
                "name",
                "active",
                "code",
                "created-at",
                "updated-at",
                "created-by",
                "updated-by",
            ),
            "key": ("id", "name"),
        },
        natural_keys=("name",),
    ),
    ResourceSpec(
        name="departments",
        object_name="department",
        definition="Department",
        fields=(_f("id", "int"), *_STAMPS, _f("name", "str"), _f("active", "bool"), *_BY),
        views={"ref": ("id", "name"), "key": ("id", "name")},
        natural_keys=("name",),
    ),
    ResourceSpec(
        name="payment_terms",
        object_name="payment-term",
        definition="PaymentTerm",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("code", "str"),
            _f("description", "str"),
            _f("type", "str", default="DaysAfterNetPaymentTerm"),
            _f("days-for-discount-payment", "int"),
            _f("days-for-net-payment", "int"),
            _f("discount-rate", "float"),
            _f("active", "bool"),
            *_BY,
        ),
        # Shaped like the payment-term nested in supplier_get_6.json.
        views={
            "ref": (
                "code",
                "days-for-discount-payment",
                "days-for-net-payment",
                "discount-rate",
                "id",
            ),
            "key": ("id", "code"),
        },
        natural_keys=("code",),
        name_field="description",
    ),
    ResourceSpec(
        name="shipping_terms",
        object_name="shipping-term",
        definition="ShippingTerm",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("code", "str"),
            _f("description", "str"),
            _f("active", "bool"),
            *_BY,
        ),
        views={"ref": ("id", "code"), "key": ("id", "code")},
        natural_keys=("code",),
        name_field="description",
    ),
    ResourceSpec(
        name="addresses",
        object_name="address",
        definition="Address",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("name", "str"),
            _f("location-code", "str"),
            _f("street1", "str"),
            _f("street2", "str", default=""),
            _f("city", "str"),
            _f("state", "str"),
            _f("state-iso-code", "str"),
            _f("postal-code", "str"),
            _f("attention", "str", default=""),
            _f("active", "bool"),
            _f("business-group-name", "str", default="Everyone"),
            _f("vat-number", "str"),
            _f("local-tax-number", "str"),
            _ref("country", "countries"),
            *_BY,
        ),
        # Shaped like address_list_by_id.json.
        views={
            "ref": (
                "attention",
                "city",
                "id",
                "name",
                "postal-code",
                "state",
                "street1",
                "street2",
                "country",
            ),
            "key": ("id", "name", "location-code"),
        },
        natural_keys=("name", "location-code"),
    ),
    ResourceSpec(
        name="account_types",
        object_name="account-type",
        definition="AccountType",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("name", "str"),
            _f("active", "bool"),
            _ref("currency", "currencies"),
            _f("dynamic-flag", "bool"),
            _f("legal-entity-name", "str"),
            _f("primary-contact", "object", subfields=_CONTACT_SUBFIELDS),
            _ref("primary-address", "addresses"),
            *_BY,
        ),
        views={"ref": ("id", "name"), "key": ("id", "name")},
        natural_keys=("name",),
    ),
    ResourceSpec(
        name="accounts",
        object_name="account",
        definition="Account",
        # Shaped like account_get_13.json / account_get_43.published.json.
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("name", "str"),
            _f("code", "str"),
            _f("active", "bool"),
            *_SEGMENTS,
            _ref("account-type", "account_types"),
        ),
        views={
            "ref": ("id", "name", "code", "active", "account-type"),
            "key": ("id", "code", "account-type"),
        },
        natural_keys=("code",),
    ),
    ResourceSpec(
        name="suppliers",
        object_name="supplier",
        definition="Supplier",
        # Shaped like supplier_get_6.json.
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("name", "str"),
            _f("display-name", "str"),
            _f("number", "str"),
            _f("status", "str"),
            _f("website", "str"),
            _f("po-method", "str"),
            _f("cxml-url", "str"),
            _f("cxml-domain", "str"),
            _f("cxml-identity", "str"),
            _f("cxml-supplier-domain", "str"),
            _f("cxml-supplier-identity", "str"),
            _f("cxml-protocol", "str"),
            # Never a real secret in the sandbox; present because real payloads have it.
            _f("cxml-secret", "str", default=""),
            _f("po-email", "str"),
            _f("account-number", "str", default=""),
            _f("duns", "str"),
            _f("tax-id", "str"),
            _f("coupa-connect-secret", "str", default=""),
            _f("invoice-matching-level", "str"),
            _f("on-hold", "bool", default=False),
            _f("buyer-hold", "bool", default=False),
            _f("one-time-supplier", "bool", default=False),
            _f("primary-contact", "object", subfields=_CONTACT_SUBFIELDS),
            _f("primary-address", "object", subfields=_ADDRESS_SUBFIELDS),
            _ref("payment-term", "payment_terms"),
            _ref("shipping-term", "shipping_terms"),
            *_BY,
        ),
        views={"ref": ("id", "name", "number"), "key": ("id", "name", "number")},
        natural_keys=("name", "number"),
        active_field="status",
    ),
    ResourceSpec(
        name="items",
        object_name="item",
        definition="Item",
        # Shaped like item_create.response.json.
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("name", "str"),
            _f("description", "str"),
            _f("item-number", "str"),
            _f("active", "bool"),
            _f("item-type", "str", default="Item"),
            _f("manufacturer-name", "str"),
            _f("manufacturer-part-number", "str"),
            _f("reorder-alerts", "str", default=""),
            _ref("commodity", "commodities"),
            _ref("uom", "uoms"),
            # `api-user` is missing from R39 Item but present on real payloads (9b).
            _ref("api-user", "users"),
            *_BY,
        ),
        views={"ref": ("id", "name", "item-number"), "key": ("id", "name", "item-number")},
        natural_keys=("name", "item-number"),
    ),
    ResourceSpec(
        name="users",
        object_name="user",
        definition="User",
        # Shaped like user_get_5.json; the spec's `active?`-style keys are sent
        # without `?` as on real payloads (coupa-api.md 5).
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("login", "str"),
            _f("email", "str"),
            _f("purchasing-user", "bool"),
            _f("expense-user", "bool"),
            _f("sourcing-user", "bool", default=False),
            _f("inventory-user", "bool", default=False),
            _f("employee-number", "str"),
            _f("firstname", "str"),
            _f("lastname", "str"),
            _f("fullname", "str"),
            _f("api-user", "bool", default=False),
            _f("active", "bool"),
            _f("salesforce-id", "str"),
            _f("account-security-type", "int", default=0),
            _f("authentication-method", "str", default="saml"),
            _f("sso-identifier", "str"),
            _f("default-locale", "str"),
            _f("business-group-security-type", "int", default=1),
            _f("edit-invoice-on-quick-entry", "bool", default=False),
            _f("avatar-thumb-url", "str"),
            _f("mention-name", "str"),
            _f("phone-work", "object"),
            _f("phone-mobile", "object"),
            _f("roles", "objects"),
            _ref("manager", "users"),
            _ref("default-address", "addresses"),
            _ref("default-account", "accounts"),
            _ref("default-account-type", "account_types"),
            _ref("default-currency", "currencies"),
            _ref("department", "departments"),
            _f("expenses-delegated-to", "objects", default=()),
            _f("can-expense-for", "objects", default=()),
            _f("content-groups", "objects", default=()),
            _f("account-groups", "objects", default=()),
            _f("approval-groups", "objects", default=()),
            _f("working-warehouses", "objects", default=()),
            _f("inventory-organizations", "objects", default=()),
            *_BY,
        ),
        # Nested user snapshots (UserSimple) as in the examples' created-by/updated-by.
        views={
            "ref": (
                "id",
                "login",
                "email",
                "employee-number",
                "firstname",
                "lastname",
                "salesforce-id",
                "avatar-thumb-url",
            ),
            "key": ("id", "login", "email", "employee-number"),
        },
        natural_keys=("login", "email", "employee-number"),
        name_field="lastname",
        custom_in_ref=True,
    ),
)

_EMPTY_LIST: tuple[Any, ...] = ()
_LISTS = (
    _f("asset-tags", "objects", default=_EMPTY_LIST),
    _f("attachments", "objects", default=_EMPTY_LIST),
)

#: Requisitions and purchase orders (coupa-api.md 6 and 7), shaped like
#: requisition_get_235.json and purchase_order_get_2400.json. Requisitions are created
#: by POST (create.py); the rest is read-only.
PURCHASING_SPECS: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        name="requisition_lines",
        object_name="requisition-line",
        definition="RequisitionLine",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("description", "str"),
            _f("line-num", "int"),
            _f("need-by-date", "datetime"),
            _f("order-line-id", "int"),
            # A JSON number on the examples (`"quantity": 2.0`), unlike prices and totals.
            _f("quantity", "float"),
            _f("source-part-num", "str"),
            _f("status", "str"),
            _f("sub-line-num", "int"),
            _f("supp-aux-part-num", "str"),
            _f("total", "decimal"),
            _f("source-type", "str"),
            _f("line-type", "str"),
            _f("unit-price", "decimal"),
            _ref("account", "accounts"),
            _f("account-allocations", "objects", default=_EMPTY_LIST),
            # The sandbox has no contracts; the key is there, null, as on lines without one.
            _f("contract", "object"),
            _ref("commodity", "commodities"),
            _ref("currency", "currencies"),
            _ref("item", "items"),
            _ref("supplier", "suppliers"),
            _ref("uom", "uoms"),
            _ref("payment-term", "payment_terms"),
            _ref("shipping-term", "shipping_terms"),
            *_LISTS,
            *_BY,
        ),
        views={"ref": ("id", "line-num"), "key": ("id", "line-num")},
        natural_keys=("line-num",),
        active_field=None,
        name_field="description",
    ),
    ResourceSpec(
        name="requisitions",
        object_name="requisition-header",
        definition="RequisitionHeader",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("buyer-note", "str"),
            _f("justification", "str"),
            _f("need-by-date", "datetime"),
            _f("reject-reason-comment", "str"),
            _f("req-title", "str"),
            _f("status", "str"),
            _f("submitted-at", "datetime"),
            _f("exported", "bool", default=False),
            _f("ship-to-attention", "str"),
            _f("total", "decimal"),
            _ref("currency", "currencies"),
            _ref("department", "departments"),
            _ref("requested-by", "users"),
            Field("requester", "ref", target="users", embedded_only=True),
            _ref("ship-to-address", "addresses"),
            _f("attachments", "objects", default=_EMPTY_LIST),
            Field("requisition-lines", "refs", target="requisition_lines", view="full"),
            _f("approvals", "objects", default=_EMPTY_LIST),
            *_BY,
        ),
        # A PO's `requisition-header` is {id, requester} (purchase_order_get_2400.json).
        views={"ref": ("id", "requester"), "key": ("id",)},
        natural_keys=("id",),
        active_field=None,
        name_field="req-title",
    ),
    ResourceSpec(
        name="purchase_order_lines",
        object_name="order-line",
        definition="OrderLine",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("accounting-total", "decimal"),
            _f("description", "str"),
            _f("invoiced", "float", default=0.0),
            _f("line-num", "int"),
            _f("need-by-date", "datetime"),
            _f("order-header-id", "int"),
            _f("order-header-number", "str"),
            _f("price", "decimal"),
            _f("quantity", "float"),
            _f("received", "float", default=0.0),
            # R39 types the link a string; no published example shows it (coupa-api.md 7).
            _f("requisition-line-id", "str"),
            _f("source-part-num", "str", default=""),
            _f("status", "str"),
            _f("sub-line-num", "int"),
            _f("supp-aux-part-num", "str", default=""),
            _f("total", "decimal"),
            _f("type", "str"),
            _f("version", "int"),
            _f("tax-id", "str", default=""),
            _ref("account", "accounts"),
            _ref("accounting-total-currency", "currencies"),
            _ref("currency", "currencies"),
            _ref("commodity", "commodities"),
            _ref("item", "items"),
            _ref("uom", "uoms"),
            _ref("supplier", "suppliers"),
            *_LISTS,
            *_BY,
        ),
        views={"ref": ("id", "line-num"), "key": ("id", "line-num")},
        natural_keys=("line-num",),
        active_field=None,
        name_field="description",
    ),
    ResourceSpec(
        name="purchase_orders",
        object_name="order-header",
        definition="OrderHeader",
        fields=(
            _f("id", "int"),
            *_STAMPS,
            _f("acknowledged-flag", "bool", default=False),
            _f("po-number", "str"),
            _f("status", "str"),
            _f("transmission-status", "str"),
            _f("version", "int"),
            _f("internal-revision", "int"),
            _f("exported", "bool", default=False),
            _f("ship-to-attention", "str"),
            _ref("currency", "currencies"),
            _ref("requisition-header", "requisitions"),
            _ref("ship-to-address", "addresses"),
            _ref("ship-to-user", "users"),
            _ref("supplier", "suppliers"),
            _ref("payment-term", "payment_terms"),
            _ref("shipping-term", "shipping_terms"),
            _f("attachments", "objects", default=_EMPTY_LIST),
            Field("order-lines", "refs", target="purchase_order_lines", view="full"),
            *_BY,
        ),
        views={"ref": ("id", "po-number"), "key": ("id", "po-number")},
        natural_keys=("po-number",),
        active_field=None,
        name_field="ship-to-attention",
    ),
)

ALL_SPECS: tuple[ResourceSpec, ...] = BASE_SPECS + PURCHASING_SPECS

#: Every resource the sandbox serves under `/api/<name>`.
RESOURCE_NAMES: tuple[str, ...] = tuple(s.name for s in ALL_SPECS)


@dataclass(frozen=True)
class Registry:
    """The resource specs of one sandbox instance (with its custom fields)."""

    specs: Mapping[str, ResourceSpec]
    custom_fields: Mapping[str, tuple[str, ...]]
    #: Typed custom fields of the requisition header and lines (create checks them).
    requisition_fields: tuple[CustomField, ...] = ()

    @classmethod
    def build(
        cls,
        custom_fields: Mapping[str, Iterable[str]] | None = None,
        requisition_fields: Iterable[CustomField] = (),
    ) -> Registry:
        """Return the registry with the given custom fields declared per resource.

        Custom fields become extra top-level string keys, as on real instances
        (coupa-api.md 9b); user custom fields also appear in nested user snapshots.
        Requisition fields are typed (`coupa.sandbox.customfields`) and served as
        top-level keys of the header or its lines.
        """
        typed = tuple(requisition_fields)
        declared = {k: tuple(v) for k, v in (custom_fields or {}).items()}
        unknown = set(declared) - set(RESOURCE_NAMES)
        if unknown:
            raise ValueError(f"custom fields for unknown resources: {sorted(unknown)}")
        specs: dict[str, ResourceSpec] = {}
        for spec in ALL_SPECS:
            extra = declared.get(spec.name, ())
            fields = tuple(Field(n, "str", custom=True) for n in extra) + tuple(
                f.field() for f in typed if f.resource == spec.name
            )
            names = [f.name for f in fields]
            clash = set(names) & set(spec.field_map())
            if clash or len(set(names)) < len(names):
                raise ValueError(
                    f"custom fields clash with standard or other {spec.name} fields: "
                    f"{sorted(clash or {n for n in names if names.count(n) > 1})}"
                )
            if fields:
                cf = fields
                views = dict(spec.views)
                if spec.custom_in_ref:
                    views["ref"] = views["ref"] + tuple(extra)
                spec = replace(spec, fields=spec.fields + cf, views=views)
            specs[spec.name] = spec
        return cls(specs=specs, custom_fields=declared, requisition_fields=typed)

    def get(self, name: str) -> ResourceSpec | None:
        """Return the spec of a resource, or None if the sandbox lacks it."""
        return self.specs.get(name)

    def dependencies(self, name: str) -> frozenset[str]:
        """Return the resources whose records are embedded (transitively) in `name`'s records."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            for f in self.specs[stack.pop()].fields:
                if f.target and f.target not in seen:
                    seen.add(f.target)
                    stack.append(f.target)
        # A resource embedding itself (users' `manager`) stays in its own set.
        return frozenset(seen)


def parse_custom_fields(text: str) -> dict[str, tuple[str, ...]]:
    """Parse `accounts:cost-center,suppliers:region` into {resource: (field, ...)}."""
    out: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        resource, sep, name = part.partition(":")
        if not sep or not resource or not name:
            raise ValueError(f"custom field {part!r} is not <resource>:<field>")
        out.setdefault(resource.strip(), []).append(name.strip())
    return {k: tuple(v) for k, v in out.items()}

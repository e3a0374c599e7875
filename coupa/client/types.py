"""Plain data the client takes and returns: the connection config and Coupa records.

Records are parsed from Coupa's JSON (coupa-api.md §1, §5, §9b): hyphenated keys
(underscored ones are normalised to hyphens), decimals as strings parsed to `Decimal`,
custom fields as extra keys. Only what the importers store gets a typed attribute;
the whole normalised record stays in `raw`, so unknown keys are kept, never an error.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from coupa.client.exceptions import CoupaProtocolError
from coupa.client.scopes import DEFAULT_SCOPES

__all__ = [
    "Account",
    "AccountType",
    "Address",
    "Commodity",
    "ConnectionConfig",
    "CoupaRecord",
    "Currency",
    "Department",
    "Item",
    "Supplier",
    "SupplierItem",
    "Uom",
    "User",
    "normalize_base_url",
    "normalize_keys",
]


def normalize_base_url(url: str) -> str:
    """Return `https://host[:port]` for a Coupa instance URL.

    Forces https and drops any path, query or fragment: only the bare instance URL
    works (coupa-api.md §1). Plain http is kept only for loopback hosts (the local
    sandbox). Raises ValueError for a URL without a host.
    """
    raw = url.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("The Coupa URL has no host name.")
    scheme = "https"
    if parts.scheme == "http" and _is_loopback(host):
        scheme = "http"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return f"{scheme}://{netloc}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ConnectionConfig:
    """What the client needs to talk to one Coupa connection.

    `key` is stable per connection ("connection-12"): token and token-path cache keys
    derive from it. `base_url` is normalised on creation. `token_path` None means
    auto-detect (`/oauth2/token`, then `/oauth2/access_tokens` on 404; coupa-api.md §2,
    §10). `rate`/`burst` feed the shared per-host limiter (§4). `post_token_pause` is the
    wait after minting a token (Coupa advises 5 s; 0 in tests and against the sandbox).
    """

    key: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_path: str | None = None
    rate: float = 20.0
    burst: int = 10
    post_token_pause: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalize_base_url(self.base_url))
        object.__setattr__(self, "scopes", tuple(self.scopes))
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")

    def __repr__(self) -> str:
        # Spelled out so the secret can never reach a log line or a traceback.
        return (
            f"ConnectionConfig(key={self.key!r}, base_url={self.base_url!r}, "
            f"client_id={self.client_id!r}, client_secret='***', scopes={self.scopes!r}, "
            f"token_path={self.token_path!r}, rate={self.rate!r}, burst={self.burst!r}, "
            f"post_token_pause={self.post_token_pause!r})"
        )

    __str__ = __repr__

    @property
    def host(self) -> str:
        """Return the instance's host (with port): the rate limiter's key."""
        return urlsplit(self.base_url).netloc


# --- records -----------------------------------------------------------------------


def normalize_keys(value: Any) -> Any:
    """Return `value` with every dict key's `_` turned into `-`, recursively."""
    if isinstance(value, Mapping):
        return {str(k).replace("_", "-"): normalize_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_keys(v) for v in value]
    return value


def _int(data: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise CoupaProtocolError(f"record without {key!r}")
        return None
    if isinstance(value, bool):
        raise CoupaProtocolError(f"{key!r} is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CoupaProtocolError(f"{key!r} is not an integer") from None


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _bool(data: Mapping[str, Any], *keys: str, default: bool | None = None) -> bool | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
    return default


def _decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    # Coupa sends decimals as strings ("567.07"), sometimes as JSON numbers; JSON is
    # parsed with parse_float=Decimal, so no float ever gets here (coupa-api.md §9b).
    value = data.get(key)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise CoupaProtocolError(f"{key!r} is not a decimal") from None


def _datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _nested(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class CoupaRecord:
    """Common part of every record: the Coupa id, `updated-at`, and the raw record."""

    resource: ClassVar[str] = ""

    id: int
    updated_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Parse one record; raise CoupaProtocolError when it is not an object with an id."""
        if not isinstance(data, Mapping):
            raise CoupaProtocolError(f"expected a {cls.__name__} object")
        norm = normalize_keys(data)
        fields = cls._parse(norm)
        return cls(
            id=_int(norm, "id", required=True) or 0,
            updated_at=_datetime(norm, "updated-at"),
            raw=norm,
            **fields,
        )

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    @classmethod
    def field_names(cls) -> list[str]:
        """Return the dataclass field names (tests and docs)."""
        return [f.name for f in dataclasses.fields(cls)]


@dataclass(frozen=True)
class AccountType(CoupaRecord):
    """A chart of accounts (`/api/account_types`)."""

    resource: ClassVar[str] = "account_types"

    name: str = ""
    active: bool | None = None
    currency_code: str = ""
    dynamic_flag: bool | None = None
    legal_entity_name: str = ""

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "active": _bool(data, "active"),
            "currency_code": _str(_nested(data, "currency"), "code"),
            "dynamic_flag": _bool(data, "dynamic-flag"),
            "legal_entity_name": _str(data, "legal-entity-name"),
        }


@dataclass(frozen=True)
class Account(CoupaRecord):
    """An account of a chart (`/api/accounts`); `segments` holds segment-1..20."""

    resource: ClassVar[str] = "accounts"

    code: str = ""
    name: str = ""
    active: bool | None = None
    account_type_id: int | None = None
    account_type_name: str = ""
    segments: tuple[str | None, ...] = ()

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        chart = _nested(data, "account-type")
        segments = tuple(
            None if data.get(f"segment-{n}") is None else str(data[f"segment-{n}"])
            for n in range(1, 21)
        )
        while segments and segments[-1] is None:
            segments = segments[:-1]
        return {
            "code": _str(data, "code"),
            "name": _str(data, "name"),
            "active": _bool(data, "active"),
            # Some configurations send `account-type-id` instead of the object (§5).
            "account_type_id": _int(chart, "id") or _int(data, "account-type-id"),
            "account_type_name": _str(chart, "name"),
            "segments": segments,
        }


@dataclass(frozen=True)
class Supplier(CoupaRecord):
    """A supplier (`/api/suppliers`); `status` is active, inactive or draft."""

    resource: ClassVar[str] = "suppliers"

    name: str = ""
    number: str = ""
    display_name: str = ""
    status: str = ""
    po_method: str = ""
    payment_term_code: str = ""
    shipping_term_code: str = ""
    on_hold: bool | None = None
    tax_id: str = ""
    primary_contact_email: str = ""

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "number": _str(data, "number"),
            "display_name": _str(data, "display-name"),
            "status": _str(data, "status"),
            "po_method": _str(data, "po-method"),
            "payment_term_code": _str(_nested(data, "payment-term"), "code"),
            "shipping_term_code": _str(_nested(data, "shipping-term"), "code"),
            "on_hold": _bool(data, "on-hold"),
            "tax_id": _str(data, "tax-id"),
            "primary_contact_email": _str(_nested(data, "primary-contact"), "email"),
        }


@dataclass(frozen=True)
class Item(CoupaRecord):
    """A catalog item (`/api/items`)."""

    resource: ClassVar[str] = "items"

    name: str = ""
    item_number: str = ""
    description: str = ""
    active: bool | None = None
    uom_code: str = ""
    commodity_name: str = ""
    manufacturer_name: str = ""
    manufacturer_part_number: str = ""
    item_type: str = ""

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "item_number": _str(data, "item-number"),
            "description": _str(data, "description"),
            "active": _bool(data, "active"),
            "uom_code": _str(_nested(data, "uom"), "code"),
            "commodity_name": _str(_nested(data, "commodity"), "name"),
            "manufacturer_name": _str(data, "manufacturer-name"),
            "manufacturer_part_number": _str(data, "manufacturer-part-number"),
            "item_type": _str(data, "item-type"),
        }


@dataclass(frozen=True)
class SupplierItem(CoupaRecord):
    """A supplier's price for an item (`/api/supplier_items`)."""

    resource: ClassVar[str] = "supplier_items"

    item_id: int | None = None
    supplier_id: int | None = None
    price: Decimal | None = None
    currency_code: str = ""
    supplier_part_num: str = ""
    preferred: bool | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "item_id": _int(_nested(data, "item"), "id"),
            "supplier_id": _int(_nested(data, "supplier"), "id"),
            "price": _decimal(data, "price"),
            "currency_code": _str(_nested(data, "currency"), "code"),
            "supplier_part_num": _str(data, "supplier-part-num"),
            "preferred": _bool(data, "preferred"),
        }


@dataclass(frozen=True)
class User(CoupaRecord):
    """A Coupa user (`/api/users`)."""

    resource: ClassVar[str] = "users"

    login: str = ""
    email: str = ""
    employee_number: str = ""
    firstname: str = ""
    lastname: str = ""
    active: bool | None = None
    purchasing_user: bool | None = None
    department_name: str = ""
    default_address_id: int | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "login": _str(data, "login"),
            "email": _str(data, "email"),
            "employee_number": _str(data, "employee-number"),
            "firstname": _str(data, "firstname"),
            "lastname": _str(data, "lastname"),
            # The spec shows `active?`; real payloads use `active` (coupa-api.md §5).
            "active": _bool(data, "active", "active?"),
            "purchasing_user": _bool(data, "purchasing-user"),
            "department_name": _str(_nested(data, "department"), "name"),
            "default_address_id": _int(_nested(data, "default-address"), "id"),
        }


@dataclass(frozen=True)
class Address(CoupaRecord):
    """A ship-to address (`/api/addresses`)."""

    resource: ClassVar[str] = "addresses"

    name: str = ""
    location_code: str = ""
    street1: str = ""
    street2: str = ""
    street3: str = ""
    street4: str = ""
    city: str = ""
    state: str = ""
    state_iso_code: str = ""
    postal_code: str = ""
    country_code: str = ""
    attention: str = ""
    active: bool | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "location_code": _str(data, "location-code"),
            "street1": _str(data, "street1"),
            "street2": _str(data, "street2"),
            "street3": _str(data, "street3"),
            "street4": _str(data, "street4"),
            "city": _str(data, "city"),
            "state": _str(data, "state"),
            "state_iso_code": _str(data, "state-iso-code"),
            "postal_code": _str(data, "postal-code"),
            "country_code": _str(_nested(data, "country"), "code"),
            "attention": _str(data, "attention"),
            "active": _bool(data, "active"),
        }


@dataclass(frozen=True)
class Currency(CoupaRecord):
    """A currency (`/api/currencies`); `enabled` reads `enabled` or `enabled-flag` (§10)."""

    resource: ClassVar[str] = "currencies"

    code: str = ""
    name: str = ""
    decimals: int | None = None
    symbol: str = ""
    enabled: bool | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "code": _str(data, "code"),
            "name": _str(data, "name"),
            "decimals": _int(data, "decimals"),
            "symbol": _str(data, "symbol"),
            "enabled": _bool(data, "enabled", "enabled-flag"),
        }


@dataclass(frozen=True)
class Commodity(CoupaRecord):
    """A commodity (`/api/commodities`)."""

    resource: ClassVar[str] = "commodities"

    name: str = ""
    code: str = ""
    category: str = ""
    parent_id: int | None = None
    active: bool | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "code": _str(data, "code"),
            "category": _str(data, "category"),
            "parent_id": _int(data, "parent-id") or _int(_nested(data, "parent"), "id"),
            "active": _bool(data, "active"),
        }


@dataclass(frozen=True)
class Uom(CoupaRecord):
    """A unit of measure (`/api/uoms`)."""

    resource: ClassVar[str] = "uoms"

    code: str = ""
    name: str = ""
    allowable_precision: int | None = None
    active: bool | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "code": _str(data, "code"),
            "name": _str(data, "name"),
            "allowable_precision": _int(data, "allowable-precision"),
            "active": _bool(data, "active"),
        }


@dataclass(frozen=True)
class Department(CoupaRecord):
    """A department (`/api/departments`)."""

    resource: ClassVar[str] = "departments"

    name: str = ""
    active: bool | None = None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": _str(data, "name"), "active": _bool(data, "active")}

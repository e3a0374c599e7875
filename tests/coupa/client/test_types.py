"""Record parsing from Coupa's published JSON, and the connection config."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from coupa.client.base import format_datetime
from coupa.client.exceptions import CoupaProtocolError
from coupa.client.types import (
    Account,
    Address,
    ConnectionConfig,
    Currency,
    Department,
    Item,
    Supplier,
    SupplierItem,
    User,
    normalize_base_url,
)
from tests.coupa.conftest import CLIENT_SECRET
from tests.support import shared_path


def _example(name: str) -> Any:
    return json.loads((shared_path("coupa-examples") / name).read_text(), parse_float=Decimal)


def test_account_from_published_example() -> None:
    """account_get_13.json: code, segments, chart; inactive kept."""
    account = Account.from_json(_example("account_get_13.json"))
    assert account.id == 13
    assert account.code == "SF-Marketing-Indirect"
    assert account.active is False
    assert account.account_type_id == 1
    assert account.account_type_name == "Ace Corporate"
    assert account.segments == ("SF", "Marketing", "Indirect")


def test_supplier_from_published_example() -> None:
    """supplier_get_6.json: nested terms parsed, unknown keys kept in raw only."""
    supplier = Supplier.from_json(_example("supplier_get_6.json")[0])
    assert (supplier.id, supplier.name, supplier.status) == (6, "VWR", "active")
    assert supplier.payment_term_code == "2/10 Net 30"
    assert supplier.updated_at == datetime(
        2009, 7, 1, 11, 59, 33, tzinfo=timezone(timedelta(hours=-7))
    )
    # A float in the payload is a Decimal, never a float.
    assert supplier.raw["payment-term"]["discount-rate"] == Decimal("2.0")


def test_user_custom_fields_are_ignored_but_kept() -> None:
    """user_get_5.json has custom-field-7 etc.: no error, available in raw."""
    user = User.from_json(_example("user_get_5.json"))
    assert (user.login, user.active, user.purchasing_user) == ("tkennedy", True, True)
    assert "custom-field-7" in user.raw
    assert not hasattr(user, "custom_field_7")


def test_item_department_address_from_published_examples() -> None:
    """Nested uom/commodity/country codes are flattened."""
    item = Item.from_json(_example("item_create.response.json"))
    assert (item.uom_code, item.commodity_name, item.item_number) == ("EA", "IT", "ExpAPI1001")
    department = Department.from_json(_example("department_get_1.json"))
    assert (department.name, department.active) == ("Marketing", True)
    address = Address.from_json(_example("address_list_by_id.json")[0])
    assert (address.country_code, address.postal_code) == ("US", "94450")


def test_decimal_strings_become_decimals() -> None:
    """Prices come as strings and are parsed exactly."""
    record = SupplierItem.from_json(
        {"id": 3, "price": "20575.10", "currency": {"code": "USD"}, "item": {"id": 4}}
    )
    assert record.price == Decimal("20575.10")
    assert isinstance(record.price, Decimal)
    with pytest.raises(CoupaProtocolError):
        SupplierItem.from_json({"id": 3, "price": "twelve"})


def test_underscored_keys_are_normalised() -> None:
    """`postal_code` (an old address response) reads like `postal-code`."""
    address = Address.from_json({"id": 1, "postal_code": "94450", "country": {"code": "US"}})
    assert address.postal_code == "94450"
    currency = Currency.from_json({"id": 1, "code": "USD", "enabled_flag": True})
    assert currency.enabled is True


def test_record_without_id_is_a_protocol_error() -> None:
    """An id is the one field a record must have."""
    with pytest.raises(CoupaProtocolError):
        Department.from_json({"name": "x"})
    with pytest.raises(CoupaProtocolError):
        Department.from_json(["not", "an", "object"])


def test_config_repr_masks_the_secret() -> None:
    """repr/str of the config never show the client secret."""
    config = ConnectionConfig(
        key="connection-1",
        base_url="acme.coupahost.com/session/new",
        client_id="c",
        client_secret=CLIENT_SECRET,
    )
    assert CLIENT_SECRET not in repr(config)
    assert CLIENT_SECRET not in str(config)
    assert config.base_url == "https://acme.coupahost.com"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://acme.coupahost.com/", "https://acme.coupahost.com"),
        ("https://Acme.CoupaHost.com/oauth2/token?x=1", "https://acme.coupahost.com"),
        ("http://127.0.0.1:8123/api", "http://127.0.0.1:8123"),
        ("http://localhost:9000", "http://localhost:9000"),
    ],
)
def test_base_url_is_normalised(url: str, expected: str) -> None:
    """https forced (http only for loopback), path dropped (coupa-api.md §1)."""
    assert normalize_base_url(url) == expected


def test_datetimes_are_sent_with_offset() -> None:
    """Full ISO 8601 with offset; naive datetimes are refused."""
    aware = datetime(2024, 5, 1, 8, 30, 15, 999, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(aware) == "2024-05-01T08:30:15+02:00"
    assert format_datetime(datetime(2024, 5, 1, tzinfo=UTC)) == "2024-05-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2024, 5, 1))

"""The sandbox's own table of Coupa's OAuth scopes (coupa-api.md section 2).

Written from Coupa's documentation, never imported from the product: if the product's
scope table is wrong, it disagrees with this one, and the sandbox refuses its calls.

The R39 specs attach no scope to any path (every operation has an empty scope list), so
which scope opens which resource follows the scope descriptions shown on an instance's
`/oauth2/scopes` page, as summarised in section 2.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_CLIENT_SCOPES", "KNOWN_SCOPES", "READ_SCOPES", "WRITE_SCOPES"]

#: The scopes section 2 documents for the resources of a procurement integration:
#: reference data, requisitions, purchase orders and approvals. Coupa has many more
#: (invoices, expenses, inventory, contracts...) that the sandbox never serves.
KNOWN_SCOPES: frozenset[str] = frozenset(
    {
        "core.accounting.read",
        "core.accounting.write",
        "core.approval.read",
        "core.catalog.read",
        "core.catalog.write",
        # Listed by the Core spec without a description, beside core.catalog.write.
        "core.item.write",
        "core.common.read",
        "core.common.write",
        "core.purchase_order.read",
        "core.requisition.read",
        "core.requisition.write",
        "core.supplier.read",
        "core.supplier.write",
        "core.user.read",
        "core.user.write",
    }
)

#: The scope a GET of `/api/<resource>` (list or one record) needs, for every resource the
#: sandbox serves. Writes are in WRITE_SCOPES.
READ_SCOPES: Mapping[str, str] = {
    # The accounting scope covers charts of accounts and their accounts.
    "account_types": "core.accounting.read",
    "accounts": "core.accounting.read",
    "suppliers": "core.supplier.read",
    "items": "core.catalog.read",
    "users": "core.user.read",
    # Shared set-up data; section 2 infers this group from the scope's description.
    "addresses": "core.common.read",
    "commodities": "core.common.read",
    "currencies": "core.common.read",
    "departments": "core.common.read",
    "payment_terms": "core.common.read",
    "shipping_terms": "core.common.read",
    "uoms": "core.common.read",
    # Purchasing documents; section 2 lists one read scope for requisitions and one for
    # purchase orders and their lines. Requisition lines go with their requisitions.
    "requisitions": "core.requisition.read",
    "requisition_lines": "core.requisition.read",
    "purchase_orders": "core.purchase_order.read",
    "purchase_order_lines": "core.purchase_order.read",
    # Not in section 2's table: countries are set-up data of the same kind as currencies.
    "countries": "core.common.read",
}

#: The scope a POST to `/api/<resource>` needs, for the resources the sandbox creates.
WRITE_SCOPES: Mapping[str, str] = {
    "requisitions": "core.requisition.write",
}

#: What the default OAuth client is granted: the scope string section 2 gives for this
#: integration, so a client that asks for exactly that is granted everything.
DEFAULT_CLIENT_SCOPES: tuple[str, ...] = (
    "core.accounting.read",
    "core.supplier.read",
    "core.catalog.read",
    "core.user.read",
    "core.common.read",
    "core.requisition.read",
    "core.requisition.write",
    "core.purchase_order.read",
)

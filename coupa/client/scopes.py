"""The OAuth scopes the integration needs and which resource each one opens.

The mapping is derived from the scope descriptions (coupa-api.md §2); the R39 specs
have no per-path `security`, so `/oauth2/scopes` on an instance is the authority.
"""

from __future__ import annotations

__all__ = ["DEFAULT_SCOPES", "READ_SCOPE_PROBES", "scope_for_path"]

# coupa-api.md §2 "Scope string for this integration", in that order.
DEFAULT_SCOPES: tuple[str, ...] = (
    "core.accounting.read",
    "core.supplier.read",
    "core.catalog.read",
    "core.user.read",
    "core.common.read",
    "core.requisition.read",
    "core.requisition.write",
    "core.purchase_order.read",
)

# One cheap GET per read scope (`limit=1`), used to find missing scopes when the token
# response does not list the granted ones. Write scopes have no harmless probe.
READ_SCOPE_PROBES: dict[str, str] = {
    "core.accounting.read": "/api/account_types",
    "core.supplier.read": "/api/suppliers",
    "core.catalog.read": "/api/items",
    "core.user.read": "/api/users",
    "core.common.read": "/api/currencies",
    "core.requisition.read": "/api/requisitions",
    "core.purchase_order.read": "/api/purchase_orders",
    "core.approval.read": "/api/approvals",
}

_RESOURCE_READ_SCOPE: dict[str, str] = {
    "account_types": "core.accounting.read",
    "accounts": "core.accounting.read",
    "suppliers": "core.supplier.read",
    "items": "core.catalog.read",
    "supplier_items": "core.catalog.read",
    "users": "core.user.read",
    "addresses": "core.common.read",
    "currencies": "core.common.read",
    "commodities": "core.common.read",
    "uoms": "core.common.read",
    "departments": "core.common.read",
    "payment_terms": "core.common.read",
    "shipping_terms": "core.common.read",
    "requisitions": "core.requisition.read",
    "purchase_orders": "core.purchase_order.read",
    "purchase_order_lines": "core.purchase_order.read",
    "approvals": "core.approval.read",
}


def scope_for_path(method: str, path: str) -> str | None:
    """Return the scope a call to `path` needs, or None when unknown."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if len(parts) < 2 or parts[0] != "api":
        return None
    resource = parts[1]
    if method.upper() != "GET":
        if resource == "requisitions":
            return "core.requisition.write"
        return None
    return _RESOURCE_READ_SCOPE.get(resource)

"""The scope table agrees with the sandbox's; missing_scopes(): the three strategies, and
scope errors on normal calls."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest
import respx

from coupa.client import types
from coupa.client.base import CoupaClient
from coupa.client.exceptions import CoupaAuthError, CoupaScopeError
from coupa.client.scopes import DEFAULT_SCOPES, READ_SCOPE_PROBES, scope_for_path
from coupa.reference.registry import RESOURCES
from coupa.sandbox import scopes as sandbox_scopes
from tests.coupa.conftest import TOKEN

pytestmark = pytest.mark.django_db

REFUSED = {"core.supplier.read", "core.purchase_order.read"}


def _refuse_scopes(request: httpx.Request) -> httpx.Response:
    requested = set(parse_qs(request.content.decode())["scope"][0].split())
    if requested & REFUSED:
        return httpx.Response(400, json={"error": "invalid_scope"})
    return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 86399})


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_read_scope_agrees_with_the_sandbox(resource: str) -> None:
    """Each resource the product reads needs, by both tables, the same scope, which it requests."""
    path = RESOURCES[resource].path
    assert path in sandbox_scopes.READ_SCOPES, f"the sandbox does not serve /api/{path}"
    expected = sandbox_scopes.READ_SCOPES[path]
    assert scope_for_path("GET", f"/api/{path}") == expected
    assert scope_for_path("GET", f"/api/{path}/7?fields=id") == expected
    assert expected in DEFAULT_SCOPES


def test_default_scopes_are_known_to_and_granted_by_the_sandbox() -> None:
    """Every scope the integration requests exists and the sandbox's default client has it."""
    assert set(DEFAULT_SCOPES) <= sandbox_scopes.KNOWN_SCOPES
    assert set(DEFAULT_SCOPES) <= set(sandbox_scopes.DEFAULT_CLIENT_SCOPES)


def test_scope_probes_agree_with_the_sandbox() -> None:
    """A probe the sandbox serves needs there the scope it is meant to detect."""
    assert set(READ_SCOPE_PROBES) <= sandbox_scopes.KNOWN_SCOPES
    served = {
        scope: path.removeprefix("/api/")
        for scope, path in READ_SCOPE_PROBES.items()
        if path.removeprefix("/api/") in sandbox_scopes.READ_SCOPES
    }
    assert served  # the reference-data probes at least
    for scope, resource in served.items():
        assert sandbox_scopes.READ_SCOPES[resource] == scope, resource


def test_missing_scopes_from_the_token_scope_field(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """When the token response lists the granted scopes, the rest are missing."""
    granted = [s for s in DEFAULT_SCOPES if s not in REFUSED]
    coupa_mock["token"].respond(
        200, json={"access_token": TOKEN, "expires_in": 86399, "scope": " ".join(granted)}
    )
    assert coupa_client.missing_scopes() == sorted(REFUSED)
    assert coupa_mock["token"].call_count == 1


def test_missing_scopes_by_bisecting_invalid_scope(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """invalid_scope without details: smaller groups of scopes find the refused ones."""
    coupa_mock["token"].mock(side_effect=_refuse_scopes)
    assert coupa_client.missing_scopes() == sorted(REFUSED)
    # Group testing, not one request per scope plus one: 8 scopes, 2 refused.
    assert coupa_mock["token"].call_count <= 11


def test_missing_scopes_by_probing_each_resource(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """No scope field: one limit=1 GET per read scope; 401 or 403 means missing."""
    coupa_mock.get("/api/suppliers").respond(403)
    coupa_mock.get("/api/purchase_orders").respond(401)
    ok = coupa_mock.get(path__regex=r"^/api/(account_types|items|users|currencies|requisitions)$")
    ok.respond(200, json=[])
    assert coupa_client.missing_scopes() == sorted(REFUSED)
    assert ok.call_count == 5
    assert all(c.request.url.params["limit"] == "1" for c in ok.calls)
    # A probe's 401 is taken as the answer: no token refresh per probe.
    assert coupa_mock["token"].call_count == 1


def test_nothing_missing(coupa_client: CoupaClient, coupa_mock: respx.MockRouter) -> None:
    """All scopes granted: an empty list."""
    coupa_mock["token"].respond(
        200, json={"access_token": TOKEN, "expires_in": 1, "scope": " ".join(DEFAULT_SCOPES)}
    )
    assert coupa_client.missing_scopes() == []


def test_403_on_a_call_names_the_missing_scope(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A 403 on /api/suppliers is a CoupaScopeError naming core.supplier.read."""
    coupa_mock.get("/api/suppliers").respond(403)
    with pytest.raises(CoupaScopeError) as info:
        list(coupa_client.iter_records(types.Supplier))
    assert info.value.missing_scopes == ["core.supplier.read"]
    assert info.value.user_message.startswith("These scopes are missing: core.supplier.read.")


def test_invalid_scope_on_a_call_is_explained(
    coupa_client: CoupaClient, coupa_mock: respx.MockRouter
) -> None:
    """A token refused with invalid_scope during a sync names the missing scopes."""
    coupa_mock["token"].mock(side_effect=_refuse_scopes)
    with pytest.raises(CoupaScopeError) as info:
        coupa_client.get("/api/currencies")
    assert isinstance(info.value, CoupaAuthError)
    assert info.value.missing_scopes == sorted(REFUSED)
    assert "core.purchase_order.read, core.supplier.read" in info.value.user_message

"""OAuth2 client credentials, token checks and the three scope modes (coupa-api.md 2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from coupa.sandbox.resources import RESOURCE_NAMES
from coupa.sandbox.scopes import DEFAULT_CLIENT_SCOPES, KNOWN_SCOPES, READ_SCOPES, WRITE_SCOPES
from coupa.sandbox.testing import SandboxHandle, running_sandbox


def _token(sb: SandboxHandle, path: str = "/oauth2/token", **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        **form,
    }
    return httpx.post(f"{sb.base_url}{path}", data=data)


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/access_tokens"])
def test_token_on_both_paths(sandbox: SandboxHandle, path: str) -> None:
    """Both token URLs issue a bearer token with expiry and the granted scopes."""
    resp = _token(sandbox, path, scope=" ".join(DEFAULT_CLIENT_SCOPES))
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert set(body["scope"].split()) == set(DEFAULT_CLIENT_SCOPES)
    assert body["access_token"].count(".") == 2  # JWT-shaped like Coupa's


def test_basic_auth_credentials_accepted(sandbox: SandboxHandle) -> None:
    """Client credentials may come in an HTTP Basic header instead of the form."""
    resp = httpx.post(
        sandbox.token_url,
        data={"grant_type": "client_credentials"},
        auth=(sandbox.client_id, sandbox.client_secret),
    )
    assert resp.status_code == 200


@pytest.mark.parametrize(
    ("client_id", "secret"), [("sandbox-client", "wrong"), ("nobody", "sandbox-secret")]
)
def test_wrong_credentials_get_401(sandbox: SandboxHandle, client_id: str, secret: str) -> None:
    """Unknown clients and wrong secrets get 401 invalid_client."""
    resp = httpx.post(
        sandbox.token_url,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_wrong_grant_type_gets_400(sandbox: SandboxHandle) -> None:
    """Only the client-credentials grant exists."""
    assert _token(sandbox, grant_type="password").status_code == 400


def test_missing_unknown_and_expired_tokens_get_401(
    fresh_sandbox: SandboxHandle, make_api: Any
) -> None:
    """No header, an unknown token and an expired token are all 401."""
    url = f"{fresh_sandbox.base_url}/api/suppliers"
    assert httpx.get(url, headers={"Accept": "application/json"}).status_code == 401
    bad = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_token"
    api = make_api(fresh_sandbox)
    assert api.get("/api/suppliers").status_code == 200
    assert fresh_sandbox.expire_tokens() >= 1
    expired = api.get("/api/suppliers")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error_description"]
    api2 = make_api(fresh_sandbox)
    assert fresh_sandbox.revoke_tokens(fresh_sandbox.client_id) >= 1
    assert api2.get("/api/suppliers").status_code == 401


def test_token_ttl_option_sets_expires_in() -> None:
    """--token-ttl is the expires_in of issued tokens."""
    with running_sandbox(token_ttl=120, accounts=5, suppliers=5, items=5, users=3) as sb:
        assert _token(sb).json()["expires_in"] == 120


def test_scope_table_names_known_scopes_for_every_resource() -> None:
    """Every served resource has a read scope; it and the default client's scopes all exist."""
    assert set(READ_SCOPES) == set(RESOURCE_NAMES)
    assert set(READ_SCOPES.values()) <= KNOWN_SCOPES
    assert set(DEFAULT_CLIENT_SCOPES) <= KNOWN_SCOPES
    assert set(READ_SCOPES.values()) <= set(DEFAULT_CLIENT_SCOPES)
    assert set(WRITE_SCOPES) <= set(RESOURCE_NAMES)
    assert set(WRITE_SCOPES.values()) <= KNOWN_SCOPES


@pytest.mark.parametrize("resource", RESOURCE_NAMES)
def test_each_resource_needs_its_read_scope(
    sandbox: SandboxHandle, make_api: Any, resource: str
) -> None:
    """A token with the resource's read scope reads it; one with every other scope gets 403."""
    needed = READ_SCOPES[resource]
    api = make_api(sandbox, scope=needed)
    assert api.get(f"/api/{resource}", {"limit": 1}).status_code == 200
    api.close()
    others = [s for s in DEFAULT_CLIENT_SCOPES if s != needed]
    api = make_api(sandbox, scope=" ".join(others))
    denied = api.get(f"/api/{resource}/1")
    api.close()
    assert denied.status_code == 403
    assert f'scope="{needed}"' in denied.headers["www-authenticate"]


def test_scope_list_mode(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """In list mode the token lists granted scopes only and calls outside them get 403."""
    resp = _token(fresh_sandbox, scope="core.accounting.read core.approval.read")
    assert resp.json()["scope"] == "core.accounting.read"
    api = make_api(fresh_sandbox, scope="core.accounting.read")
    assert api.get("/api/accounts").status_code == 200
    denied = api.get("/api/suppliers")
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"
    assert 'scope="core.supplier.read"' in denied.headers["www-authenticate"]


def test_scope_no_scope_field_mode(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """In no-scope-field mode the token response omits `scope`; calls outside still get 403."""
    fresh_sandbox.settings(scope_mode="no-scope-field")
    body = _token(fresh_sandbox, scope="core.accounting.read").json()
    assert "scope" not in body
    assert "access_token" in body
    api = make_api(fresh_sandbox, scope="core.accounting.read")
    assert api.get("/api/suppliers").status_code == 403


def test_scope_invalid_scope_mode(fresh_sandbox: SandboxHandle) -> None:
    """In invalid-scope mode asking for an ungranted scope refuses the token request."""
    fresh_sandbox.settings(scope_mode="invalid-scope")
    fresh_sandbox.remove_scope(fresh_sandbox.client_id, "core.supplier.read")
    resp = _token(fresh_sandbox, scope=" ".join(DEFAULT_CLIENT_SCOPES))
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"
    assert "core.supplier.read" in resp.json()["error_description"]
    assert _token(fresh_sandbox, scope="core.accounting.read").status_code == 200


def test_removed_scope_applies_to_existing_tokens(
    fresh_sandbox: SandboxHandle, make_api: Any
) -> None:
    """Removing a scope at runtime turns calls with existing tokens into 403; granting restores them."""
    api = make_api(fresh_sandbox, scope=" ".join(DEFAULT_CLIENT_SCOPES))
    assert api.get("/api/suppliers").status_code == 200
    left = fresh_sandbox.remove_scope(fresh_sandbox.client_id, "core.supplier.read")
    assert "core.supplier.read" not in left
    assert api.get("/api/suppliers").status_code == 403
    assert "core.supplier.read" not in _token(fresh_sandbox).json()["scope"].split()
    fresh_sandbox.grant_scope(fresh_sandbox.client_id, "core.supplier.read")
    assert api.get("/api/suppliers").status_code == 200


def test_config_file_clients(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--config registers several clients with their own scopes."""
    cfg = tmp_path / "clients.json"
    cfg.write_text(
        '{"clients": [{"client_id": "a", "client_secret": "sa", "scopes": ["core.common.read"]},'
        ' {"client_id": "b", "client_secret": "sb", "scopes": "core.supplier.read core.common.read"}]}'
    )
    with running_sandbox("--config", str(cfg), accounts=5, suppliers=5, items=5, users=3) as sb:
        a = httpx.post(sb.token_url, data={"client_id": "a", "client_secret": "sa"}).json()
        assert a["scope"] == "core.common.read"
        b = httpx.post(sb.token_url, data={"client_id": "b", "client_secret": "sb"}).json()
        assert set(b["scope"].split()) == {"core.supplier.read", "core.common.read"}
        headers = {"Authorization": f"Bearer {a['access_token']}", "Accept": "application/json"}
        assert httpx.get(f"{sb.base_url}/api/suppliers", headers=headers).status_code == 403
        assert httpx.get(f"{sb.base_url}/api/uoms", headers=headers).status_code == 200
        stats = sb.stats()
        assert stats["by_client"]["a"] == 2
